"""The run report: report.json first, then every output from one view of it.

- :mod:`~distconform.report.jsondata`: report.json's data from the run's per-test results;
- :mod:`~distconform.report.view`: the one view of that data (scores, colours, cells)
  that every output renders, so that no two outputs compute a score apiece;
- :mod:`~distconform.report.text`, :mod:`~distconform.report.md`,
  :mod:`~distconform.report.html`, :mod:`~distconform.report.badges`: one output each;
- :mod:`~distconform.report.schema`: report.json's JSON Schema and the check against it;
- :mod:`~distconform.report.files`: writes them.

To extend the report (a history of runs, benchmarks), see :mod:`distconform.report.view`.
"""

from __future__ import annotations

from distconform.report.badges import badge, badge_svg
from distconform.report.files import render_all, write
from distconform.report.html import render_html
from distconform.report.jsondata import FORMAT, build
from distconform.report.md import calibration_lines, markdown, timing_line
from distconform.report.schema import ReportError, json_schema, validate
from distconform.report.text import clause_table, text_table
from distconform.report.view import LABELS, SYMBOL, fraction_color, score, scores, slug

__all__ = [
    "FORMAT",
    "LABELS",
    "SYMBOL",
    "ReportError",
    "badge",
    "badge_svg",
    "build",
    "calibration_lines",
    "clause_table",
    "fraction_color",
    "json_schema",
    "markdown",
    "render_all",
    "render_html",
    "score",
    "scores",
    "slug",
    "text_table",
    "timing_line",
    "validate",
    "write",
]

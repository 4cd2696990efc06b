"""report.html: a self-contained compliance matrix.

Rendered from :func:`distconform.report.view.view` of a ``report.json``.
The HTML loads nothing from the network: styles are inline, there is no script.
Elements carry stable classes and ``data-`` attributes so that tests (and
people's scripts) can read outcomes from the page:

- ``<section class="mechanism" data-mechanism="lock">`` per mechanism,
- ``<th class="impl" data-impl="redis">`` per implementation column,
- ``<tr class="clause" data-clause="LOCK-3">`` per clause row,
- ``<td class="outcome" data-impl="redis" data-clause="LOCK-3" data-outcome="fail">``,
  which also carries ``data-duration`` and ``data-duration-max`` (seconds, empty when
  not run) and, when the adapter left a note on the clause, ``<span class="note">``,
- ``<td class="score" data-impl="redis" data-passed="12" data-applicable="15"
  data-must="10/11" data-should="2/4" data-color="#...">``,
- ``<div class="failure" data-impl="redis" data-clause="LOCK-3" data-outcome="fail">``
  (with ``<p class="note">`` for a note),
- ``<nav id="toc">``: the table of contents, links to ids on the page,
- ``<span class="server" data-server="redis" data-origin="private">`` per server
  (``given``, ``private`` or ``testcontainers``),
- ``<section id="calibration">`` with ``<tr class="calibration" data-measure="jitter">``
  (and ``redis``, ``mysql``) whose cells carry ``data-p50``/``data-p99``/``data-max``
  in seconds, and ``data-tolerance`` (the tight tolerance for one round trip),
- ``<tr class="timing" data-impl=... data-clause=... data-tight-ok="true"
  data-loose-ok="true">`` per timing check, in each mechanism's timing table,
- ``<tr class="trend" data-mechanism=... data-impl=... data-runs="3" data-scores="3/4 4/4 4/4">``
  per implementation in ``<section id="trend">`` (:mod:`distconform.report.trend`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2

from distconform.report import bench as _bench
from distconform.report import view as _view
from distconform.report.jinja import environment
from distconform.report.md import ms, seconds
from distconform.report.schema import ReportError, validate

if TYPE_CHECKING:  # not at run time: trend reads stored reports, which the schema checks
    from distconform.report import trend as _trend

__all__ = ["render_html"]


def _calibration(cal: Any) -> dict[str, Any] | None:
    """The calibration table: one row per measure, figures in ms and raw seconds."""
    if not isinstance(cal, dict) or "jitter" not in cal:
        return None
    tol = cal.get("tolerance") or {}
    rows = []
    for key, label, figures, tolerance in [
        ("jitter", "scheduler jitter", cal["jitter"], tol.get("memory")),
        *[(k, f"{k} round trip", f, tol.get(k)) for k, f in (cal.get("rtt") or {}).items()],
    ]:
        rows.append(
            {"key": key, "label": label, "n": figures.get("n"),
             **{q: figures.get(q) for q in ("p50", "p99", "max")},
             **{f"{q}_ms": ms(figures.get(q)) for q in ("p50", "p99", "max")},
             "tolerance": tolerance, "tolerance_ms": ms(tolerance)}
        )  # fmt: skip
    return {
        "measured": cal.get("measured") or "",
        "formula": cal.get("formula") or "",
        "floor_ms": ms(cal.get("floor")),
        "rows": rows,
    }


def render_html(
    data: dict[str, Any], trend: _trend.Section | None = None, bench: dict[str, Any] | None = None
) -> str:
    """The compliance matrix as one self-contained HTML page.

    ``trend``: the :func:`distconform.report.trend.section` to show, if any;
    ``bench``: bench.json's data, drawn as the benchmarks section.
    """
    validate(data)
    v = _view.view(data)
    benchmarks = _bench.section(bench) if bench else None
    template = environment().get_template("report.html.j2")
    try:
        return template.render(
            suite=v.suite,
            run=v.run,
            labels=_view.LABELS,
            ms=ms,
            seconds=seconds,
            mechanisms=v.mechanisms,
            toc=[*v.toc, benchmarks.toc] if benchmarks else v.toc,
            calibration=_calibration(v.calibration),
            trend=trend,
            bench=benchmarks,
        )
    except jinja2.UndefinedError as exc:
        raise ReportError(f"not a distconform report: {exc}") from None

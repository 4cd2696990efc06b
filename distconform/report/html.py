"""report.html: a self-contained compliance matrix.

Rendered from :func:`distconform.report.view.view` of a ``report.json``.
The HTML loads nothing from the network: styles are inline, there is no script.
Elements carry stable classes and ``data-`` attributes so that tests (and
people's scripts) can read outcomes from the page:

- ``<section class="mechanism" data-mechanism="lock">`` per mechanism,
- ``<th class="impl" data-impl="redis">`` per implementation column,
- ``<tr class="clause" data-clause="LOCK-3">`` per clause row,
- ``<td class="outcome" data-impl="redis" data-clause="LOCK-3" data-outcome="fail">``,
- ``<td class="score" data-impl="redis" data-passed="12" data-applicable="15">``,
- ``<div class="failure" data-impl="redis" data-clause="LOCK-3" data-outcome="fail">``,
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

from distconform.errors import UsageError
from distconform.report import view as _view
from distconform.report.build import FORMAT
from distconform.report.markdown import ms

if TYPE_CHECKING:  # not at run time: trend reads stored reports, which this module validates
    from distconform.report import trend as _trend

__all__ = ["ReportError", "render_html", "validate"]


class ReportError(UsageError):
    """The input is not a report this version can render."""


def _need(obj: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(obj, dict):
        raise ReportError(
            f"not a distconform report: {where} is a {type(obj).__name__}, not an object"
        )
    for k in keys:
        if k not in obj:
            raise ReportError(f"not a distconform report: {where} has no {k!r}")


def validate(data: Any) -> None:
    """Check the shape the view and every output rely on."""
    _need(data, ("format", "suite", "run", "implementations", "clauses", "results"), "the file")
    if data["format"] != FORMAT:
        raise ReportError(
            f"report format {data['format']!r} is not {FORMAT}, the one this "
            "distconform renders: re-run `distconform verify` with this version"
        )
    _need(data["suite"], ("version", "commit"), "'suite'")
    _need(data["run"], (), "'run'")
    if not isinstance(data["implementations"], list):
        raise ReportError("not a distconform report: 'implementations' is not a list")
    for i, impl in enumerate(data["implementations"]):
        _need(impl, ("name", "mechanism"), f"implementations[{i}]")
    _need(data["clauses"], (), "'clauses'")
    for mech, clauses in data["clauses"].items():
        if not isinstance(clauses, list):
            raise ReportError(f"not a distconform report: clauses[{mech!r}] is not a list")
        for i, c in enumerate(clauses):
            _need(c, ("id", "level", "requires", "text"), f"clauses[{mech!r}][{i}]")
    if not isinstance(data["results"], list):
        raise ReportError("not a distconform report: 'results' is not a list")
    for i, r in enumerate(data["results"]):
        where = f"results[{i}]"
        _need(r, ("implementation", "mechanism", "clause", "level", "outcome", "message"), where)
        if r["outcome"] not in _view.LABELS:
            known = ", ".join(_view.LABELS)
            raise ReportError(
                f"not a distconform report: {where} has outcome {r['outcome']!r} (known: {known})"
            )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("distconform.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


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


def render_html(data: dict[str, Any], trend: _trend.Section | None = None) -> str:
    """The compliance matrix as one self-contained HTML page.

    ``trend``: the :func:`distconform.report.trend.section` to show, if any.
    """
    validate(data)
    v = _view.view(data)
    template = _environment().get_template("report.html.j2")
    try:
        return template.render(
            suite=v.suite,
            run=v.run,
            labels=_view.LABELS,
            ms=ms,
            mechanisms=v.mechanisms,
            calibration=_calibration(v.calibration),
            trend=trend,
        )
    except jinja2.UndefinedError as exc:
        raise ReportError(f"not a distconform report: {exc}") from None

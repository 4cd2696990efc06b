"""The rendered report: a self-contained HTML compliance matrix, Markdown and badges.

Everything is derived from a ``report.json`` (:func:`distconform.report.build`).
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
  data-loose-ok="true">`` per timing check, in each mechanism's timing table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2

from distconform import report as _report
from distconform.errors import UsageError

__all__ = ["OUTCOMES", "ReportError", "badge", "render_all", "render_html", "slug"]

#: Every outcome a result may have, with the word a cell shows.
OUTCOMES = {
    "pass": "pass",
    "fail": "FAIL",
    "error": "ERROR",
    "skipped": "skip",
    "n/a": "n/a",
    "not-run": "not-run",
}

_SLUG_DROP = re.compile(r"[^a-z0-9._-]+")


class ReportError(UsageError):
    """The input is not a report this version can render."""


def slug(name: str) -> str:
    """A file-name-safe form of an implementation name (``pkg.mod:make`` -> ``pkg.mod-make``)."""
    s = _SLUG_DROP.sub("-", name.lower()).strip("-.")
    return s or "impl"


def _need(obj: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(obj, dict):
        raise ReportError(
            f"not a distconform report: {where} is a {type(obj).__name__}, not an object"
        )
    for k in keys:
        if k not in obj:
            raise ReportError(f"not a distconform report: {where} has no {k!r}")


def _validate(data: Any) -> None:
    """Check the shape this module and :func:`distconform.report.markdown` rely on."""
    _need(data, ("format", "suite", "run", "implementations", "clauses", "results"), "the file")
    if data["format"] != _report.FORMAT:
        raise ReportError(
            f"report format {data['format']!r} is not {_report.FORMAT}, the one this "
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
        if r["outcome"] not in OUTCOMES:
            known = ", ".join(OUTCOMES)
            raise ReportError(
                f"not a distconform report: {where} has outcome {r['outcome']!r} (known: {known})"
            )


def badge(data: dict[str, Any], mechanism: str, implementation: str) -> dict[str, Any]:
    """A shields.io endpoint badge for one implementation of one mechanism.

    brightgreen: every applicable clause passed; red: a MUST clause failed or
    errored; yellow: anything else (a SHOULD failed, a clause was skipped, or
    no clause applied, which proves nothing either way).
    """
    passed, applicable = _report.score(data, mechanism, implementation)
    mine = [
        r for r in data["results"]
        if r["mechanism"] == mechanism and r["implementation"] == implementation
    ]  # fmt: skip
    if applicable and passed == applicable:
        color = "brightgreen"
    elif any(r["level"] == "MUST" and r["outcome"] in ("fail", "error") for r in mine):
        color = "red"
    else:
        color = "yellow"
    return {
        "schemaVersion": 1,
        "label": f"{mechanism} {implementation}",
        "message": f"{passed}/{applicable} clauses",
        "color": color,
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("distconform", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _view(data: dict[str, Any]) -> dict[str, Any]:
    """What the template shows: one entry per mechanism, precomputed."""
    by = {(r["mechanism"], r["implementation"], r["clause"]): r for r in data["results"]}
    mechs = []
    for mech, clauses in data["clauses"].items():
        impls = [i for i in data["implementations"] if i["mechanism"] == mech]
        columns = []
        for impl in impls:
            passed, applicable = _report.score(data, mech, impl["name"])
            columns.append(
                {
                    "name": impl["name"],
                    "package": impl.get("package"),
                    "version": impl.get("package_version"),
                    "capabilities": list(impl.get("capabilities") or []),
                    "description": impl.get("description") or "",
                    "passed": passed,
                    "applicable": applicable,
                    "color": badge(data, mech, impl["name"])["color"],
                }
            )
        rows = []
        for c in clauses:
            cells = []
            for col in columns:
                r = by.get((mech, col["name"], c["id"]))
                outcome = r["outcome"] if r else "not-run"
                cells.append(
                    {
                        "impl": col["name"],
                        "outcome": outcome,
                        "label": OUTCOMES[outcome],
                        "message": (r or {}).get("message") or "",
                        "tests": list((r or {}).get("tests") or []),
                        "anchor": f"failure-{slug(mech)}-{slug(col['name'])}-{c['id']}",
                    }
                )
            rows.append({**c, "cells": cells})
        failures = [
            {
                **r,
                "tests": list(r.get("tests") or []),
                "anchor": f"failure-{slug(mech)}-{slug(r['implementation'])}-{r['clause']}",
            }
            for r in data["results"]
            if r["mechanism"] == mech and r["outcome"] in ("fail", "error")
        ]
        timing = [
            {**t, "implementation": r["implementation"], "clause": r["clause"]}
            for r in data["results"]
            if r["mechanism"] == mech
            for t in r.get("timing") or ()
        ]
        mechs.append(
            {"name": mech, "columns": columns, "rows": rows, "failures": failures,
             "timing": timing}
        )  # fmt: skip
    return {"mechanisms": mechs, "calibration": _calibration_view(data.get("calibration"))}


def _ms(seconds: Any) -> str:
    return "-" if seconds is None else f"{float(seconds) * 1000:.1f} ms"


def _calibration_view(cal: Any) -> dict[str, Any] | None:
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
             **{f"{q}_ms": _ms(figures.get(q)) for q in ("p50", "p99", "max")},
             "tolerance": tolerance, "tolerance_ms": _ms(tolerance)}
        )  # fmt: skip
    return {
        "measured": cal.get("measured") or "",
        "formula": cal.get("formula") or "",
        "floor_ms": _ms(cal.get("floor")),
        "rows": rows,
    }


def render_html(data: dict[str, Any]) -> str:
    """The compliance matrix as one self-contained HTML page."""
    _validate(data)
    template = _environment().get_template("report.html.j2")
    run = data["run"]
    servers = {
        kind: s if isinstance(s, dict) else {"version": s}
        for kind, s in (run.get("servers") or {}).items()
    }
    try:
        return template.render(
            suite=data["suite"],
            run={
                "finished": run.get("finished"),
                "python": run.get("python"),
                "platform": run.get("platform"),
                "servers": {
                    k: {"version": s.get("version"), "origin": s.get("origin")}
                    for k, s in servers.items()
                },
            },
            labels=OUTCOMES,
            ms=_ms,
            **_view(data),
        )
    except jinja2.UndefinedError as exc:
        raise ReportError(f"not a distconform report: {exc}") from None


def render_all(data: dict[str, Any], out: Path) -> list[Path]:
    """Write report.html, report.md and badges/<mech>-<impl>.json into ``out``; return them."""
    _validate(data)
    page = render_html(data)
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "report.html", out / "report.md"]
        written[0].write_text(page, encoding="utf-8")
        written[1].write_text(_report.markdown(data), encoding="utf-8")
        badges = out / "badges"
        badges.mkdir(exist_ok=True)
        taken: set[str] = set()
        for impl in data["implementations"]:
            mech = impl["mechanism"]
            if mech not in data["clauses"]:
                continue
            # Two names may slug alike (`a:b` and `a-b`): number the later one.
            base = f"{slug(mech)}-{slug(impl['name'])}"
            stem, n = base, 1
            while stem in taken:
                n += 1
                stem = f"{base}-{n}"
            taken.add(stem)
            path = badges / f"{stem}.json"
            path.write_text(
                json.dumps(badge(data, mech, impl["name"]), indent=2) + "\n", encoding="utf-8"
            )
            written.append(path)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {out}: {exc}") from None
    return written

"""One view of a report.json that every output renders: text, Markdown, HTML, badges.

Scores, colours, cell labels and anchors are computed here once, so that the
terminal table, report.md, report.html and the badges cannot disagree.

To add a section (a history of runs, benchmarks): give :class:`View` a field
built from the data in :func:`view`, add a :class:`TocEntry` for it to
``View.toc`` and render it in each output that shows it (the HTML template
includes ``section-<id>.html.j2`` partials named by the table of contents).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LABELS", "SYMBOL", "Cell", "Column", "Mechanism", "Row", "View", "score", "view"]

#: The word an outcome shows in an HTML cell and a failure heading.
LABELS = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "skipped": "skip", "n/a": "n/a",
          "not-run": "not-run"}  # fmt: skip
#: The shorter word the text and Markdown tables show.
SYMBOL = {**LABELS, "not-run": "-"}
#: Outcomes that do not count in a score: nothing was asked of the implementation.
UNSCORED = ("n/a", "not-run")
_SLUG_DROP = re.compile(r"[^a-z0-9._-]+")


def score(data: dict[str, Any], mechanism: str, implementation: str) -> tuple[int, int]:
    """(passed, applicable) for one implementation: n/a and not-run do not count."""
    rows = [
        r for r in data["results"]
        if r["mechanism"] == mechanism and r["implementation"] == implementation
    ]  # fmt: skip
    applicable = [r for r in rows if r["outcome"] not in UNSCORED]
    return sum(r["outcome"] == "pass" for r in applicable), len(applicable)


def badge_color(data: dict[str, Any], mechanism: str, implementation: str) -> str:
    """brightgreen: every applicable clause passed; red: a MUST clause failed or
    errored; yellow: anything else (a SHOULD failed, a clause was skipped, or
    no clause applied, which proves nothing either way)."""
    passed, applicable = score(data, mechanism, implementation)
    mine = [
        r for r in data["results"]
        if r["mechanism"] == mechanism and r["implementation"] == implementation
    ]  # fmt: skip
    if applicable and passed == applicable:
        return "brightgreen"
    if any(r["level"] == "MUST" and r["outcome"] in ("fail", "error") for r in mine):
        return "red"
    return "yellow"


def slug(name: str) -> str:
    """A file-name-safe form of an implementation name (``pkg.mod:make`` -> ``pkg.mod-make``)."""
    s = _SLUG_DROP.sub("-", name.lower()).strip("-.")
    return s or "impl"


@dataclass
class Column:
    """One implementation of one mechanism, with its score."""

    name: str
    package: str | None
    version: str | None
    capabilities: list[str]
    description: str
    passed: int
    applicable: int
    color: str


@dataclass
class Cell:
    """One implementation's outcome for one clause."""

    impl: str
    clause: str
    outcome: str
    message: str
    tests: list[str]
    anchor: str

    @property
    def label(self) -> str:
        return LABELS[self.outcome]

    @property
    def symbol(self) -> str:
        return SYMBOL[self.outcome]


@dataclass
class Row:
    """One clause and its cells, one per column."""

    id: str
    level: str
    requires: str | None
    text: str
    cells: list[Cell]


@dataclass
class Mechanism:
    name: str
    columns: list[Column]
    rows: list[Row]
    #: Results that failed or errored, in report order.
    failures: list[dict[str, Any]]
    #: Timing checks, each with its implementation and clause.
    timing: list[dict[str, Any]]


@dataclass
class TocEntry:
    anchor: str
    title: str


@dataclass
class View:
    suite: dict[str, Any]
    run: dict[str, Any]
    calibration: dict[str, Any] | None
    mechanisms: list[Mechanism]
    toc: list[TocEntry] = field(default_factory=list)


def _anchor(mech: str, impl: str, clause: str) -> str:
    return f"failure-{slug(mech)}-{slug(impl)}-{clause}"


def _columns(data: dict[str, Any], mech: str) -> list[Column]:
    columns = []
    for impl in data["implementations"]:
        if impl["mechanism"] != mech:
            continue
        passed, applicable = score(data, mech, impl["name"])
        columns.append(
            Column(
                name=impl["name"],
                package=impl.get("package"),
                version=impl.get("package_version"),
                capabilities=list(impl.get("capabilities") or []),
                description=impl.get("description") or "",
                passed=passed,
                applicable=applicable,
                color=badge_color(data, mech, impl["name"]),
            )
        )
    return columns


def _mechanism(data: dict[str, Any], mech: str, clauses: list[dict[str, Any]]) -> Mechanism:
    by = {(r["implementation"], r["clause"]): r for r in data["results"]
          if r["mechanism"] == mech}  # fmt: skip
    columns = _columns(data, mech)
    rows = []
    for c in clauses:
        cells = []
        for col in columns:
            r = by.get((col.name, c["id"])) or {}
            cells.append(
                Cell(
                    impl=col.name,
                    clause=c["id"],
                    outcome=r.get("outcome", "not-run"),
                    message=r.get("message") or "",
                    tests=list(r.get("tests") or []),
                    anchor=_anchor(mech, col.name, c["id"]),
                )
            )
        rows.append(Row(c["id"], c["level"], c["requires"], c["text"], cells))
    failures = [
        {**r, "tests": list(r.get("tests") or []),
         "anchor": _anchor(mech, r["implementation"], r["clause"])}
        for r in data["results"]
        if r["mechanism"] == mech and r["outcome"] in ("fail", "error")
    ]  # fmt: skip
    timing = [
        {**t, "implementation": r["implementation"], "clause": r["clause"]}
        for r in data["results"]
        if r["mechanism"] == mech
        for t in r.get("timing") or ()
    ]
    return Mechanism(mech, columns, rows, failures, timing)


def _run(data: dict[str, Any]) -> dict[str, Any]:
    run = data["run"]
    servers = {
        kind: s if isinstance(s, dict) else {"version": s}
        for kind, s in (run.get("servers") or {}).items()
    }
    return {
        "finished": run.get("finished"),
        "python": run.get("python"),
        "platform": run.get("platform"),
        "servers": {
            k: {"version": s.get("version"), "origin": s.get("origin")} for k, s in servers.items()
        },
    }


def view(data: dict[str, Any]) -> View:
    """The view of a validated report.json."""
    mechs = [_mechanism(data, m, cs) for m, cs in data["clauses"].items()]
    return View(
        suite=data["suite"],
        run=_run(data),
        calibration=data.get("calibration"),
        mechanisms=mechs,
    )

"""One view of a report.json that every output renders: text, Markdown, HTML, badges.

Scores, colours, provenance words, cell labels and anchors are computed here
once, so that the terminal table, report.md, report.html and the badges cannot
disagree.

To add a section (a history of runs, benchmarks): put its data in report.json
(:mod:`~distconform.report.jsondata`, and its shape in report.schema.json), give
:class:`View` a field built from it in :func:`view`, add a :class:`TocEntry`
for it in :func:`_toc`, and render that field in the outputs that show it
(report.html: a ``<section id="...">`` whose id is the entry's anchor, which
the test of the table of contents then checks; report.md: a function in
:mod:`~distconform.report.md`). Data from outside one run (earlier reports,
benchmark results) should reach :func:`view` as an argument that its caller
(:func:`distconform.report.files.render_all`) reads, so that the view stays a
function of its inputs and every output shows the same thing.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LABELS",
    "SYMBOL",
    "Cell",
    "Column",
    "Mechanism",
    "Row",
    "Score",
    "TocEntry",
    "View",
    "fraction_color",
    "score",
    "scores",
    "slug",
    "view",
]

#: The word an outcome shows in an HTML cell and a failure heading.
LABELS = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "skipped": "skip", "n/a": "n/a",
          "not-run": "not-run"}  # fmt: skip
#: The shorter word the text and Markdown tables show.
SYMBOL = {**LABELS, "not-run": "-"}
#: Outcomes that do not count in a score: nothing was asked of the implementation.
UNSCORED = ("n/a", "not-run")
#: Where a server came from (report.json's ``origin``), in words.
ORIGINS = {
    "given": "given: a URL passed in",
    "private": "started: a private server",
    "testcontainers": "started: a container",
}
#: Colour of a score nothing was asked for (no applicable clause proves nothing).
NOTHING_PROVEN = "#8c959f"
_SLUG_DROP = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class Score:
    """Clauses passed out of those that apply (n/a and not-run do not count)."""

    passed: int
    applicable: int

    def __str__(self) -> str:
        return f"{self.passed}/{self.applicable}"

    @property
    def color(self) -> str:
        return fraction_color(self.passed, self.applicable)

    def to_json(self) -> dict[str, int]:
        return {"passed": self.passed, "applicable": self.applicable}


def fraction_color(passed: int, applicable: int) -> str:
    """A colour graded by the fraction passed: red at none, through orange and
    yellow, green only when every applicable clause passed; grey when none applied.

    12/13 and 3/13 are far apart on the scale, so a nearly conforming
    implementation does not look like a broken one.
    """
    if applicable == 0:
        return NOTHING_PROVEN
    fraction = passed / applicable
    # Hue 0 (red) to 55 (yellow) below a full pass, a jump to 130 (green) at it.
    hue = 130 if passed == applicable else 55 * fraction
    r, g, b = colorsys.hls_to_rgb(hue / 360, 0.40, 0.80)
    return "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in (r, g, b)))


def _rows(data: dict[str, Any], mechanism: str, implementation: str) -> list[dict[str, Any]]:
    return [
        r for r in data["results"]
        if r["mechanism"] == mechanism and r["implementation"] == implementation
    ]  # fmt: skip


def _score(rows: list[dict[str, Any]]) -> Score:
    applicable = [r for r in rows if r["outcome"] not in UNSCORED]
    return Score(sum(r["outcome"] == "pass" for r in applicable), len(applicable))


def score(data: dict[str, Any], mechanism: str, implementation: str) -> tuple[int, int]:
    """(passed, applicable) for one implementation: n/a and not-run do not count."""
    s = _score(_rows(data, mechanism, implementation))
    return s.passed, s.applicable


def scores(data: dict[str, Any], mechanism: str, implementation: str) -> dict[str, Score]:
    """The score over every clause (``all``) and over the MUST and SHOULD clauses apart."""
    rows = _rows(data, mechanism, implementation)
    return {
        "all": _score(rows),
        "MUST": _score([r for r in rows if r["level"] == "MUST"]),
        "SHOULD": _score([r for r in rows if r["level"] == "SHOULD"]),
    }


def slug(name: str) -> str:
    """A file-name-safe form of an implementation name (``pkg.mod:make`` -> ``pkg.mod-make``)."""
    s = _SLUG_DROP.sub("-", name.lower()).strip("-.")
    return s or "impl"


def provenance(impl: dict[str, Any]) -> str:
    """Whose code was tested, in words: the package and version, a reference's driver."""
    code = impl.get("code") or {}
    package, version = impl.get("package"), impl.get("package_version")
    dist, dist_version = code.get("distribution"), code.get("version")
    if code.get("reference") and dist:
        words = f"{dist} {dist_version or '(version unknown)'} (reference)"
        if package and package != dist:
            words += f", driver {package} {version or '(version unknown)'}"
        return words
    if package:
        return f"{package} {version or '(version unknown)'}"
    if dist:
        return f"{dist} {dist_version or '(version unknown)'}"
    return "package unknown"


@dataclass
class Column:
    """One implementation of one mechanism, with its scores."""

    name: str
    provenance: str
    capabilities: list[str]
    description: str
    score: Score
    must: Score
    should: Score

    @property
    def passed(self) -> int:
        return self.score.passed

    @property
    def applicable(self) -> int:
        return self.score.applicable

    @property
    def color(self) -> str:
        return self.score.color


@dataclass
class Cell:
    """One implementation's outcome for one clause."""

    impl: str
    clause: str
    outcome: str
    message: str
    tests: list[str]
    anchor: str
    #: The adapter's note on this clause (:attr:`distconform.api.Implementation.notes`).
    note: str
    #: Seconds: the clause's tests together, and the slowest of them.
    duration: float | None
    duration_max: float | None

    @property
    def label(self) -> str:
        return LABELS[self.outcome]

    @property
    def symbol(self) -> str:
        """The text-table word, with a * when the adapter left a note on the clause."""
        return SYMBOL[self.outcome] + ("*" if self.note else "")


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
    #: Results that failed or errored, in report order, each with its note and anchor.
    failures: list[dict[str, Any]]
    #: Timing checks, each with its implementation and clause.
    timing: list[dict[str, Any]]

    @property
    def anchor(self) -> str:
        return f"mechanism-{slug(self.name)}"

    @property
    def notes(self) -> list[Cell]:
        """Cells with an adapter's note, row by row."""
        return [c for r in self.rows for c in r.cells if c.note]


@dataclass
class TocEntry:
    """A table-of-contents line: a link to ``#anchor``; ``children`` nest under it."""

    anchor: str
    title: str
    children: list[TocEntry] = field(default_factory=list)


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
        s = scores(data, mech, impl["name"])
        columns.append(
            Column(
                name=impl["name"],
                provenance=provenance(impl),
                capabilities=list(impl.get("capabilities") or []),
                description=impl.get("description") or "",
                score=s["all"],
                must=s["MUST"],
                should=s["SHOULD"],
            )
        )
    return columns


def _cell(mech: str, impl: str, clause: str, r: dict[str, Any]) -> Cell:
    return Cell(
        impl=impl,
        clause=clause,
        outcome=r.get("outcome", "not-run"),
        message=r.get("message") or "",
        tests=list(r.get("tests") or []),
        anchor=_anchor(mech, impl, clause),
        note=r.get("note") or "",
        duration=r.get("duration"),
        duration_max=r.get("duration_max"),
    )


def _mechanism(data: dict[str, Any], mech: str, clauses: list[dict[str, Any]]) -> Mechanism:
    by = {(r["implementation"], r["clause"]): r for r in data["results"]
          if r["mechanism"] == mech}  # fmt: skip
    columns = _columns(data, mech)
    rows = [
        Row(c["id"], c["level"], c["requires"], c["text"],
            [_cell(mech, col.name, c["id"], by.get((col.name, c["id"])) or {}) for col in columns])
        for c in clauses
    ]  # fmt: skip
    failures = [
        {**r, "tests": list(r.get("tests") or []), "note": r.get("note") or "",
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
            k: {
                "version": s.get("version"),
                "origin": s.get("origin"),
                "origin_words": ORIGINS.get(s.get("origin") or "", s.get("origin") or ""),
            }
            for k, s in servers.items()
        },
    }


def _suite(data: dict[str, Any]) -> dict[str, Any]:
    """The suite's name, version and commit; without a commit, why none is known."""
    suite = data["suite"]
    commit = suite.get("commit")
    if commit:
        commit_words = commit
    else:
        commit_words = f"none known (installed from a package: version {suite.get('version')})"
    return {**suite, "commit_words": commit_words}


def _toc(mechs: list[Mechanism]) -> list[TocEntry]:
    entries = [TocEntry("run", "Run"), TocEntry("calibration", "Timing calibration")]
    for m in mechs:
        children = [TocEntry(f"{m.anchor}-failures", "Failures and errors")]
        if m.timing:
            children.append(TocEntry(f"{m.anchor}-timing", "Timing verdicts"))
        entries.append(TocEntry(m.anchor, m.name, children))
    return entries


def view(data: dict[str, Any]) -> View:
    """The view of a validated report.json."""
    mechs = [_mechanism(data, m, cs) for m, cs in data["clauses"].items()]
    return View(
        suite=_suite(data),
        run=_run(data),
        calibration=data.get("calibration"),
        mechanisms=mechs,
        toc=_toc(mechs),
    )

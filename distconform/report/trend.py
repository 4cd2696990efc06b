"""report.html's trend: each implementation's score over the runs stored in history/.

One report says where an implementation stands; the stored runs
(:mod:`distconform.report.history`) say whether it got there by getting better
or worse. The page shows, per implementation of the rendered report, an inline
SVG sparkline of the fraction of applicable clauses passed in each stored run
among the newest :data:`MAX_RUNS` that ran it, oldest first (no script, no
external asset). A dot marks each run
whose score fell (red) or rose (green) from the run before, and the rendered
report's own run (ringed); hovering a dot names the run.

The rendered report is one of those runs when its content is (the same
:func:`~distconform.report.history.run_id`); otherwise (a report from elsewhere,
or an old one) it is drawn after them. Stored files that are not readable
reports are left out and named on the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distconform.errors import UsageError
from distconform.report import history as _history
from distconform.report.view import score

__all__ = ["MAX_RUNS", "Point", "Section", "Trend", "section"]

#: Stored runs read, the newest: 40 runs 8 px apart (dots of 5 px stay apart)
#: make a 320 px line that fits a table cell, and reading 40 reports of every
#: reference (400 kB each) took 0.5 s on a loaded 2-core machine, however long
#: history/ grows; older runs stay there for ``diff``.
MAX_RUNS = 40
STEP = 8
HEIGHT = 28
#: Room around the line for the dots' radius.
PAD = 4
DOT = {"down": "#cf222e", "up": "#2da44e", "same": "#57606a", "none": "#8c959f"}


@dataclass(frozen=True)
class Point:
    """One run of one implementation."""

    run: str
    passed: int
    applicable: int
    #: "up" or "down" from the run before, "same" (or the first), "none" if nothing applied.
    change: str
    current: bool
    x: float
    #: None when no clause applied: a gap in the line.
    y: float | None

    @property
    def score(self) -> str:
        return f"{self.passed}/{self.applicable}"

    @property
    def color(self) -> str:
        return DOT[self.change]

    @property
    def marked(self) -> bool:
        """Drawn as a dot: a change, a run with nothing applicable, or this report's run."""
        return self.change != "same" or self.current


@dataclass
class Trend:
    mechanism: str
    implementation: str
    points: list[Point]

    @property
    def width(self) -> int:
        return 2 * PAD + STEP * max(len(self.points) - 1, 0)

    @property
    def height(self) -> int:
        return HEIGHT

    @property
    def top(self) -> int:
        """The y of a full score, for the guide line."""
        return PAD

    @property
    def path(self) -> str:
        """SVG path data through the points, broken where nothing applied."""
        parts, pen_down = [], False
        for p in self.points:
            if p.y is None:
                pen_down = False
                continue
            parts.append(f"{'L' if pen_down else 'M'}{p.x:g} {p.y:g}")
            pen_down = True
        return " ".join(parts)

    @property
    def current(self) -> str:
        """This report's score (its run is always drawn)."""
        return next(p.score for p in self.points if p.current)

    @property
    def scores(self) -> str:
        """Every drawn run's score, oldest first, for ``data-scores``."""
        return " ".join(p.score for p in self.points)


@dataclass
class Section:
    """What report.html's trend section shows."""

    trends: list[Trend]
    #: Stored files left out: not readable as reports.
    unreadable: list[str] = field(default_factory=list)
    max_runs: int = MAX_RUNS


def _runs(
    data: dict[str, Any], history: Path
) -> tuple[list[tuple[str, dict[str, Any]]], list[str], int]:
    """(name, report) per run read, oldest first; the unreadable names; this report's index."""
    runs, unreadable = [], []
    for path in _history.stored(history)[-MAX_RUNS:]:
        try:
            runs.append((path.stem, _history.load(path)))
        except UsageError:
            unreadable.append(path.name)
    mine = _history.run_id(data)
    # The newest match: two runs can store the same content (nothing timed differed).
    same = [i for i, (_, d) in enumerate(runs) if _history.run_id(d) == mine]
    if not same:
        runs.append(("this report", data))
    return runs, unreadable, same[-1] if same else len(runs) - 1


def _change(before: tuple[int, int] | None, now: tuple[int, int]) -> str:
    if now[1] == 0:
        return "none"
    if before is None or before[1] == 0:
        return "same"
    was, is_ = before[0] / before[1], now[0] / now[1]
    return "up" if is_ > was else "down" if is_ < was else "same"


def _trend(mech: str, impl: str, runs: list[tuple[str, dict[str, Any]]], current: int) -> Trend:
    mine = [
        (i, name, score(d, mech, impl))
        for i, (name, d) in enumerate(runs)
        if any(x["mechanism"] == mech and x["name"] == impl for x in d["implementations"])
    ]
    points, before = [], None
    for n, (i, name, (passed, applicable)) in enumerate(mine):
        y = None if applicable == 0 else PAD + (1 - passed / applicable) * (HEIGHT - 2 * PAD)
        change = _change(before, (passed, applicable))
        points.append(Point(name, passed, applicable, change, i == current, PAD + n * STEP, y))
        before = (passed, applicable)
    return Trend(mech, impl, points)


def section(data: dict[str, Any], history: Path) -> Section | None:
    """The trend of every implementation of the (validated) report ``data``;
    None when ``history`` holds no stored run (a lone point shows no trend)."""
    if not _history.stored(history):
        return None
    runs, unreadable, current = _runs(data, history)
    trends = [
        _trend(i["mechanism"], i["name"], runs, current)
        for i in data["implementations"]
        if i["mechanism"] in data["clauses"]
    ]
    return Section(trends, unreadable)

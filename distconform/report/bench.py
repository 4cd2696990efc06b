"""The report's benchmarks section: bench.json's ratios to the floor, as bars.

``distconform bench`` writes bench.json beside report.json; ``distconform
report`` reads it from there (:func:`load`) and report.html shows, per
mechanism and workload, each implementation's ``x_floor`` as a horizontal bar
in an inline SVG (``templates/bench.html.j2``: no script, nothing fetched),
with the figures in a table beneath.

Why a log scale: the ratios span five decades in one workload (an in-process
cache at 0.5 x the floor, a Redis-backed one at 0.0005 x), and on a linear
axis every server-backed bar would be zero pixels long. The axis runs from the
decade under the smallest ratio to 1, the floor, at the right edge: nothing
can pass it, so a bar that reaches it is as fast as the bare dict operation.

Only here the geometry is computed (pixel lengths, tick positions), so the
template only places what it is given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distconform.bench import FILENAME, FORMAT
from distconform.errors import UsageError
from distconform.report.view import TocEntry, slug

__all__ = ["BenchSection", "load", "section"]


#: Plot geometry, in pixels: the names' column, the bars' span, one row.
LABEL_W, BAR_W, VALUE_W = 190, 320, 90
ROW_H, BAR_H, AXIS_H = 20, 13, 24
#: The axis starts at least one decade under the floor.
MIN_DECADES = 1


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Bar:
    """One implementation on one workload: a bar when it has a ratio, else a word."""

    implementation: str
    y: float
    x_floor: float | None
    length: float | None
    value: str
    result: dict[str, Any]


@dataclass(frozen=True)
class Plot:
    workload: str
    what: str
    floor_ops_per_s: float | None
    bars: list[Bar]
    ticks: list[Tick]
    width: int
    height: int
    label_w: int
    bar_h: int
    axis_y: float


@dataclass(frozen=True)
class MechanismBench:
    name: str
    anchor: str
    created: str
    machine: str
    floor: str
    implementations: list[dict[str, Any]]
    plots: list[Plot]


@dataclass(frozen=True)
class BenchSection:
    mechanisms: list[MechanismBench]
    toc: TocEntry


def load(folder: Path) -> dict[str, Any] | None:
    """bench.json in ``folder``, or None when there is none; a broken one is a one-line error."""
    path = folder / FILENAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path} ({exc}): run `distconform bench` again") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(
            f"{path} is not a distconform bench file (format {FORMAT}): "
            "run `distconform bench` again"
        )
    return data


def _value(ratio: float | None, result: dict[str, Any]) -> str:
    """The words beside a bar: its ratio (flagged above 1, a floor bug), or why there is none."""
    if ratio:
        return f"{ratio:.3g} x" + (" (floor beaten)" if ratio > 1 else "")
    return _word(result)


def _word(result: dict[str, Any]) -> str:
    if "error" in result:
        return "ERROR"
    if "skipped" in result:
        return "n/a"
    return "no ratio"


def _plot(workload: dict[str, Any], implementations: list[dict[str, Any]]) -> Plot:
    results = [(i["name"], i["results"].get(workload["name"], {})) for i in implementations]
    ratios = [r["x_floor"] for _, r in results if r.get("x_floor")]
    lo = min([-MIN_DECADES, *(math.floor(math.log10(x)) for x in ratios)])

    def x_of(ratio: float) -> float:
        return round(BAR_W * (math.log10(min(ratio, 1.0)) - lo) / -lo, 1)

    bars = []
    for k, (name, result) in enumerate(results):
        ratio = result.get("x_floor")
        bars.append(
            Bar(
                implementation=name,
                y=AXIS_H + k * ROW_H,
                x_floor=ratio,
                length=x_of(ratio) if ratio else None,
                value=_value(ratio, result),
                result=result,
            )
        )
    ticks = [Tick(x_of(10.0**d), f"{10.0**d:g}" if d else "1 = floor") for d in range(lo, 1)]
    return Plot(
        workload=workload["name"],
        what=workload.get("what", ""),
        floor_ops_per_s=(workload.get("floor") or {}).get("ops_per_s"),
        bars=bars,
        ticks=ticks,
        width=LABEL_W + BAR_W + VALUE_W,
        height=AXIS_H + len(bars) * ROW_H + 4,
        label_w=LABEL_W,
        bar_h=BAR_H,
        axis_y=AXIS_H - 6,
    )


def _mechanism(entry: dict[str, Any]) -> MechanismBench:
    machine = entry.get("machine") or {}
    impls = entry.get("implementations") or []
    return MechanismBench(
        name=entry["mechanism"],
        anchor=f"bench-{slug(entry['mechanism'])}",
        created=entry.get("created", ""),
        machine=f"{machine.get('platform', '?')}, {machine.get('cpus', '?')} CPUs, "
        f"Python {entry.get('python', '?')}",
        floor=entry.get("floor", ""),
        implementations=impls,
        plots=[_plot(w, impls) for w in entry.get("workloads") or []],
    )


def section(data: dict[str, Any]) -> BenchSection:
    """What the template shows of a bench.json, mechanisms in name order."""
    try:
        mechs = [_mechanism(e) for _, e in sorted((data.get("mechanisms") or {}).items())]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UsageError(
            f"bench.json does not have the shape distconform bench writes ({exc!r}): "
            "run `distconform bench` again"
        ) from None
    toc = TocEntry("benchmarks", "Benchmarks", [TocEntry(m.anchor, m.name) for m in mechs])
    return BenchSection(mechs, toc)

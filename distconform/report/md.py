"""report.md: the clause matrix, failures and timing verdicts as Markdown."""

from __future__ import annotations

from typing import Any

from distconform.report import view as _view
from distconform.report.text import grid, note_lines

__all__ = ["calibration_lines", "markdown", "ms", "seconds", "timing_line"]


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds with one decimal, ``-`` for none."""
    return "-" if seconds is None else f"{float(seconds) * 1000:.1f} ms"


def calibration_lines(cal: dict[str, Any] | None) -> list[str]:
    """The calibrated figures and the formula, as Markdown lines."""
    if not cal:
        return ["No timing check ran, so nothing was calibrated.", ""]
    j = cal["jitter"]
    lines = [
        f"Measured {cal.get('measured') or '?'}; formula: `{cal['formula']}`.",
        "",
        "| measure | n | p50 | p99 | max | tight tolerance (1 round trip) |",
        "|---|---|---|---|---|---|",
        f"| scheduler jitter | {j['n']} | {ms(j['p50'])} | {ms(j['p99'])} | {ms(j['max'])} "
        f"| memory: {ms(cal['tolerance'].get('memory'))} |",
    ]
    for kind, f in cal["rtt"].items():
        lines.append(
            f"| {kind} round trip | {f['n']} | {ms(f['p50'])} | {ms(f['p99'])} "
            f"| {ms(f['max'])} | {kind}: {ms(cal['tolerance'].get(kind))} |"
        )
    floor, switch = ms(cal["floor"]), ms(cal["switch_interval"])
    lines += ["", f"Floor: {floor} (switch interval {switch}).", ""]
    return lines


def timing_line(r: dict[str, Any], t: dict[str, Any]) -> str:
    """One timing check of one clause result, with both verdicts."""

    def verdict(ok: bool) -> str:
        return "ok" if ok else "FAIL"

    bounds = []
    if t.get("at_least") is not None:
        bounds.append(f"min {ms(t.get('min'))} >= {ms(t['at_least'])} "
                      f"{verdict(t.get('at_least_ok', True))}")  # fmt: skip
    if t.get("at_most") is not None:
        tight = t["tight"] if t.get("rechecked_tight") is None else max(
            t["tight"], t["rechecked_tight"])  # fmt: skip
        bounds.append(f"tight: median {ms(t['median'])} <= {ms(t['at_most'])} + "
                      f"{ms(tight)} {verdict(t['tight_ok'])}")  # fmt: skip
        bounds.append(f"loose: max {ms(t['max'])} <= {ms(t['at_most'])} + "
                      f"{ms(t['loose'])} {verdict(t['loose_ok'])}")  # fmt: skip
    return (f"- {r['implementation']} {r['clause']} — {t['what']} (n={t['n']}): "
            + "; ".join(bounds))  # fmt: skip


def _mechanism_lines(mech: _view.Mechanism) -> list[str]:
    header, rows = grid(mech)
    lines = [f"## {mech.name}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]  # fmt: skip
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines.append("")
    if mech.notes:
        lines += ["Adapters' notes:", "", *(f"- {line[2:]}" for line in note_lines(mech)), ""]
    failures = [r for r in mech.failures if r["message"]]
    if failures:
        lines += ["### Failures", ""]
        for r in failures:
            msg = r["message"].replace("\n", " ")[:600]
            note = f" Adapter's note: {r['note']}" if r["note"] else ""
            lines.append(f"- **{r['implementation']} {r['clause']}** ({r['outcome']}): {msg}{note}")
        lines.append("")
    lines += _duration_lines(mech)
    if mech.timing:
        lines += ["### Timing verdicts", ""]
        lines += [timing_line(t, t) for t in mech.timing]
        lines.append("")
    return lines


#: How many of a mechanism's slowest clauses report.md lists.
SLOWEST = 5


def _duration_lines(mech: _view.Mechanism) -> list[str]:
    """The slowest clauses: the tests' seconds together and the slowest test's."""
    timed = sorted(
        (c for r in mech.rows for c in r.cells if c.duration),
        key=lambda c: c.duration or 0.0,
        reverse=True,
    )[:SLOWEST]
    if not timed:
        return []
    lines = [
        "### Slowest clauses",
        "",
        "| implementation | clause | tests together | slowest test |",
        "|---|---|---|---|",
    ]
    lines += [f"| {c.impl} | {c.clause} | {seconds(c.duration)} | {seconds(c.duration_max)} |"
              for c in timed]  # fmt: skip
    return [*lines, ""]


def seconds(value: float | None) -> str:
    """Seconds with two decimals, ``-`` for none."""
    return "-" if value is None else f"{value:.2f} s"


def _run_lines(v: _view.View) -> list[str]:
    """Where the run happened: Python, servers and where each came from, implementations."""
    run = v.run
    lines = [f"Python {run['python']} on {run['platform']}; finished {run['finished']}.", ""]
    for kind, s in sorted(run["servers"].items()):
        lines.append(f"- {kind} {s['version']} ({s['origin_words'] or 'origin unknown'})")
    for mech in v.mechanisms:
        lines += [f"- {mech.name} {c.name}: {c.provenance}" for c in mech.columns]
    return [*lines, ""]


def markdown(data: dict[str, Any]) -> str:
    v = _view.view(data)
    commit = (v.suite["commit"] or "")[:12] or v.suite["commit_words"]
    lines = [f"# distconform report ({v.suite['version']}, commit {commit})", "", *_run_lines(v)]
    if v.calibration:
        lines += ["## Timing calibration", "", *calibration_lines(v.calibration)]
    for mech in v.mechanisms:
        lines += _mechanism_lines(mech)
    return "\n".join(lines)

"""report.md: the clause matrix, failures and timing verdicts as Markdown."""

from __future__ import annotations

from typing import Any

from distconform.report import view as _view
from distconform.report.text import grid

__all__ = ["calibration_lines", "markdown", "ms", "timing_line"]


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
    failures = [r for r in mech.failures if r["message"]]
    if failures:
        lines += ["### Failures", ""]
        for r in failures:
            msg = r["message"].replace("\n", " ")[:600]
            lines.append(f"- **{r['implementation']} {r['clause']}** ({r['outcome']}): {msg}")
        lines.append("")
    if mech.timing:
        lines += ["### Timing verdicts", ""]
        lines += [timing_line(t, t) for t in mech.timing]
        lines.append("")
    return lines


def markdown(data: dict[str, Any]) -> str:
    v = _view.view(data)
    lines = [
        f"# distconform report ({v.suite['version']}, "
        f"commit {(v.suite['commit'] or 'unknown')[:12]})",
        "",
    ]
    if v.calibration:
        lines += ["## Timing calibration", "", *calibration_lines(v.calibration)]
    for mech in v.mechanisms:
        lines += _mechanism_lines(mech)
    return "\n".join(lines)

"""The run report: JSON first, then Markdown, text tables, HTML and badges from it."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from distconform import clauses as _clauses

__all__ = ["FORMAT", "build", "clause_table", "markdown", "score", "text_table", "write"]

FORMAT = 1
#: How one clause's outcome follows from its tests': the first that occurs wins.
_PRECEDENCE = ("fail", "error", "skipped", "pass", "n/a")
SYMBOL = {"pass": "pass", "fail": "FAIL", "error": "ERROR", "skipped": "skip", "n/a": "n/a",
          "not-run": "-"}  # fmt: skip


def _version(package: str | None) -> str | None:
    if not package:
        return None
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        return out.stdout.strip() or None
    except Exception:
        return None


def build(
    tests: list[dict[str, Any]],
    impls: dict[str, dict[str, Any]],
    backends: Any,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fold per-test outcomes into per-(implementation, clause) outcomes.

    ``calibration`` is :meth:`distconform.calibrate.Calibration.to_json` when
    the run measured one; each result carries the timing checks of its tests.
    """
    mechs = sorted({t["mechanism"] for t in tests})
    clause_defs = {m: _clauses.load(m) for m in mechs}
    implementations = []
    for meta in impls.values():
        if meta["mechanism"] in mechs:
            implementations.append({**meta, "package_version": _version(meta.get("package"))})
    # Implementations that never got built (skipped before the factory ran).
    known = {(i["mechanism"], i["name"]) for i in implementations}
    for t in tests:
        key = (t["mechanism"], t["implementation"])
        if key not in known:
            known.add(key)
            implementations.append(
                {"name": t["implementation"], "mechanism": t["mechanism"], "spec": t["spec"],
                 "package": None, "package_version": None, "capabilities": [],
                 "description": ""}
            )  # fmt: skip
    results = []
    for impl in implementations:
        for c in clause_defs[impl["mechanism"]]:
            mine = [
                t for t in tests
                if t["implementation"] == impl["name"] and t["mechanism"] == impl["mechanism"]
                and c.id in t["clauses"]
            ]  # fmt: skip
            outcome = "not-run"
            for o in _PRECEDENCE:
                if any(t["outcome"] == o for t in mine):
                    outcome = o
                    break
            messages = [f"{t['test']}: {t['message']}" for t in mine if t["outcome"] == outcome
                        and t["message"]]  # fmt: skip
            results.append(
                {
                    "implementation": impl["name"],
                    "mechanism": impl["mechanism"],
                    "clause": c.id,
                    "level": c.level,
                    "outcome": outcome,
                    "message": "\n".join(messages)[:4000],
                    "duration": round(sum(t["duration"] for t in mine), 4),
                    "tests": [t["test"] for t in mine],
                    "timing": [{**rec, "test": t["test"]} for t in mine
                               for rec in t.get("timing") or ()],
                }
            )  # fmt: skip
    servers = {}
    if backends is not None:
        for kind, version in backends.versions.items():
            servers[kind] = {"version": version, "origin": backends.origin.get(kind)}
    return {
        "format": FORMAT,
        "suite": {
            "name": "distconform",
            "version": _version("distconform"),
            "commit": _git_commit(),
        },
        "run": {
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "servers": servers,
        },
        "calibration": calibration,
        "implementations": implementations,
        "clauses": {
            m: [{"id": c.id, "level": c.level, "requires": c.requires, "text": c.text} for c in cs]
            for m, cs in clause_defs.items()
        },
        "results": results,
        "tests": tests,
    }


def score(data: dict[str, Any], mechanism: str, implementation: str) -> tuple[int, int]:
    """(passed, applicable) for one implementation: n/a and not-run do not count."""
    rows = [
        r for r in data["results"]
        if r["mechanism"] == mechanism and r["implementation"] == implementation
    ]  # fmt: skip
    applicable = [r for r in rows if r["outcome"] not in ("n/a", "not-run")]
    return sum(r["outcome"] == "pass" for r in applicable), len(applicable)


def _impl_names(data: dict[str, Any], mechanism: str) -> list[str]:
    return [i["name"] for i in data["implementations"] if i["mechanism"] == mechanism]


def _grid(data: dict[str, Any], mechanism: str) -> tuple[list[str], list[list[str]]]:
    names = _impl_names(data, mechanism)
    by = {(r["implementation"], r["clause"]): r["outcome"] for r in data["results"]
          if r["mechanism"] == mechanism}  # fmt: skip
    header = ["clause", "level", *names]
    rows = []
    for c in data["clauses"][mechanism]:
        rows.append(
            [c["id"], c["level"] + (f" ({c['requires']})" if c["requires"] else "")]
            + [SYMBOL[by.get((n, c["id"]), "not-run")] for n in names]
        )
    scores = []
    for n in names:
        p, a = score(data, mechanism, n)
        scores.append(f"{p}/{a}")
    rows.append(["score", "", *scores])
    return header, rows


def clause_table(
    data: dict[str, Any], mechanisms: Iterable[str] | None = None, width: int | None = None
) -> str:
    """Plain-text table: one row per clause, one column per implementation.

    A table wider than ``width`` (a terminal's) heads its implementation
    columns A, B, C, ... and names them in a legend below: with several
    implementations, full names such as ``my_adapter:factory`` as column
    heads made the table wrap into an unreadable one.
    """
    out = []
    for mech in mechanisms or data["clauses"]:
        header, rows = _grid(data, mech)
        table = text_table([header, *rows], rule=True)
        if width is not None and max(len(line) for line in table.splitlines()) > width:
            keys = [_column_key(i) for i in range(len(header) - 2)]
            table = text_table([[*header[:2], *keys], *rows], rule=True)
            table += "\n\n" + text_table([[k, n] for k, n in zip(keys, header[2:], strict=True)])
        out += [f"[{mech}]", table, ""]
    return "\n".join(out)


def _column_key(i: int) -> str:
    """Spreadsheet column names: 0 -> A, 25 -> Z, 26 -> AA."""
    key = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        key = chr(ord("A") + r) + key
    return key


def text_table(rows: list[list[str]], rule: bool = False) -> str:
    """Rows as plain-text columns two spaces apart; ``rule``: dashes under the first row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    if rule:
        rows = [rows[0], ["-" * w for w in widths], *rows[1:]]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


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
        f"| scheduler jitter | {j['n']} | {_ms(j['p50'])} | {_ms(j['p99'])} | {_ms(j['max'])} "
        f"| memory: {_ms(cal['tolerance'].get('memory'))} |",
    ]
    for kind, f in cal["rtt"].items():
        lines.append(
            f"| {kind} round trip | {f['n']} | {_ms(f['p50'])} | {_ms(f['p99'])} "
            f"| {_ms(f['max'])} | {kind}: {_ms(cal['tolerance'].get(kind))} |"
        )
    floor, switch = _ms(cal["floor"]), _ms(cal["switch_interval"])
    lines += ["", f"Floor: {floor} (switch interval {switch}).", ""]
    return lines


def timing_line(r: dict[str, Any], t: dict[str, Any]) -> str:
    """One timing check of one clause result, with both verdicts."""

    def verdict(ok: bool) -> str:
        return "ok" if ok else "FAIL"

    bounds = []
    if t.get("at_least") is not None:
        bounds.append(f"min {_ms(t.get('min'))} >= {_ms(t['at_least'])} "
                      f"{verdict(t.get('at_least_ok', True))}")  # fmt: skip
    if t.get("at_most") is not None:
        tight = t["tight"] if t.get("rechecked_tight") is None else max(
            t["tight"], t["rechecked_tight"])  # fmt: skip
        bounds.append(f"tight: median {_ms(t['median'])} <= {_ms(t['at_most'])} + "
                      f"{_ms(tight)} {verdict(t['tight_ok'])}")  # fmt: skip
        bounds.append(f"loose: max {_ms(t['max'])} <= {_ms(t['at_most'])} + "
                      f"{_ms(t['loose'])} {verdict(t['loose_ok'])}")  # fmt: skip
    return (f"- {r['implementation']} {r['clause']} — {t['what']} (n={t['n']}): "
            + "; ".join(bounds))  # fmt: skip


def markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# distconform report ({data['suite']['version']}, "
        f"commit {(data['suite']['commit'] or 'unknown')[:12]})",
        "",
    ]
    if data.get("calibration"):
        lines += ["## Timing calibration", "", *calibration_lines(data["calibration"])]
    for mech in data["clauses"]:
        header, rows = _grid(data, mech)
        lines += [f"## {mech}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]  # fmt: skip
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
        failures = [r for r in data["results"] if r["mechanism"] == mech
                    and r["outcome"] in ("fail", "error") and r["message"]]  # fmt: skip
        if failures:
            lines += ["### Failures", ""]
            for r in failures:
                msg = r["message"].replace("\n", " ")[:600]
                lines.append(f"- **{r['implementation']} {r['clause']}** ({r['outcome']}): {msg}")
            lines.append("")
        timed = [(r, t) for r in data["results"] if r["mechanism"] == mech
                 for t in r.get("timing") or ()]  # fmt: skip
        if timed:
            lines += ["### Timing verdicts", ""]
            lines += [timing_line(r, t) for r, t in timed]
            lines.append("")
    return "\n".join(lines)


def write(data: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
    (folder / "report.md").write_text(markdown(data), encoding="utf-8")
    return path

"""Print the lock benchmarks as Markdown: cycles/s per implementation, and the ratio to the floor.

Usage: ``python benchmarks/summary.py [BENCH.json]`` (default ``.distconform/bench.json``),
where the file comes from ``pytest benchmarks --benchmark-json=BENCH.json``.

Cycles/s is the benchmark's cycles per iteration (``extra_info``) divided by
its *median* iteration time: on a shared machine the median resists the odd
stalled round better than the mean pytest-benchmark's OPS uses. "x floor" is
cycles/s divided by the floor's (bare ``SET NX PX`` + EVALSHA release) in the
same group: 0.5 means half the floor's throughput.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

FLOOR = "floor"
DEFAULT = Path(".distconform/bench.json")


def rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """group -> [{implementation, cycles_per_s, median_ms, extras}], fastest first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for b in data.get("benchmarks", []):
        info = b.get("extra_info", {})
        median = b["stats"]["median"]
        per = info.get("cycles_per_iteration", 1)
        groups.setdefault(b.get("group") or "(no group)", []).append(
            {
                "implementation": info.get("implementation") or b.get("param") or b["name"],
                "cycles_per_s": per / median if median > 0 else float("inf"),
                "median_ms": median * 1000,
                "per": per,
                "rounds": b["stats"]["rounds"],
                "failures": info.get("failures", info.get("timeouts", 0)),
            }
        )
    for rs in groups.values():
        rs.sort(key=lambda r: -r["cycles_per_s"])
    return groups


def markdown(data: dict[str, Any]) -> str:
    out: list[str] = []
    for group, rs in sorted(rows(data).items()):
        floor = next((r["cycles_per_s"] for r in rs if r["implementation"] == FLOOR), None)
        per = rs[0]["per"] if rs else 1
        unit = "cycle" if per == 1 else f"batch of {per} cycles"
        out += [
            f"### {group}",
            "",
            f"| implementation | cycles/s | x floor | median ms per {unit} | rounds | failed |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in rs:
            ratio = f"{r['cycles_per_s'] / floor:.2f}" if floor else "-"
            out.append(
                f"| {r['implementation']} | {r['cycles_per_s']:,.0f} | {ratio} | "
                f"{r['median_ms']:.3f} | {r['rounds']} | {r['failures']} |"
            )
        out.append("")
    machine = data.get("machine_info", {})
    if machine:
        out.append(
            f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
            f"{machine.get('cpu', {}).get('count', '?')} CPUs, Python "
            f"{machine.get('python_version', '?')}; run {data.get('datetime', '?')}."
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", nargs="?", type=Path, default=DEFAULT, help=f"default {DEFAULT}")
    args = p.parse_args(argv)
    if not args.json.exists():
        print(
            f"summary: no {args.json}: run pytest benchmarks --benchmark-json={args.json}",
            file=sys.stderr,
        )
        return 2
    try:
        data = json.loads(args.json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"summary: cannot read {args.json}: {exc}", file=sys.stderr)
        return 2
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

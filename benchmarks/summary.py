"""Print the benchmarks of ``pytest benchmarks`` as Markdown: ops/s and the ratio to the floor.

Usage: ``python benchmarks/summary.py [PYTEST-BENCH.json]`` (default
``.distconform/pytest-bench.json``), where the file comes from
``pytest benchmarks --benchmark-json=PYTEST-BENCH.json``.

One benchmark iteration is one round of a workload of ``distconform/bench``:
ops/s is ``extra_info["ops_per_round"]`` over the *median* round time (on a
shared machine the median resists the odd stalled round better than the mean
pytest-benchmark's OPS uses), the floor's over its *fastest* round (the least
the workload costs). "x floor" is ops/s over the floor's in the same group,
the floor being the workload run on the bare in-process operations it cannot
avoid (``distconform/bench/__init__.py``): nothing does less, so every ratio
is at most 1, and a row above 1 is marked "floor beaten", a bug in the floor.
``distconform bench`` measures the same workloads with their rounds
interleaved and writes ``bench.json`` instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

FLOOR = "floor"
DEFAULT = Path(".distconform/pytest-bench.json")


def rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """group -> [{implementation, ops_per_s, median_ms, ops, rounds}], fastest first."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for b in data.get("benchmarks", []):
        info = b.get("extra_info", {})
        if "ops_per_round" not in info:  # the failover rounds: times, not throughput
            continue
        name = info.get("implementation") or b["name"]
        median = b["stats"]["min" if name == FLOOR else "median"]
        ops = info["ops_per_round"]
        groups.setdefault(b.get("group") or "(no group)", []).append(
            {
                "implementation": name,
                "ops_per_s": ops / median if median > 0 else float("inf"),
                "median_ms": median * 1000,
                "ops": ops,
                "rounds": b["stats"]["rounds"],
            }
        )
    for rs in groups.values():
        rs.sort(key=lambda r: -r["ops_per_s"])
    return groups


def _ratio(ops_per_s: float, floor: float | None) -> str:
    if not floor:
        return "-"
    ratio = ops_per_s / floor
    return f"{ratio:.3g}" + (" (floor beaten)" if ratio > 1 else "")


def markdown(data: dict[str, Any]) -> str:
    out: list[str] = []
    for group, rs in sorted(rows(data).items()):
        floor = next((r["ops_per_s"] for r in rs if r["implementation"] == FLOOR), None)
        ops = rs[0]["ops"] if rs else 1
        out += [
            f"### {group}",
            "",
            f"| implementation | ops/s | x floor | ms per round of {ops} (floor: best) | rounds |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in rs:
            out.append(
                f"| {r['implementation']} | {r['ops_per_s']:,.0f} | "
                f"{_ratio(r['ops_per_s'], floor)} | {r['median_ms']:.3f} | {r['rounds']} |"
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

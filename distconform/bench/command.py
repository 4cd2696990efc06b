"""``distconform bench MECH [IMPL...]``: time the workloads, write bench.json, print a table.

Servers come as for ``verify``: a URL by option or environment, else a
container or a private server, started only for the implementations that need
one; each implementation is built and its client checked first (``_probe``),
so a typo or a missing server stops the run with one line before anything is
timed. Each implementation then runs each workload under a fresh namespace,
removed afterwards, beside the floor timed in the same run.

bench.json keeps one entry per mechanism: a run replaces its own mechanism's
entry and leaves the others, so ``bench lock`` then ``bench lru`` fill one file
that ``distconform report`` shows beside the clause matrix.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from distconform import backends as _backends
from distconform import bench, mechanisms
from distconform.adapters import Adapter, resolve
from distconform.api import Context, Implementation
from distconform.bench import FILENAME, FORMAT
from distconform.errors import UsageError
from distconform.guard import call_with_timeout

__all__ = ["add_parser", "build", "cleanup", "measure_all", "run", "table", "write"]


Probe = Callable[[mechanisms.Mechanism, Adapter, _backends.Backends], str | None]


HELP = """\
Runs each workload of the mechanism (distconform/bench/<mechanism>.py) on each
implementation and on the floor (the bare dict operations the workload cannot
avoid, timed by the same loop), and writes REPORT_DIR/bench.json: per
implementation and workload, ops/s, per-operation latency percentiles (us),
rounds, and x_floor = ops/s over the floor's (at most 1). Several IMPLs are
measured side by side; `distconform report` draws the ratios in report.html.
Exit 0; 1 when a benchmark failed (an error, or a round over the time limit);
2 for bad input."""


def add_parser(sub: Any) -> None:
    """The ``bench`` subcommand's arguments (numbers as text: bad ones get one line, exit 2)."""
    b = sub.add_parser(
        "bench",
        help="time a mechanism's workloads per implementation, beside the floor",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("mechanism", help="lock, lru, ratelimit, twopc, hotwarm, session or jwt")
    b.add_argument(
        "impls", nargs="*", metavar="IMPL",
        help="registered name or MODULE:FACTORY (none: the references)",
    )  # fmt: skip
    b.add_argument("--redis-url", help=f"Redis URL (or ${_backends.ENV_REDIS})")
    b.add_argument("--mysql-url", help=f"MySQL URL (or ${_backends.ENV_MYSQL})")
    b.add_argument("--report-dir", default=".distconform", help="where bench.json goes")
    b.add_argument(
        "--rounds", metavar="N",
        help=f"timed rounds per workload (default: its own; floor: {bench.FLOOR_ROUNDS} or more)",
    )  # fmt: skip
    b.add_argument(
        "--call-timeout", metavar="S",
        help=f"seconds a set-up or a round may take (default {bench.DEFAULT_CALL_TIMEOUT:g}); "
        "a round that waits by design gets its waits on top",
    )  # fmt: skip


def _positive(text: str | None, option: str, kind: type[int] | type[float]) -> Any:
    """``text`` as a number above 0, or a one-line error naming ``option``."""
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not 0 < value < math.inf:
        raise UsageError(f"{option} {text!r}: give a number above 0")
    return value


def _servers(
    adapters: list[Adapter], redis_url: str | None, mysql_url: str | None, limit: float
) -> _backends.Backends:
    """This run's Backends: the kinds of server the adapters say they need, started now."""
    probe_ctx = _backends.context_for(_backends.Backends())
    needs: set[str] = set()
    for adapter in adapters:
        try:
            needs |= call_with_timeout(partial(adapter.build, probe_ctx), limit, adapter.name).needs
        except Exception:
            needs |= {"redis", "mysql"}  # it could not say: offer everything
    if "redis-masters" in needs:
        needs.add("redis")
    kinds = tuple(k for k in ("redis", "mysql") if k in needs)
    return _backends.resolve(redis_url, mysql_url, kinds=kinds, needed=kinds)


def build(adapter: Adapter, b: _backends.Backends, limit: float) -> tuple[Implementation, Context]:
    """The implementation on this run's servers under a fresh namespace, and its context."""
    ctx = _backends.context_for(b)
    impl: Implementation = call_with_timeout(
        lambda: adapter.build(ctx), limit, f"{adapter.name}: factory"
    )
    if "redis-masters" in impl.needs:  # as verify does: rebuilt with the masters' URLs
        ctx = dataclasses.replace(ctx, extra={**ctx.extra, "redis_masters": b.redis_masters(3)})
        impl = call_with_timeout(lambda: adapter.build(ctx), limit, f"{adapter.name}: factory")
    return impl, ctx


def cleanup(impl: Implementation | None, ctx: Context, limit: float) -> None:
    """Close the implementation, then remove the keys and tables of its namespace: only those."""
    if impl is not None and impl.close is not None:
        with contextlib.suppress(Exception):
            call_with_timeout(impl.close, limit, "close")
    _backends.cleanup_namespace(ctx.namespace, ctx.redis_url, ctx.mysql_url)
    for url in ctx.extra.get("redis_masters", ()):
        _backends.cleanup_namespace(ctx.namespace, url, None)


@dataclass
class _Entrant:
    """An implementation in one workload: built, then prepared, timed and cleaned up."""

    adapter: Adapter
    trial: bench.Trial
    ctx: Context
    impl: Implementation | None = None
    skipped: str | None = None

    def result(self, of_round: str = bench.MEDIAN) -> dict[str, Any]:
        return {"skipped": self.skipped} if self.skipped else self.trial.result(of_round)


def _enter(
    workload: bench.Workload, adapter: Adapter, b: _backends.Backends, limit: float
) -> _Entrant:
    e = _Entrant(adapter, bench.Trial(workload, adapter.name, limit), _backends.context_for(b))
    try:
        e.impl, e.ctx = build(adapter, b, limit)
    except Exception as exc:
        e.trial.error = bench.one_line(exc)
        return e
    if workload.requires and workload.requires not in e.impl.capabilities:
        e.skipped = f"does not declare {workload.requires}"
    else:
        e.trial.prepare(e.impl)
    return e


def _time(
    workload: bench.Workload,
    floor: Adapter,
    adapters: list[Adapter],
    b: _backends.Backends,
    rounds: int,
    limit: float,
) -> list[_Entrant]:
    """The floor, then every adapter, on ``workload``, their rounds interleaved.

    See :class:`bench.Trial`. The floor takes at least ``bench.FLOOR_ROUNDS``
    rounds (the last ones after the others' are done): its figure is its
    fastest round, and its rounds cost next to nothing.
    """
    entrants: list[_Entrant] = []
    try:
        for adapter in [floor, *adapters]:
            entrants.append(_enter(workload, adapter, b, limit))
        for k in range(max(rounds, bench.FLOOR_ROUNDS) + 1):
            for e in entrants if k <= rounds else entrants[:1]:
                e.trial.round(counted=k > 0)
        return entrants
    finally:
        for e in entrants:
            e.trial.close()
            cleanup(e.impl, e.ctx, limit)


def _version(package: str | None) -> str | None:
    if not package:
        return None
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def measure_all(
    mech: mechanisms.Mechanism,
    adapters: list[Adapter],
    b: _backends.Backends,
    rounds: int | None,
    limit: float,
    workloads: list[bench.Workload] | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """bench.json's entry for ``mech``: each workload (default: all) on the floor and each impl."""
    mod = bench.module(mech.name)
    floor = Adapter(mech.name, "floor", f"{mod.__name__}:floor", mod.floor)
    timed: list[dict[str, Any]] = []
    impls: dict[str, dict[str, Any]] = {
        a.name: {"name": a.name, "spec": a.spec, "results": {}} for a in adapters
    }
    for w in workloads or mod.WORKLOADS:
        progress(f"{mech.name} {w.name}: floor + {len(adapters)}, {rounds or w.rounds} rounds")
        base, *others = _time(w, floor, adapters, b, rounds or w.rounds, limit)
        floor_result = base.result(bench.FASTEST)
        timed.append(
            {"name": w.name, "what": w.what, "ops_per_round": w.ops, "floor": floor_result}
        )
        for e in others:
            result = e.result()
            if "ops_per_s" in result and floor_result.get("ops_per_s"):
                result["x_floor"] = float(f"{result['ops_per_s'] / floor_result['ops_per_s']:.4g}")
            impls[e.adapter.name]["results"][w.name] = result
            if e.impl is not None:
                impls[e.adapter.name].update(
                    package=e.impl.package, version=_version(e.impl.package)
                )
    return {
        "mechanism": mech.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "distconform": _version("distconform"),
        "python": platform.python_version(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "servers": dict(b.versions),
        "call_timeout_s": limit,
        "floor": mod.FLOOR,
        "workloads": timed,
        "implementations": list(impls.values()),
    }


def write(report_dir: Path, entry: dict[str, Any]) -> Path:
    """Put ``entry`` into report_dir/bench.json, keeping the other mechanisms' entries."""
    path = report_dir / FILENAME
    data: dict[str, Any] = {"format": FORMAT, "mechanisms": {}}
    with contextlib.suppress(OSError, ValueError):
        old = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(old, dict) and old.get("format") == FORMAT:
            data["mechanisms"].update(old.get("mechanisms") or {})
    data["mechanisms"][entry["mechanism"]] = entry
    report_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def _cell(result: dict[str, Any], key: str) -> str:
    if "error" in result:
        return "ERROR" if key == "ops_per_s" else "-"
    if "skipped" in result:
        return "n/a" if key == "ops_per_s" else "-"
    if key in ("p50", "p99"):
        return f"{result['latency_us'][key]:,.1f}"
    if key == "x_floor":
        ratio = result.get("x_floor", 1.0)
        return f"{ratio:.3g}" + (" (floor beaten: a bug in the floor)" if ratio > 1 else "")
    return f"{result[key]:,.0f}"


def table(entry: dict[str, Any]) -> str:
    """The entry as an aligned plain-text table, errors listed under it."""
    from distconform import report

    keys = ["ops_per_s", "x_floor", "p50", "p99", "rounds"]
    rows = [["WORKLOAD", "IMPLEMENTATION", "OPS/S", "X FLOOR", "P50 US", "P99 US", "ROUNDS"]]
    notes = []
    for w in entry["workloads"]:
        pairs = [("floor", w["floor"])]
        pairs += [(i["name"], i["results"][w["name"]]) for i in entry["implementations"]]
        for name, result in pairs:
            rows.append([w["name"], name] + [_cell(result, k) for k in keys])
            if "error" in result:
                notes.append(f"{w['name']} {name}: {result['error']}")
    return "\n".join([report.text_table(rows), *notes])


def _note(line: str) -> None:
    """Progress on stderr: a run of slow libraries takes minutes, the table comes at the end."""
    print(f"distconform bench: {line}", file=sys.stderr, flush=True)


def run(args: Any, probe: Probe) -> int:
    """The ``bench`` subcommand; ``probe`` is verify's check that an implementation starts."""
    rounds = _positive(args.rounds, "--rounds", int)
    limit = _positive(args.call_timeout, "--call-timeout", float) or bench.DEFAULT_CALL_TIMEOUT
    mech = mechanisms.get(args.mechanism)
    bench.module(mech.name)
    twice = sorted({n for n in args.impls if args.impls.count(n) > 1})
    if twice:
        raise UsageError(f"{', '.join(twice)} named twice: name each implementation once")
    adapters = [resolve(mech, n) for n in args.impls or mech.references]
    b = _servers(adapters, args.redis_url, args.mysql_url, limit)
    try:
        chosen = []
        for adapter in adapters:
            reason = probe(mech, adapter, b)
            if reason is None:
                chosen.append(adapter)
            elif args.impls:
                raise UsageError(f"{adapter.name} cannot run: {reason}")
            else:
                print(f"distconform: leaving out {adapter.name}: {reason}", file=sys.stderr)
        entry = measure_all(mech, chosen, b, rounds, limit, progress=_note)
    finally:
        b.close()
    path = write(Path(args.report_dir), entry)
    print(table(entry))
    print(f"bench: {path}  (render: distconform report)")
    failed = any("error" in r for i in entry["implementations"] for r in i["results"].values())
    return 1 if failed or any("error" in w["floor"] for w in entry["workloads"]) else 0

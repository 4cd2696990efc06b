"""Benchmarks any implementation can run: the workloads, their floor, and the runner.

Why in the package: ``distconform bench MECH IMPL...`` must measure a library
the way ``verify`` checks it, on an installed suite, without a checkout. Each
mechanism has a module here (``distconform.bench.lock``, ...) with its
workloads and its *floor*; the ``benchmarks/`` tests of a checkout call the
same workloads under pytest-benchmark.

The floor of a workload is the same workload run on a client made of the bare
in-process operations the workload cannot avoid (a ``dict`` lookup for a cache
get, one dict store and one dict removal for a lock cycle, ...), timed by the
same loop. It does less than any implementation can, in memory or behind a
server, so an implementation's ``x_floor`` (its ops/s over the floor's, same
run) is at most 1; one above 1 means the floor is wrong, and
``tests/test_bench.py`` checks that no reference gets there.

Measuring: a round is ``ops`` operations on one thread (or one batch over
several threads); every operation is timed on its own with
``time.perf_counter_ns``, so the latency percentiles are per operation; ops/s
is ``ops`` over the median round's wall time (the median resists the odd
stalled round of a shared machine). Both include the timer's own cost, the
floor's too. One warm-up round comes first and is not counted. The floor's
ops/s comes from its *fastest* round, of at least ``FLOOR_ROUNDS``: a floor
is the least the workload can cost, and its rounds are short enough (a
fraction of a millisecond) for one preemption to double them.

Time limits: the set-up, every round and the tear-down run on a worker thread
under :func:`distconform.guard.call_with_timeout`. A round that does not end
within the call timeout plus the waits the workload asks for (a contended
lock's blocking acquires) fails that benchmark with one line, and the run goes
on with the next one; the stuck thread is a daemon and cannot keep the process
alive.
"""

from __future__ import annotations

import contextlib
import importlib
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from distconform.api import Implementation
from distconform.errors import UsageError
from distconform.guard import DEFAULT_CALL_TIMEOUT, call_with_timeout

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "FILENAME",
    "FORMAT",
    "Contenders",
    "Round",
    "Sample",
    "Sequential",
    "Trial",
    "Workload",
    "module",
    "one_line",
]

#: bench.json, beside report.json, and the version of its shape.
FILENAME = "bench.json"
FORMAT = 1
#: Per-operation latency percentiles written to bench.json.
PERCENTILES = (50, 90, 99)


@dataclass
class Sample:
    """One round: its wall time, each operation's latency, operations that failed their job."""

    wall_ns: int
    latencies_ns: list[int]
    failed: int = 0


class Round(Protocol):
    """A prepared workload on one implementation: run rounds, then close."""

    def round(self) -> Sample: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Workload:
    """One benchmark of a mechanism: what it does, and how to prepare it on an implementation."""

    name: str
    #: One line for bench.json, the report and ``--help``.
    what: str
    #: Operations per round.
    ops: int
    #: Rounds when the command line does not say ``--rounds``.
    rounds: int
    #: Builds the clients and fills them (not timed).
    prepare: Callable[[Implementation], Round]
    #: Seconds a round may wait by design, added to the call timeout for its limit.
    waits: float = 0.0
    #: A capability the implementation must declare (a rate limiter's algorithm).
    requires: str | None = None


def module(mechanism: str) -> Any:
    """``distconform.bench.<mechanism>``: its ``WORKLOADS``, ``floor`` and ``FLOOR``."""
    try:
        return importlib.import_module(f"distconform.bench.{mechanism}")
    except ModuleNotFoundError:
        raise UsageError(f"no benchmarks for mechanism {mechanism!r}") from None


# ------------------------------------------------------------------- rounds


class Sequential:
    """A round that calls ``op(*args)`` for each of ``args()`` on this thread.

    ``args`` is called before the clock starts (fresh keys per round);
    ``failed(result)`` says whether one call failed its job (a lock not
    granted): it runs after the call's timer stopped.
    """

    def __init__(
        self,
        op: Callable[..., Any],
        args: Callable[[], Sequence[tuple[Any, ...]]],
        failed: Callable[[Any], bool] | None = None,
        close: Callable[[], None] | None = None,
    ) -> None:
        self._op, self._args, self._failed, self._close = op, args, failed, close

    def round(self) -> Sample:
        todo, op, failed = self._args(), self._op, self._failed
        clock = time.perf_counter_ns
        latencies: list[int] = []
        bad = 0
        start = clock()
        for a in todo:
            t = clock()
            result = op(*a)
            latencies.append(clock() - t)
            if failed is not None and failed(result):
                bad += 1
        return Sample(clock() - start, latencies, bad)

    def close(self) -> None:
        if self._close is not None:
            self._close()


class Contenders:
    """A round in which each of ``ops`` runs at once, each on a thread of its own.

    The threads start here, before any round, and wait at a barrier: a round
    releases them and waits for all to be done, so it times the contention,
    not eight thread start-ups (which, timed, made the floor's rounds vary
    twofold). ``ops[i]()`` returns that thread's latencies and failures.
    ``limit`` bounds each wait at a barrier: a contender that hangs breaks it
    and fails the round (the caller's own time limit is the backstop).
    """

    def __init__(
        self,
        ops: list[Callable[[], tuple[list[int], int]]],
        limit: float,
        closers: list[Callable[[], None]],
    ) -> None:
        self._ops, self._limit, self._closers = ops, limit, closers
        self._go = threading.Barrier(len(ops) + 1)
        self._done = threading.Barrier(len(ops) + 1)
        self._results: list[tuple[list[int], int]] = [([], 0)] * len(ops)
        self._errors: list[BaseException] = []
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._serve, args=(i,), name=f"dc-bench-{i}", daemon=True)
            for i in range(len(ops))
        ]
        for t in self._threads:
            t.start()

    def _serve(self, i: int) -> None:
        try:
            while True:
                self._go.wait(self._limit)
                if self._stopping:
                    return
                self._results[i] = self._ops[i]()
                self._done.wait(self._limit)
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:  # handed to round(), which raises it
            self._errors.append(exc)
            self._go.abort()
            self._done.abort()

    def round(self) -> Sample:
        start = time.perf_counter_ns()
        try:
            self._go.wait(self._limit)
            self._done.wait(self._limit)
        except threading.BrokenBarrierError:
            if self._errors:
                raise self._errors[0] from None
            raise TimeoutError(f"a contender did not finish within {self._limit:.1f}s") from None
        wall = time.perf_counter_ns() - start
        return Sample(wall, [x for lat, _ in self._results for x in lat],
                      sum(f for _, f in self._results))  # fmt: skip

    def close(self) -> None:
        self._stopping = True
        if not self._go.broken:
            try:
                self._go.wait(self._limit)
            except threading.BrokenBarrierError:
                pass
        for t in self._threads:
            t.join(self._limit)
        for close in self._closers:
            close()


def closer(client: Any) -> Callable[[], None]:
    """The client's ``close`` if it has one, else nothing to do."""
    close = getattr(client, "close", None)
    return close if callable(close) else (lambda: None)


# ------------------------------------------------------------------ measure


def _percentile(ordered: list[int], p: int) -> float:
    """The nearest-rank percentile of sorted nanoseconds, in microseconds."""
    rank = max(0, min(len(ordered) - 1, -(-p * len(ordered) // 100) - 1))
    return round(ordered[rank] / 1000, 3)


#: Which round an implementation's ops/s comes from, and the floor's.
MEDIAN, FASTEST = "median", "fastest"
#: Rounds the floor takes at least, whatever ``--rounds`` says: its fastest
#: round is its figure, and a contended-8 round (eight thread wake-ups) varies
#: from run to run; with the floor's one round against the memory lock's one,
#: the lock came out ahead once in 6 runs.
FLOOR_ROUNDS = 10


def summarize(workload: Workload, samples: list[Sample], of_round: str = MEDIAN) -> dict[str, Any]:
    """bench.json's figures for one implementation on one workload.

    ``of_round``: ops/s from the median round (implementations) or from the
    fastest (the floor: the least the workload costs, once the scheduler
    stayed out of the way; a median floor, in ``contended-8`` whose rounds
    are mostly thread wake-ups, lost to the memory lock in 3 runs of 8).
    """
    ordered = sorted(x for s in samples for x in s.latencies_ns)
    walls = [s.wall_ns for s in samples]
    wall = min(walls) if of_round == FASTEST else statistics.median(walls)
    latency = {f"p{p}": _percentile(ordered, p) for p in PERCENTILES}
    latency["max"] = round(ordered[-1] / 1000, 3) if ordered else 0.0
    return {
        "ops_per_s": round(workload.ops * 1e9 / wall, 1) if wall else None,
        "of_round": of_round,
        "latency_us": latency,
        "rounds": len(samples),
        "ops_per_round": workload.ops,
        "failed_ops": sum(s.failed for s in samples),
    }


class Trial:
    """One implementation on one workload, its rounds interleaved with the others'.

    Interleaved: on a shared machine the load changes from second to second,
    so the floor and every implementation take their k-th round one after the
    other instead of each its own stretch of time. A set-up, a round or a
    close that raises or runs over its limit ends the trial with one line in
    ``error``; the others go on.
    """

    def __init__(self, workload: Workload, label: str, call_timeout: float) -> None:
        self.workload, self.label, self.call_timeout = workload, label, call_timeout
        self.samples: list[Sample] = []
        self.error: str | None = None
        self._run: Round | None = None

    def prepare(self, impl: Implementation) -> None:
        what = f"{self.label} {self.workload.name} set-up"
        try:
            self._run = call_with_timeout(
                lambda: self.workload.prepare(impl), self.call_timeout, what
            )
        except Exception as exc:
            self.error = one_line(exc)

    def round(self, counted: bool = True) -> None:
        """One more round (``counted=False``: the warm-up); nothing once the trial failed."""
        if self._run is None or self.error is not None:
            return
        limit = self.call_timeout + self.workload.waits
        try:
            sample = call_with_timeout(self._run.round, limit, f"{self.label} round")
        except Exception as exc:
            self.error = one_line(exc)
            self.close()
            return
        if counted:
            self.samples.append(sample)

    def close(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            with contextlib.suppress(Exception):
                call_with_timeout(run.close, self.call_timeout, f"{self.label} close")

    def result(self, of_round: str = MEDIAN) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        return summarize(self.workload, self.samples, of_round)


def one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

"""Lock workloads: acquire+release cycles, alone and with 8 contenders.

- ``uncontended``: one client acquires a free lock (``timeout=0``) and releases
  it; one operation is one cycle, and a cycle whose acquire is refused or whose
  release says False fails.
- ``contended-8``: 8 clients on 8 threads each run ``CYCLES`` cycles of
  ``acquire(timeout=CONTENDED_TIMEOUT)`` + ``release`` on one lock; one
  operation is one cycle (its latency includes the wait for the lock), a round
  is the whole batch, from releasing the waiting threads to the last one done
  (:class:`distconform.bench.Contenders`). A waiter that gives up fails its
  cycle: a result, not a harness error.

The floor is a client that records a grant with one dict store and drops it
with one dict removal, and excludes nobody: it never waits, under contention
either, so no lock (which must at least remember its holder) can do a cycle in
less.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from distconform.api import Context, Implementation
from distconform.bench import Contenders, Round, Sequential, Workload, closer

#: Long against a round, so no grant runs out while held; python-redis-lock
#: also refuses an acquire timeout (5 s) greater than the lock's expire.
TTL = 10.0
CONTENDED_TIMEOUT = 5.0
CONTENDERS = 8
#: Cycles per thread per round: enough that the lock's work, not the eight
#: thread wake-ups, makes most of a round (with 4, the memory lock's median
#: round came within 0.71 x of the floor's fastest in 50 runs; with 8, 0.57),
#: few enough that libraries which poll every 0.1-0.2 s finish a round in
#: about two seconds.
CYCLES = 8
OPS = 200
NAME = "bench"

FLOOR = "one dict store to acquire, one dict removal to release; excludes nobody, never waits"


class FloorLock:
    """The floor client: a grant is a dict entry; nothing is checked, nobody waits."""

    def __init__(self) -> None:
        self._held: dict[str, float | None] = {}

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> str:
        self._held[name] = ttl
        return name

    def release(self, handle: str) -> bool:
        return self._held.pop(handle, None) is not None


def floor(ctx: Context) -> Implementation:
    return Implementation(client=FloorLock, description=FLOOR)


def _cycle(client: Any, timeout: float) -> Callable[[], bool]:
    acquire, release = client.acquire, client.release

    def cycle() -> bool:
        handle = acquire(NAME, TTL, timeout)
        return handle is not None and bool(release(handle))

    return cycle


def _uncontended(impl: Implementation) -> Round:
    client = impl.client()
    return Sequential(
        _cycle(client, 0.0), lambda: [()] * OPS, failed=lambda ok: not ok, close=closer(client)
    )


def _contender(client: Any) -> Callable[[], tuple[list[int], int]]:
    cycle, clock = _cycle(client, CONTENDED_TIMEOUT), time.perf_counter_ns

    def run() -> tuple[list[int], int]:
        latencies, failed = [], 0
        for _ in range(CYCLES):
            t = clock()
            ok = cycle()
            latencies.append(clock() - t)
            failed += not ok
        return latencies, failed

    return run


def _contended(impl: Implementation) -> Round:
    clients = [impl.client() for _ in range(CONTENDERS)]
    return Contenders(
        [_contender(c) for c in clients], CYCLES * CONTENDED_TIMEOUT, [closer(c) for c in clients]
    )


WORKLOADS = [
    Workload("uncontended", "acquire(timeout=0) + release of a free lock, one client", OPS, 20,
             _uncontended),
    Workload("contended-8", f"{CONTENDERS} clients on {CONTENDERS} threads, {CYCLES} cycles "
             f"each of acquire(timeout={CONTENDED_TIMEOUT:g}) + release on one lock",
             CONTENDERS * CYCLES, 8, _contended, waits=CYCLES * CONTENDED_TIMEOUT),
]  # fmt: skip

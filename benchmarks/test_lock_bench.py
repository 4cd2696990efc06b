"""Lock throughput: acquire+release cycles per second, alone and with 8 contenders.

Groups:

- ``lock-uncontended``: one client, one thread, ``acquire(timeout=0)`` then
  ``release`` on a free lock. One benchmark iteration is one cycle.
- ``lock-8-contenders``: 8 threads, each with its own client, each doing
  ``CONTENDED_CYCLES`` cycles of ``acquire(timeout=5)`` + ``release`` on the
  same lock. One benchmark iteration is the whole batch (the threads stay up
  between rounds; barriers start and end each batch).

``extra_info["cycles_per_s"]`` is cycles per second from the median
iteration; ``benchmarks/summary.py`` prints them with the ratio to the floor.
Everything runs in one pytest session: ``pytest benchmarks --benchmark-json=...``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

#: Long against a batch, so no grant runs out while held; python-redis-lock
#: also refuses an acquire timeout (5 s) greater than the lock's expire.
TTL = 10.0
#: The contended acquire's timeout, from the task; a starved waiter gives up.
CONTENDED_TIMEOUT = 5.0
CONTENDERS = 8
#: Cycles per thread per batch: enough hand-overs to average over, few enough
#: that libraries which poll every 0.1-0.2 s finish a batch in about a second.
CONTENDED_CYCLES = 4
#: Seconds any one barrier wait may take before the batch counts as broken.
BARRIER_TIMEOUT = 60.0

UNCONTENDED_ROUNDS, UNCONTENDED_ITERATIONS = 200, 10
CONTENDED_ROUNDS = 8


def _record(benchmark: Any, subject: Any, cycles_per_iteration: int, **extra: Any) -> None:
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(
        implementation=subject.name,
        package=subject.package,
        cycles_per_iteration=cycles_per_iteration,
        cycles_per_s=round(cycles_per_iteration / median, 1),
        **extra,
    )


@pytest.mark.benchmark(group="lock-uncontended")
def test_uncontended(benchmark: Any, subject: Any) -> None:
    """One client acquires a free lock and releases it, over and over."""
    client = subject.new_client()
    failures = [0]

    def cycle() -> None:
        handle = client.acquire("bench", TTL, 0)
        if handle is None or not client.release(handle):
            failures[0] += 1

    try:
        benchmark.pedantic(
            cycle, rounds=UNCONTENDED_ROUNDS, iterations=UNCONTENDED_ITERATIONS, warmup_rounds=2
        )
    finally:
        getattr(client, "close", lambda: None)()
    _record(benchmark, subject, 1, failures=failures[0])
    assert failures[0] == 0, f"{subject.name}: {failures[0]} cycles failed on a free lock"


class Contenders:
    """``n`` threads, one client each, that run one batch of cycles per ``batch()`` call."""

    def __init__(self, clients: list[Any], name: str, cycles: int) -> None:
        self._clients = clients
        self._name = name
        self._cycles = cycles
        self._start = threading.Barrier(len(clients) + 1)
        self._done = threading.Barrier(len(clients) + 1)
        self._stop = False
        self.timeouts = [0] * len(clients)
        self.errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"bench-{i}", daemon=True)
            for i in range(len(clients))
        ]
        for t in self._threads:
            t.start()

    def _run(self, i: int) -> None:
        client = self._clients[i]
        try:
            while True:
                self._start.wait(BARRIER_TIMEOUT)
                if self._stop:
                    return
                for _ in range(self._cycles):
                    handle = client.acquire(self._name, TTL, CONTENDED_TIMEOUT)
                    if handle is None:
                        self.timeouts[i] += 1
                    else:
                        client.release(handle)
                self._done.wait(BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            return
        except BaseException as exc:
            self.errors.append(exc)
            self._start.abort()
            self._done.abort()

    def batch(self) -> None:
        try:
            self._start.wait(BARRIER_TIMEOUT)
            self._done.wait(BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            if self.errors:
                raise self.errors[0] from None
            raise

    def close(self) -> None:
        self._stop = True
        try:
            self._start.wait(BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            pass
        for t in self._threads:
            t.join(BARRIER_TIMEOUT)
        for c in self._clients:
            getattr(c, "close", lambda: None)()


@pytest.mark.benchmark(group="lock-8-contenders")
def test_8_contenders(benchmark: Any, subject: Any) -> None:
    """Eight clients on eight threads take turns on one lock; the batch is timed."""
    crowd = Contenders([subject.new_client() for _ in range(CONTENDERS)], "bench", CONTENDED_CYCLES)
    try:
        benchmark.pedantic(crowd.batch, rounds=CONTENDED_ROUNDS, iterations=1, warmup_rounds=1)
    finally:
        crowd.close()
    # A waiter that gave up after 5 s is a result, not a harness error: report it.
    _record(benchmark, subject, CONTENDERS * CONTENDED_CYCLES, timeouts=sum(crowd.timeouts))

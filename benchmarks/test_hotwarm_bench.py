"""Hot-warm measurements: the package's workloads, and failover after kill -9.

Groups:

- ``hotwarm-write``, ``hotwarm-read``: the workloads of
  ``distconform/bench/hotwarm.py`` on the floor and every registered pair
  (see ``benchmarks/conftest.py``).
- ``hotwarm-failover``: ``KILLS`` rounds per mode; each round starts a fresh
  pair (not timed), writes, SIGKILLs the primary and writes until one write
  is acknowledged again. ``extra_info`` holds the failover times (kill to
  first acknowledged write: median and max) and the acknowledged writes lost
  in each round; the test prints them too.

The failover rounds stay here, not in ``distconform bench``: they need the
fault tests' control of private servers. About a minute:
``pytest benchmarks/test_hotwarm_bench.py -s --benchmark-json=...``.
"""

from __future__ import annotations

import statistics
import uuid
from typing import Any

import pytest

from distconform import mechanisms
from distconform.adapters import resolve
from distconform.api import Context
from distconform.backends import PrivateSentinel
from distconform.bench import Workload
from distconform.conformance.test_hotwarm import kill_under_load
from distconform.guard import DEFAULT_CALL_TIMEOUT
from distconform.plugin import Subject
from distconform.reference.hotwarm.redis import DETECTION_BOUND

#: At least five kills per mode (the issue's minimum for median and max).
KILLS = 5
MODES = {"sync": "redis-sentinel", "async": "redis-sentinel-async"}
MECHANISM = "hotwarm"


def _subject(name: str) -> Subject:
    mech = mechanisms.get("hotwarm")
    adapter = resolve(mech, name)
    ctx = Context(namespace=f"dc_{uuid.uuid4().hex[:12]}_")
    return Subject(adapter, adapter.build(ctx), ctx, mech, DEFAULT_CALL_TIMEOUT)


def test_hotwarm(timed: Any, workload: Workload, name: str) -> None:
    timed(MECHANISM, name, workload)


@pytest.mark.benchmark(group="hotwarm-failover")
@pytest.mark.parametrize("mode", list(MODES))
def test_failover_after_kill(benchmark: Any, mode: str) -> None:
    """KILLS rounds of kill -9 under load; failover time and acknowledged writes lost."""
    if not PrivateSentinel.available():
        pytest.skip("the hot-warm failover benchmark needs redis-server on PATH")
    times: list[float] = []
    lost: list[int] = []
    subjects: list[Subject] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        subjects.append(_subject(MODES[mode]))
        return (subjects[-1],), {}

    def one_kill(subject: Subject) -> None:
        # Stop each pair at once: its Sentinels would take a later pair's node
        # that reuses the killed node's port for their old primary.
        try:
            load, old, _, took = kill_under_load(subject, prefix=f"r{len(times)}_")
            assert took is not None, f"{subject.name}: no failover after the kill of {old}"
            load.run(10)
            times.append(took)
            lost.append(len(load.lost(subject.client("reader").read)))
        finally:
            subjects.remove(subject)
            subject.close()

    try:
        benchmark.pedantic(one_kill, setup=setup, rounds=KILLS, iterations=1)
    finally:
        for s in subjects:  # only a round that broke before one_kill ran
            s.close()
    benchmark.extra_info.update(
        implementation=MODES[mode],
        mode=mode,
        failover_s=[round(t, 3) for t in times],
        failover_median_s=round(statistics.median(times), 3),
        failover_max_s=round(max(times), 3),
        lost_per_kill=lost,
        declared_t_s=DETECTION_BOUND,
    )
    print(
        f"hotwarm-failover {mode}: median {statistics.median(times):.3f}s max {max(times):.3f}s "
        f"over {len(times)} kills {[round(t, 2) for t in times]}; acknowledged writes lost "
        f"per kill {lost}"
    )

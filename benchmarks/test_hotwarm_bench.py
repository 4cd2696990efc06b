"""Hot-warm measurements: write throughput per mode against a single Redis, and failover.

Groups:

- ``hotwarm-write``: writes per second through a Sentinel-following client of
  the Redis pair, sync (``SET`` + ``INFO``, then ``WAIT 1``) and async
  (``SET`` + ``INFO`` in one round trip), beside ``floor``: a bare ``SET`` on
  a single private ``redis-server`` with the same settings (the least a write
  costs). One iteration is ``BATCH`` writes.
- ``hotwarm-failover``: ``KILLS`` rounds per mode; each round starts a fresh
  pair (not timed), writes, SIGKILLs the primary and writes until one write
  is acknowledged again. ``extra_info`` holds the failover times (kill to
  first acknowledged write: median and max) and the acknowledged writes lost
  in each round; the test prints them too.

About a minute: ``pytest benchmarks/test_hotwarm_bench.py -s --benchmark-json=...``.
"""

from __future__ import annotations

import itertools
import statistics
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from distconform import mechanisms
from distconform.adapters import resolve
from distconform.api import Context
from distconform.backends import PrivateRedis, PrivateSentinel
from distconform.conformance.test_hotwarm import kill_under_load
from distconform.guard import DEFAULT_CALL_TIMEOUT
from distconform.plugin import Subject
from distconform.reference.hotwarm.redis import DETECTION_BOUND, REDIS_ARGS

BATCH = 200
ROUNDS = 20
#: At least five kills per mode (the issue's minimum for median and max).
KILLS = 5
MODES = {"sync": "redis-sentinel", "async": "redis-sentinel-async"}

_fresh = itertools.count()


def _subject(name: str) -> Subject:
    mech = mechanisms.get("hotwarm")
    adapter = resolve(mech, name)
    ctx = Context(namespace=f"dc_{uuid.uuid4().hex[:12]}_")
    return Subject(adapter, adapter.build(ctx), ctx, mech, DEFAULT_CALL_TIMEOUT)


@pytest.fixture(autouse=True)
def _servers() -> None:
    if not PrivateSentinel.available():
        pytest.skip("the hot-warm benchmarks need redis-server on PATH")


@pytest.fixture
def pair(request: pytest.FixtureRequest) -> Iterator[Subject]:
    subject = _subject(request.param)
    try:
        yield subject
    finally:
        subject.close()


def _time(benchmark: Any, label: str, write: Any) -> None:
    def batch() -> None:
        base = next(_fresh) * BATCH
        for i in range(base, base + BATCH):
            write(f"k{i}", "v" * 16)

    benchmark.pedantic(batch, rounds=ROUNDS, warmup_rounds=1)
    ops = round(BATCH / benchmark.stats.stats.median)
    benchmark.extra_info.update(
        implementation=label, cycles_per_iteration=BATCH, ops_per_s=ops, cycles_per_s=ops
    )
    print(f"hotwarm-write {label}: {ops} writes/s")


@pytest.mark.benchmark(group="hotwarm-write")
def test_floor_single_redis(benchmark: Any) -> None:
    """A bare SET on one private redis-server: the floor."""
    with PrivateRedis(args=REDIS_ARGS) as server:
        import redis

        r = redis.Redis(port=server.port, socket_timeout=5)
        try:
            _time(benchmark, "floor", lambda k, v: r.set(k, v))
        finally:
            r.close()


@pytest.mark.benchmark(group="hotwarm-write")
@pytest.mark.parametrize("pair", list(MODES.values()), indirect=True)
def test_write_throughput(benchmark: Any, pair: Subject) -> None:
    """Acknowledged writes through a Sentinel-following client of the healthy pair."""
    client = pair.impl.client()
    assert client.write("probe", "1") is True, "the healthy pair does not acknowledge writes"

    def write(k: str, v: str) -> None:
        assert client.write(k, v) is True, f"{pair.name}: write({k}) not acknowledged"

    _time(benchmark, pair.name, write)
    client.close()


@pytest.mark.benchmark(group="hotwarm-failover")
@pytest.mark.parametrize("mode", list(MODES))
def test_failover_after_kill(benchmark: Any, mode: str) -> None:
    """KILLS rounds of kill -9 under load; failover time and acknowledged writes lost."""
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

"""Rate limiter throughput: decisions per second.

Groups:

- ``ratelimit-redis``: the Redis reference (each algorithm), ``limits`` and
  ``pyrate-limiter`` on the same Redis, and ``floor``: one ``EVALSHA`` of a
  script that returns 1, the least a server-side atomic decision costs. One
  iteration is ``REDIS_BATCH`` decisions.
- ``ratelimit-memory``: the in-memory reference (each algorithm) against
  ``limits`` on ``memory://`` and ``pyrate-limiter``'s in-memory buckets.
  One iteration is ``LOCAL_BATCH`` decisions on the raw client.

Traffic: ``KEYS`` keys in turn, limit ``LIMIT`` per 1 s window (token bucket:
the same rate and burst), so that a run mixes admissions and rejections the
way a busy limiter sees them. ``extra_info["cycles_per_s"]`` is decisions per
second from the median iteration; ``benchmarks/summary.py`` prints them with
the ratio to the floor. About a minute:
``pytest benchmarks/test_ratelimit_bench.py --benchmark-json=...``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from distconform import backends, mechanisms
from distconform.adapters import resolve
from distconform.api import Context

LIMIT, WINDOW = 100, 1.0
KEYS = [f"user{i}" for i in range(20)]
LOCAL_BATCH, REDIS_BATCH = 2000, 200
ROUNDS = 30

REDIS = [
    ("redis", "sliding-log"),
    ("redis", "fixed-window"),
    ("redis", "sliding-window-counter"),
    ("redis", "token-bucket"),
    ("limits-moving-window-redis", "sliding-log"),
    ("limits-fixed-window-redis", "fixed-window"),
    ("limits-sliding-window-counter-redis", "sliding-window-counter"),
    ("pyrate-limiter-redis", "sliding-log"),
    ("pyrate-limiter-redis", "fixed-window"),
    ("pyrate-limiter-redis", "token-bucket"),
]
MEMORY = [
    ("memory", "sliding-log"),
    ("memory", "fixed-window"),
    ("memory", "sliding-window-counter"),
    ("memory", "token-bucket"),
    ("limits-moving-window", "sliding-log"),
    ("limits-fixed-window", "fixed-window"),
    ("limits-sliding-window-counter", "sliding-window-counter"),
    ("pyrate-limiter", "sliding-log"),
    ("pyrate-limiter", "fixed-window"),
    ("pyrate-limiter", "token-bucket"),
]

FLOOR = """
-- The floor: one server-side script call that decides nothing.
-- KEYS[1]  a key (unused; passed as a limiter passes its key)
-- returns  1
return 1
"""


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    ns = f"dc_{uuid.uuid4().hex[:12]}_"
    yield ns
    backends.cleanup_namespace(ns, redis_url, None)


def _client(name: str, algorithm: str, ctx: Context) -> tuple[Any, Any]:
    impl = resolve(mechanisms.get("ratelimit"), name).build(ctx)
    client = impl.client()
    if algorithm == "token-bucket":
        client.configure(algorithm, rate=LIMIT / WINDOW, burst=LIMIT)
    else:
        client.configure(algorithm, limit=LIMIT, window=WINDOW)

    def close() -> None:
        getattr(client, "close", lambda: None)()
        if impl.close is not None:
            impl.close()

    return client, close


def _time(benchmark: Any, label: str, hit: Any, n: int) -> None:
    keys = list(itertools.islice(itertools.cycle(KEYS), n))

    def batch() -> None:
        for k in keys:
            hit(k)

    benchmark.pedantic(batch, rounds=ROUNDS, warmup_rounds=1)
    per_s = round(n / benchmark.stats.stats.median)
    benchmark.extra_info.update(
        implementation=label, cycles_per_iteration=n, cycles_per_s=per_s, decisions_per_s=per_s
    )


@pytest.mark.benchmark(group="ratelimit-redis")
@pytest.mark.parametrize("name,algorithm", REDIS, ids=[f"{n}-{a}" for n, a in REDIS])
def test_redis(benchmark: Any, name: str, algorithm: str, redis_url: str, namespace: str) -> None:
    """One Redis-backed limiter, one algorithm."""
    client, close = _client(name, algorithm, Context(namespace=namespace, redis_url=redis_url))
    try:
        _time(benchmark, f"{name} {algorithm}", client.hit, REDIS_BATCH)
    finally:
        close()


@pytest.mark.benchmark(group="ratelimit-redis")
def test_redis_floor(benchmark: Any, redis_url: str, namespace: str) -> None:
    """One EVALSHA of a trivial script per decision, on one connection."""
    r = backends.redis_client(redis_url)
    sha = r.script_load(FLOOR)
    try:
        _time(benchmark, "floor", lambda k: r.evalsha(sha, 1, namespace + k), REDIS_BATCH)
    finally:
        r.close()


@pytest.mark.benchmark(group="ratelimit-memory")
@pytest.mark.parametrize("name,algorithm", MEMORY, ids=[f"{n}-{a}" for n, a in MEMORY])
def test_memory(benchmark: Any, name: str, algorithm: str) -> None:
    """One in-process limiter, one algorithm, on the raw client."""
    client, close = _client(name, algorithm, Context(namespace=f"dc_{uuid.uuid4().hex[:12]}_"))
    try:
        _time(benchmark, f"{name} {algorithm}", client.hit, LOCAL_BATCH)
    finally:
        close()

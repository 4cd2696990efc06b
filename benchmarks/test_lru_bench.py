"""LRU cache throughput: get-hit, get-miss and put-with-eviction, in ops/s.

Groups:

- ``lru-get-hit``, ``lru-get-miss``, ``lru-put-evict``: the in-process caches
  (the memory reference and each third party) on a full cache of
  ``CAPACITY`` entries. One benchmark iteration is a batch of ``LOCAL_BATCH``
  operations on the raw client (no time-limit proxy).
- ``lru-redis``: the Redis reference's three operations beside ``floor``, a
  bare ``GET`` of one string key on the same connection: the round trip every
  Redis-backed cache pays. One iteration is ``REDIS_BATCH`` operations.

``extra_info["ops_per_s"]`` is operations per second from the median
iteration (``cycles_per_s`` too, for ``benchmarks/summary.py``, which prints
the ratio to the floor). About ten seconds:
``pytest benchmarks/test_lru_bench.py --benchmark-json=...``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from distconform import backends, mechanisms
from distconform.adapters import resolve
from distconform.api import Context

CAPACITY = 1000
#: Operations per iteration: in-process calls take about a microsecond, Redis
#: round trips about a hundred.
LOCAL_BATCH, REDIS_BATCH = 2000, 200
ROUNDS = 50
IN_PROCESS = [
    "memory",
    "cachetools",
    "cachetools-locked",
    "lru-dict",
    "boltons",
    "pylru",
    "functools",
]
OPS = ["get-hit", "get-miss", "put-evict"]
VALUE = "v" * 16

_fresh = itertools.count()

Setup = Callable[[], tuple[tuple[Any, ...], dict[str, Any]]]
Batch = Callable[[list[str]], None]


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    ns = f"dc_{uuid.uuid4().hex[:12]}_"
    yield ns
    backends.cleanup_namespace(ns, redis_url, None)


def _full_cache(name: str, ctx: Context) -> tuple[Any, Callable[[], None]]:
    """A raw client of ``name`` holding CAPACITY entries, and how to close it."""
    impl = resolve(mechanisms.get("lru"), name).build(ctx)
    client = impl.client()
    client.configure(CAPACITY)
    for i in range(CAPACITY):
        client.put(f"k{i}", VALUE)

    def close() -> None:
        getattr(client, "close", lambda: None)()
        if impl.close is not None:
            impl.close()

    return client, close


def _keys(op: str, n: int) -> Setup:
    """A pytest-benchmark ``setup`` (not timed): the keys for one iteration of ``op``."""

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if op == "get-hit":
            # Oldest to newest, round and round: every get hits, the order stays.
            keys = [f"k{i % CAPACITY}" for i in range(n)]
        elif op == "get-miss":
            keys = [f"absent{i}" for i in range(n)]
        else:  # put-evict: new keys, each evicting the oldest entry
            keys = [f"n{next(_fresh)}" for _ in range(n)]
        return (keys,), {}

    return setup


def _time(benchmark: Any, label: str, fn: Batch, setup: Setup, n: int) -> None:
    benchmark.pedantic(fn, setup=setup, rounds=ROUNDS)
    ops = round(n / benchmark.stats.stats.median)
    benchmark.extra_info.update(
        implementation=label, cycles_per_iteration=n, ops_per_s=ops, cycles_per_s=ops
    )


def _op(client: Any, op: str) -> Batch:
    get, put = client.get, client.put

    def gets(keys: list[str]) -> None:
        for k in keys:
            get(k)

    def puts(keys: list[str]) -> None:
        for k in keys:
            put(k, VALUE)

    return puts if op == "put-evict" else gets


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("name", IN_PROCESS)
def test_in_process(benchmark: Any, name: str, op: str) -> None:
    """One in-process cache, one operation, on a full cache."""
    benchmark.group = f"lru-{op}"
    client, close = _full_cache(name, Context(namespace=f"dc_bench{next(_fresh)}_"))
    try:
        _time(benchmark, name, _op(client, op), _keys(op, LOCAL_BATCH), LOCAL_BATCH)
    finally:
        close()


@pytest.mark.benchmark(group="lru-redis")
@pytest.mark.parametrize("op", ["floor", *OPS])
def test_redis_reference(benchmark: Any, op: str, redis_url: str, namespace: str) -> None:
    """The Redis reference's operations, and a bare GET on the same connection (the floor)."""
    client, close = _full_cache("redis", Context(namespace=namespace, redis_url=redis_url))
    try:
        if op != "floor":
            _time(benchmark, f"redis {op}", _op(client, op), _keys(op, REDIS_BATCH), REDIS_BATCH)
            return
        raw, key = client._redis, f"{namespace}floor"
        raw.set(key, VALUE)

        def bare_gets(keys: list[str]) -> None:
            for k in keys:
                raw.get(k)

        _time(benchmark, "floor", bare_gets, lambda: (([key] * REDIS_BATCH,), {}), REDIS_BATCH)
    finally:
        close()

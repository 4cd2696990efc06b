"""Session store throughput: reads and writes per second, against a bare Redis GET/SET floor.

Groups:

- ``session-read``: ``load`` of one live session (which also restarts its
  idle period) by the Redis reference and the third-party adapters, and
  ``floor``: one bare ``GET`` of a key holding a small value, the least a
  server-side session read costs.
- ``session-write``: ``save`` of one key into that session, and ``floor``:
  one bare ``SET ... EX``.

Each iteration is ``BATCH`` calls over ``SESSIONS`` sessions in turn, on one
client. The third parties go through their test clients (an HTTP request
each, middleware included): that is what an application pays per request,
so their figures are the library's and its framework's together.
``extra_info["cycles_per_s"]`` is calls per second from the median iteration;
``benchmarks/summary.py`` prints them with the ratio to the floor. About a
minute: ``pytest benchmarks/test_session_bench.py --benchmark-json=...``.
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

IMPLEMENTATIONS = ["redis", "starsessions", "flask-session", "beaker"]
SESSIONS, BATCH, ROUNDS = 20, 100, 20
#: Timeouts far beyond a run: no session dies while it is measured.
IDLE, ABSOLUTE = 3600.0, 86400.0


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    ns = f"dc_{uuid.uuid4().hex[:12]}_"
    yield ns
    backends.cleanup_namespace(ns, redis_url, None)


@pytest.fixture
def sessions(request: pytest.FixtureRequest, redis_url: str, namespace: str) -> Iterator[Any]:
    """(label, client, ids): ``SESSIONS`` live sessions, each holding one key."""
    name: str = request.param
    impl = resolve(mechanisms.get("session"), name).build(
        Context(namespace=namespace, redis_url=redis_url)
    )
    client = impl.client()
    try:
        client.configure(IDLE, ABSOLUTE)
        ids = [client.create(f"user{i}") for i in range(SESSIONS)]
        for sid in ids:
            client.save(sid, {"cart": "0"})
        yield name, client, ids
    finally:
        getattr(client, "close", lambda: None)()
        if impl.close is not None:
            impl.close()


def _time(benchmark: Any, label: str, call: Callable[[str], Any], ids: list[str]) -> None:
    order = list(itertools.islice(itertools.cycle(ids), BATCH))

    def batch() -> None:
        for sid in order:
            call(sid)

    benchmark.pedantic(batch, rounds=ROUNDS, warmup_rounds=1)
    per_s = round(BATCH / benchmark.stats.stats.median)
    benchmark.extra_info.update(
        implementation=label, cycles_per_iteration=BATCH, cycles_per_s=per_s
    )


def _check(got: Any, what: str) -> None:
    # A benchmark of calls that fail would measure the failure path.
    if got is None or got is False:
        raise AssertionError(f"{what} failed during the benchmark")


@pytest.mark.benchmark(group="session-read")
@pytest.mark.parametrize("sessions", IMPLEMENTATIONS, indirect=True)
def test_read(benchmark: Any, sessions: Any) -> None:
    label, client, ids = sessions
    _time(benchmark, label, lambda sid: _check(client.load(sid), "load"), ids)


@pytest.mark.benchmark(group="session-write")
@pytest.mark.parametrize("sessions", IMPLEMENTATIONS, indirect=True)
def test_write(benchmark: Any, sessions: Any) -> None:
    label, client, ids = sessions
    _time(benchmark, label, lambda sid: _check(client.save(sid, {"cart": "1"}), "save"), ids)


def _floor_keys(r: Any, namespace: str) -> list[str]:
    keys = [f"{namespace}floor:{i}" for i in range(SESSIONS)]
    for k in keys:
        r.set(k, '{"cart": "0"}', ex=int(IDLE))
    return keys


@pytest.mark.benchmark(group="session-read")
def test_read_floor(benchmark: Any, redis_url: str, namespace: str) -> None:
    """One bare GET per read, on one connection."""
    r = backends.redis_client(redis_url)
    try:
        _time(benchmark, "floor", lambda k: _check(r.get(k), "GET"), _floor_keys(r, namespace))
    finally:
        r.close()


@pytest.mark.benchmark(group="session-write")
def test_write_floor(benchmark: Any, redis_url: str, namespace: str) -> None:
    """One bare SET ... EX per write, on one connection."""
    r = backends.redis_client(redis_url)
    keys = _floor_keys(r, namespace)
    try:
        _time(benchmark, "floor", lambda k: r.set(k, '{"cart": "1"}', ex=int(IDLE)), keys)
    finally:
        r.close()

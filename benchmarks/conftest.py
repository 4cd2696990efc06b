"""Servers and clients for the lock benchmarks.

The benchmarks use the machine's Redis (``DISTCONFORM_REDIS_URL``, default
``redis://127.0.0.1:6379/0``) so that every implementation pays the same round
trip; ``pottery-3`` needs three independent masters, so it gets three private
redis-servers, started once for the session. Every key lives under a fresh
``dc_<hex>_`` namespace and is deleted after its benchmark.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from distconform import backends, mechanisms
from distconform.adapters import resolve
from distconform.api import Context

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

FLOOR_RELEASE = """
-- Compare-and-delete: the release every correct Redis lock needs at least.
-- KEYS[1]  the lock key
-- ARGV[1]  the owner token
-- returns  1 when the key held ARGV[1] and was deleted, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class FloorLockClient:
    """The least a correct Redis lock does: ``SET NX PX``, then compare-and-delete by EVALSHA.

    One connection, no script registration per call, no fencing. A blocking
    acquire retries at once (``sleep(0)`` only yields the GIL), so under
    contention it shows the fastest hand-over this server and client allow.
    """

    def __init__(self, url: str, namespace: str) -> None:
        self._r = backends.redis_client(url)
        self._ns = namespace
        self._sha = self._r.script_load(FLOOR_RELEASE)

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> tuple[str, str] | None:
        key, owner = self._ns + name, secrets.token_hex(16)
        deadline = time.monotonic() + timeout
        while not self._r.set(key, owner, nx=True, px=int(ttl * 1000)):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0)
        return key, owner

    def release(self, handle: tuple[str, str]) -> bool:
        return bool(self._r.evalsha(self._sha, 1, *handle))

    def close(self) -> None:
        self._r.close()


#: Benchmarked implementations: the floor, the reference, every third-party adapter.
IMPLEMENTATIONS = ["floor", "redis", "redis-py", "python-redis-lock", "pottery", "pottery-3",
                   "sherlock"]  # fmt: skip


@dataclass
class Subject:
    """One implementation, built for one benchmark under its own namespace."""

    name: str
    package: str | None
    new_client: Callable[[], Any]
    ctx: Context
    close: Callable[[], None] | None


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get(backends.ENV_REDIS) or DEFAULT_REDIS_URL
    try:
        backends.check_redis(url)
    except backends.BackendUnavailable as exc:
        pytest.skip(str(exc))
    return url


@pytest.fixture(scope="session")
def redis_masters() -> Iterator[list[str]]:
    """Three private redis-servers (pottery-3's independent masters)."""
    if not backends.PrivateRedis.available():
        pytest.skip("pottery-3 needs redis-server on PATH for its three masters")
    servers = [backends.PrivateRedis() for _ in range(3)]
    try:
        for s in servers:
            s.start()
        yield [s.url for s in servers]
    finally:
        for s in servers:
            s.stop()


@pytest.fixture
def subject(request: pytest.FixtureRequest, redis_url: str) -> Iterator[Subject]:
    name: str = request.param
    ns = f"dc_{uuid.uuid4().hex[:12]}_"
    extra: dict[str, Any] = {}
    if name == "pottery-3":
        extra["redis_masters"] = request.getfixturevalue("redis_masters")
    ctx = Context(namespace=ns, redis_url=redis_url, extra=extra)
    if name == "floor":
        subj = Subject(name, "redis", lambda: FloorLockClient(redis_url, ns), ctx, None)
    else:
        impl = resolve(mechanisms.get("lock"), name).build(ctx)
        subj = Subject(name, impl.package, impl.client, ctx, impl.close)
    try:
        yield subj
    finally:
        if subj.close is not None:
            subj.close()
        for url in [redis_url, *extra.get("redis_masters", ())]:
            backends.cleanup_namespace(ns, url, None)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "subject" in metafunc.fixturenames:
        metafunc.parametrize("subject", IMPLEMENTATIONS, ids=IMPLEMENTATIONS, indirect=True)

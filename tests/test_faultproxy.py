"""The fault proxy against the real Redis: pass-through, delay, hold, cut, refuse, reset."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from distconform import backends
from distconform.faultproxy import STOP_TIMEOUT, FaultProxy, rewrite_url
from distconform.workers import spawn

MECHANISM = "lock"  # for the via_proxy test, which takes the `impl` fixture

REDIS_URL = os.environ.get(backends.ENV_REDIS, "redis://127.0.0.1:6379/0")
#: A PING round trip on this machine takes well under 1 ms; 2 s absorbs a loaded
#: 2-core machine stalling the proxy's threads, and is still far below what the
#: checks below tell apart (a 0.3 s delay applied or not, a call that returns or hangs).
SLACK = 2.0


def _redis_up() -> bool:
    try:
        backends.check_redis(REDIS_URL)
        return True
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason=f"no Redis at {REDIS_URL}")


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    u = urlsplit(REDIS_URL)
    p = FaultProxy((u.hostname or "127.0.0.1", u.port or 6379)).start()
    yield p
    p.stop()


def _client(p: FaultProxy) -> Any:
    """A redis-py client through the proxy, without retries: a fault must show, not be hidden."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return backends.redis_client(p.url_for(REDIS_URL), retry=Retry(NoBackoff(), 0))


def _timed_ping(r: Any) -> float:
    t0 = time.monotonic()
    assert r.ping() is True
    return time.monotonic() - t0


def _raw(p: FaultProxy) -> socket.socket:
    s = socket.create_connection(p.address, timeout=SLACK)
    return s


def test_ping_passes_through(proxy: FaultProxy) -> None:
    """A PING through the transparent proxy answers, on a connection the proxy accepted."""
    r = _client(proxy)
    try:
        assert _timed_ping(r) < SLACK
        assert proxy.accepted == 1 and proxy.connections == 1
    finally:
        r.close()


@pytest.mark.parametrize("direction", ["reply", "request", "both"])
def test_delay_makes_ping_slow(proxy: FaultProxy, direction: str) -> None:
    """delay(0.3) in either direction makes a PING take at least 0.3 s; reset() undoes it."""
    r = _client(proxy)
    try:
        r.ping()
        proxy.delay(0.3, direction)  # type: ignore[arg-type]
        took = _timed_ping(r)
        # "both" delays each way: 0.6 s. A delay can only lengthen a round trip.
        least = 0.6 if direction == "both" else 0.3
        assert least <= took < least + SLACK, took
        proxy.reset()
        assert _timed_ping(r) < 0.3
    finally:
        r.close()


def test_hold_then_release(proxy: FaultProxy) -> None:
    """A held reply does not arrive until release(); the server has already answered."""
    r = _client(proxy)
    key = f"dc_proxytest_{os.getpid()}_{time.monotonic_ns()}"
    direct = backends.redis_client(REDIS_URL)
    try:
        r.ping()
        proxy.hold("reply")
        done = threading.Event()
        result: list[Any] = []

        def call() -> None:
            result.append(r.set(key, "v"))
            done.set()

        t = threading.Thread(target=call, daemon=True)
        t.start()
        # The request went through: the server did it ...
        deadline = time.monotonic() + SLACK
        while direct.get(key) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert direct.get(key) == b"v"
        # ... but the client has not heard yet.
        assert not done.wait(0.3), "a held reply reached the client"
        proxy.release()
        assert done.wait(SLACK), "release() did not let the reply through"
        assert result == [True]
        t.join(SLACK)
    finally:
        direct.delete(key)
        direct.close()
        r.close()


def test_cut_resets_the_client(proxy: FaultProxy) -> None:
    """cut() resets open connections: a raw socket sees a reset, a call in flight a ConnectionError.

    (redis-py checks an idle pooled connection before use and reconnects if it
    was reset, so the cut is made while a call waits for its held reply.)
    """
    import redis

    r = _client(proxy)
    raw = _raw(proxy)
    try:
        r.ping()
        raw.sendall(b"PING\r\n")
        assert raw.recv(100) == b"+PONG\r\n"
        proxy.hold("reply")
        errors: list[BaseException] = []

        def call() -> None:
            try:
                r.ping()
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=call, daemon=True)
        t.start()
        time.sleep(0.2)
        proxy.cut()
        t.join(SLACK)
        assert not t.is_alive(), "the call in flight did not end at the cut"
        assert len(errors) == 1 and isinstance(errors[0], redis.ConnectionError), errors
        with pytest.raises(ConnectionResetError):
            raw.sendall(b"PING\r\n")
            raw.recv(100)
        assert proxy.connections == 0
        # New connections are served again once released.
        proxy.release()
        assert _timed_ping(r) < SLACK
    finally:
        raw.close()
        r.close()


def test_refuse_resets_new_connections(proxy: FaultProxy) -> None:
    """While refusing, a new connection is reset at once; connections work again after."""
    import redis

    proxy.refuse(True)
    # The reset may reach the client while it still finishes connect(), or later.
    with pytest.raises(ConnectionResetError):
        with _raw(proxy) as raw:
            raw.sendall(b"PING\r\n")
            raw.recv(100)
    r = _client(proxy)
    try:
        with pytest.raises(redis.ConnectionError):
            r.ping()
        proxy.refuse(False)
        assert _timed_ping(r) < SLACK
    finally:
        r.close()


def test_reset_makes_it_transparent(proxy: FaultProxy) -> None:
    """reset() lifts delay, hold and refusal at once."""
    r = _client(proxy)
    try:
        r.ping()
        proxy.delay(5.0, "both")
        proxy.hold("request")
        proxy.refuse(True)
        proxy.reset()
        assert _timed_ping(r) < SLACK
        r2 = _client(proxy)
        assert _timed_ping(r2) < SLACK
        r2.close()
    finally:
        r.close()


def test_stop_returns_in_time_with_held_bytes(proxy: FaultProxy) -> None:
    """stop() resets open connections and joins its threads within STOP_TIMEOUT."""
    raw = _raw(proxy)
    try:
        raw.sendall(b"PING\r\n")
        time.sleep(0.05)
        proxy.hold("both")
        raw.sendall(b"PING\r\n")
        t0 = time.monotonic()
        proxy.stop()
        assert time.monotonic() - t0 < STOP_TIMEOUT + 0.5
        alive = [t for t in threading.enumerate() if t.name.startswith("dc-proxy")]
        assert not alive, alive
    finally:
        raw.close()


def test_bad_direction_and_url_rewrite() -> None:
    """Directions are checked; the URL keeps user, password, database and query."""
    p = FaultProxy(("127.0.0.1", 1))
    with pytest.raises(ValueError, match="direction"):
        p.delay(1.0, "sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        p.delay(-1.0)
    url = "mysql://u:p%40ss@db.example:3306/test?charset=utf8mb4"
    assert (
        rewrite_url(url, "127.0.0.1", 4242)
        == "mysql://u:p%40ss@127.0.0.1:4242/test?charset=utf8mb4"
    )
    assert rewrite_url("redis://127.0.0.1:6379/3", "127.0.0.1", 1) == "redis://127.0.0.1:1/3"
    with pytest.raises(ValueError, match="no host"):
        rewrite_url("unix:///tmp/redis.sock", "127.0.0.1", 1)


@pytest.fixture
def redis_started(dc_backends: Any) -> None:
    """The run's Redis, started before ``impl``'s context is made.

    Servers start on a test's first need, and the memory reference needs
    none: without this its context had a Redis URL only when an earlier test
    in the same process had needed one (a run of this test alone failed).
    """
    dc_backends.ensure("redis")


def test_via_proxy(redis_started: None, impl: Any) -> None:
    """via_proxy(backend) rebuilds the implementation on the same namespace through a proxy."""
    backend = "mysql" if impl.name == "mysql" else "redis"
    if impl.name not in ("memory", "redis", "mysql"):
        pytest.skip("the memory, Redis and MySQL references are enough here")
    attr = f"{backend}_url"
    sub, proxy = impl.via_proxy(backend)
    before, after = getattr(impl.ctx, attr), getattr(sub.ctx, attr)
    assert sub.ctx.namespace == impl.ctx.namespace
    assert after != before and urlsplit(after).port == proxy.port
    # User, password, database and query are kept.
    assert urlsplit(after)._replace(netloc="") == urlsplit(before)._replace(netloc="")
    assert urlsplit(after).username == urlsplit(before).username
    # Processes spawned for the new subject get the proxied URL.
    assert sub.ctx.to_json()[attr] == after
    assert sub.proxied == frozenset({backend}) and impl.proxied == frozenset()
    c = sub.client("via")
    g = c.acquire("res", 5.0, 0.0)
    assert g is not None
    if impl.name == "memory":
        assert c.release(g) is True
        return
    assert proxy.accepted >= 1, f"the {impl.name} reference did not go through the proxy"
    # Seen by a client of the original subject: the same namespace, the same lock.
    assert impl.client("direct").acquire("res", 5.0, 0.0) is None
    proxy.delay(0.3)
    t0 = time.monotonic()
    assert c.release(g) is True
    assert time.monotonic() - t0 >= 0.3
    proxy.reset()
    # A process spawned for the new subject connects through the proxy too.
    seen = proxy.accepted
    w = spawn(sub, "distconform.conformance.lock_roles:hold", "res2", 5.0, False, process=True)
    try:
        _, ok, _, _ = w.recv(60, "grant")
        assert ok and proxy.accepted > seen
    finally:
        w.kill()

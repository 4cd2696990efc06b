"""redis-py's Sentinel client as its users use it, over a private primary, replica and 3 Sentinels.

Registered names (pyproject ``distconform.implementations``):

=============================  ====================================================
``redis-py-sentinel``          ``Sentinel(sentinels)`` and ``master_for(service)``,
                               every argument at its default
``redis-py-sentinel-doc``      the redis-py documentation's example:
                               ``Sentinel(sentinels, socket_timeout=0.1)`` and
                               ``master_for(service, socket_timeout=0.1)``
=============================  ====================================================

Library calls the adapters make:

- ``redis.sentinel.Sentinel(sentinels, **kwargs)`` once per implementation;
- ``Sentinel.master_for(SERVICE, **kwargs)`` once per client (redis-py's
  ``SentinelConnectionPool``: it asks the Sentinels for the master at every
  new connection, and turns READONLY from a demoted master into a
  ConnectionError after dropping the connection);
- ``write``: ``Redis.set(key, value)``; acknowledged when it returns True
  (redis-py has no ``WAIT`` by default, so the pair is declared ``async``);
- ``read``: ``Redis.get(key)``, bytes decoded as UTF-8 by the adapter;
- ``switchover``: ``Sentinel.sentinels[0].sentinel_failover(SERVICE)``
  (``SENTINEL FAILOVER``), then ``Sentinel.discover_master(SERVICE)`` every
  20 ms until it names the other node.

The library's defaults that matter here (redis-py 8.1): ``socket_timeout``
and ``socket_connect_timeout`` 5 s on the data connections (``None`` before
redis-py 6), and on the Sentinel connections unless ``sentinel_kwargs`` is
given; ``retry`` three retries with exponential backoff; ``check_connection``
False.

Deviations from the library's defaults, and why:

- None on the client side. The servers are not the library's: they are the
  reference's private setup (:mod:`distconform.reference.hotwarm.redis`:
  ``down-after-milliseconds`` 1500, ``failover-timeout`` 3000, three
  Sentinels with quorum 2) because Sentinel's own defaults (30 s, 180 s)
  would make each failover test wait minutes. The declared T, H and L are the
  reference's for that setup (6 s, 1 s, 1 s).
- ``SENTINEL FAILOVER`` returns at once; the interface's ``switchover``
  returns once the move is done, so the adapter polls ``discover_master``
  (what an operator's script does) for at most T.
- The control object is the reference's, except that ``write_direct`` is a
  plain ``SET`` on that node, acknowledged when it returns OK: the same rule
  as ``write``, as a client holding a stale address would see it.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from distconform.api import Context, Implementation
from distconform.reference.hotwarm.redis import (
    ASYNC_LOSS_WINDOW,
    SERVICE,
    RedisSentinelPair,
)
from distconform.thirdparty import _require

__all__ = ["redis_py_sentinel", "redis_py_sentinel_doc"]

#: The redis-py documentation's Sentinel example passes ``socket_timeout=0.1``.
DOC_SOCKET_TIMEOUT = 0.1


class PlainSetPair(RedisSentinelPair):  # type: ignore[misc]  # reference is outside mypy's files
    """The reference's servers and control; an acknowledgement is ``SET`` returning OK."""

    def __init__(self, namespace: str, kwargs: dict[str, Any]) -> None:
        super().__init__(namespace, "async")
        self.loss_window = ASYNC_LOSS_WINDOW
        self.kwargs = kwargs
        self._lib: Any = None

    def commit(self, conn: Any, key: str, value: str, seen: Any = None) -> bool:
        return conn.set(self.namespace + key, value) is True

    def library_sentinel(self) -> Any:
        """The library's ``Sentinel`` object, made once, with the adapter's arguments."""
        sentinel_mod = _require("redis.sentinel", "redis")
        with self._lock:
            if self._lib is None:
                self._lib = sentinel_mod.Sentinel(
                    [("127.0.0.1", s.port) for s in self._sentinels], **self.kwargs
                )
            return self._lib

    def stop(self) -> None:
        if self._lib is not None:
            for conn in self._lib.sentinels:
                with contextlib.suppress(Exception):
                    conn.close()
        super().stop()


class RedisPySentinelClient:
    """One application connection: ``master_for`` with the adapter's arguments."""

    def __init__(self, pair: PlainSetPair) -> None:
        self._pair = pair
        self._sentinel = pair.library_sentinel()
        self._master = self._sentinel.master_for(SERVICE, **pair.kwargs)

    def write(self, key: str, value: str) -> bool:
        return self._master.set(self._pair.namespace + key, value) is True

    def read(self, key: str) -> str | None:
        got = self._master.get(self._pair.namespace + key)
        return None if got is None else bytes(got).decode()

    def control(self) -> PlainSetPair:
        return self._pair

    def switchover(self) -> None:
        before = self._sentinel.discover_master(SERVICE)
        self._sentinel.sentinels[0].sentinel_failover(SERVICE)
        end = time.monotonic() + self._pair.detection_bound
        while self._sentinel.discover_master(SERVICE) == before:
            if time.monotonic() > end:
                raise TimeoutError(f"SENTINEL FAILOVER: the Sentinels still name {before}")
            time.sleep(0.02)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._master.close()


def _build(ctx: Context, kwargs: dict[str, Any], what: str) -> Implementation:
    pair = PlainSetPair(ctx.namespace, kwargs)

    def client() -> RedisPySentinelClient:
        pair.start()
        return RedisPySentinelClient(pair)

    return Implementation(
        client=client,
        capabilities=frozenset({"async", "switchover"}),
        needs=frozenset({"redis"}),
        package="redis",
        close=pair.stop,
        description=f"redis-py Sentinel.master_for ({what}) over 1 primary, 1 replica, 3 Sentinels",
    )


def redis_py_sentinel(ctx: Context) -> Implementation:
    return _build(ctx, {}, "every argument at its default")


def redis_py_sentinel_doc(ctx: Context) -> Implementation:
    return _build(ctx, {"socket_timeout": DOC_SOCKET_TIMEOUT}, "the documentation's example")

"""Adapters for third-party LRU caches, and for Redis's own ``allkeys-lru`` eviction.

Registered names (pyproject ``distconform.implementations``):

=====================  ==========================================================
``cachetools``         ``cachetools.LRUCache``, bare, as its docs show it
``cachetools-locked``  the same behind one ``threading.Lock`` (the docs' advice)
``lru-dict``           ``lru.LRU`` (a C extension)
``boltons``            ``boltons.cacheutils.LRU``
``pylru``              ``pylru.lrucache``
``functools``          ``functools.lru_cache`` around a loader function
``redis-allkeys-lru``  a private ``redis-server`` with ``maxmemory-policy allkeys-lru``
=====================  ==========================================================

How the suite's interface (spec/lru.md) maps onto each library, the same way
for all of them:

- ``configure(capacity)`` builds the library's cache with the capacity handed
  over unchanged: the adapter never checks it, so LRU-8 judges the library.
- ``get`` is the library's own lookup (the one that counts as a use), ``put``
  its item assignment, ``delete`` its ``pop``. An observer capability is
  declared only where the library offers that observer; whether it really
  leaves the order alone is for LRU-9 to LRU-12 to find out.
- Each client is a cache of its own: these are in-process objects, not a
  service several clients share, so none declares ``shared``.
- ``thread-safe`` is declared only where the library's documentation promises
  it: boltons ("the LRU has threadsafety built in") and functools ("The cache
  is threadsafe"). cachetools says its caches are not thread-safe and that
  access from several threads "must be properly synchronized", so its
  recommended twin ``cachetools-locked`` takes a lock around every call and
  declares it; lru-dict and pylru promise nothing (lru-dict #22, pylru #18).
- The optional calls are the library's own, declared where it offers them:
  ``pop(key, None)``, ``popitem()``, ``clear()``, ``items()``/``values()``
  (listing order declared only where documented: lru-dict and pylru list
  most recently used first; cachetools and boltons iterate in insertion
  order, so neither ``lru-first`` nor ``mru-first``), resize (lru-dict
  ``set_size``, pylru ``size(n)``), the eviction callback (lru-dict and
  pylru take ``callback=``; cachetools documents overriding ``popitem``).
  Every mapping accepts any hashable key, so ``object-keys`` is declared for
  all in-process caches.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import PrivateRedis, redis_client
from distconform.errors import BackendUnavailable
from distconform.reference.lru.memory import capacity_mismatch
from distconform.thirdparty import _require

__all__ = [
    "boltons",
    "cachetools",
    "cachetools_locked",
    "functools_lru_cache",
    "lru_dict",
    "pylru",
    "redis_allkeys_lru",
]

_MISSING = object()


class MappingLRUClient:
    """A library cache that behaves as a mapping: ``get``, ``[k] = v``, ``pop``, ``in``, ``len``.

    ``make(capacity, on_evict)`` builds the library's cache; ``on_evict(key,
    value)`` is the eviction callback for libraries that take one (the others
    ignore it). ``list_keys(cache)`` lists its keys (iteration, unless the
    library only offers ``keys()``).
    """

    def __init__(
        self,
        make: Callable[[Any, Callable[[Any, Any], None]], Any],
        list_keys: Callable[[Any], list[Any]] = list,
    ) -> None:
        self._make = make
        self._list_keys = list_keys
        self._cache: Any = None
        self._evicted: list[tuple[Any, str]] = []

    def _on_evict(self, key: Any, value: Any) -> None:
        self._evicted.append((key, value))

    def configure(self, capacity: int) -> None:
        self._cache = self._make(capacity, self._on_evict)

    def get(self, key: Any) -> str | None:
        value: str | None = self._cache.get(key)
        return value

    def put(self, key: Any, value: str) -> None:
        self._cache[key] = value

    def delete(self, key: Any) -> bool:
        return self._cache.pop(key, _MISSING) is not _MISSING

    def pop(self, key: Any) -> str | None:
        value: str | None = self._cache.pop(key, None)
        return value

    def popitem(self) -> tuple[Any, str]:
        key, value = self._cache.popitem()
        return key, value

    def clear(self) -> None:
        self._cache.clear()

    def evictions(self) -> list[tuple[Any, str]]:
        out, self._evicted = self._evicted, []
        return out

    def contains(self, key: Any) -> bool:
        return key in self._cache

    def size(self) -> int:
        return len(self._cache)

    def keys(self) -> list[Any]:
        return list(self._list_keys(self._cache))

    def items(self) -> list[tuple[Any, str]]:
        return list(self._cache.items())

    def values(self) -> list[str]:
        return list(self._cache.values())


class LockedClient(MappingLRUClient):
    """Every call under one ``threading.Lock``: cachetools' documented way to share a cache."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()

    def configure(self, capacity: int) -> None:
        with self._lock:
            super().configure(capacity)

    def get(self, key: Any) -> str | None:
        with self._lock:
            return super().get(key)

    def put(self, key: Any, value: str) -> None:
        with self._lock:
            super().put(key, value)

    def delete(self, key: Any) -> bool:
        with self._lock:
            return super().delete(key)

    def pop(self, key: Any) -> str | None:
        with self._lock:
            return super().pop(key)

    def popitem(self) -> tuple[Any, str]:
        with self._lock:
            return super().popitem()

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def evictions(self) -> list[tuple[Any, str]]:
        with self._lock:
            return super().evictions()

    def contains(self, key: Any) -> bool:
        with self._lock:
            return super().contains(key)

    def size(self) -> int:
        with self._lock:
            return super().size()

    def keys(self) -> list[Any]:
        with self._lock:
            return super().keys()

    def items(self) -> list[tuple[Any, str]]:
        with self._lock:
            return super().items()

    def values(self) -> list[str]:
        with self._lock:
            return super().values()


class LruDictClient(MappingLRUClient):
    """``lru.LRU``: resize is ``set_size``."""

    def resize(self, capacity: int) -> None:
        self._cache.set_size(capacity)


class PylruClient(MappingLRUClient):
    """``pylru.lrucache``, which also documents ``peek`` ("without affecting the order").

    Resize is ``size(n)`` ("Changes the size of the cache. x MUST be greater than zero").
    """

    def peek(self, key: Any) -> str | None:
        if key not in self._cache:
            return None
        value: str = self._cache.peek(key)
        return value

    def resize(self, capacity: int) -> None:
        self._cache.size(capacity)


def _mapping(
    package: str,
    description: str,
    make: Callable[[Any, Callable[[Any, Any], None]], Any],
    capabilities: frozenset[str],
    client: type[MappingLRUClient] = MappingLRUClient,
    list_keys: Callable[[Any], list[Any]] = list,
) -> Implementation:
    return Implementation(
        client=lambda: client(make, list_keys),
        capabilities=capabilities,
        package=package,
        description=description,
    )


#: What every in-process mapping offers: its observers and optional calls.
_MAPPING = frozenset(
    {"contains", "size", "keys", "popitem", "items", "pop", "clear", "object-keys"}
)


def _cachetools_lru(lib: Any) -> Callable[[Any, Callable[[Any, Any], None]], Any]:
    """``LRUCache`` with the docs' eviction hook: a subclass whose ``popitem`` reports.

    cachetools evicts through ``popitem``; its documentation shows overriding
    it to learn of evictions. The hook also fires on a caller's ``popitem``
    (the contract leaves that open).
    """

    def make(capacity: Any, on_evict: Callable[[Any, Any], None]) -> Any:
        class ReportingLRUCache(lib.LRUCache):  # type: ignore[misc]
            def popitem(self) -> tuple[Any, Any]:
                key, value = super().popitem()
                on_evict(key, value)
                return key, value

        return ReportingLRUCache(capacity)

    return make


def cachetools(ctx: Context) -> Implementation:
    """``cachetools.LRUCache(maxsize)``, bare: its docs say it is not thread-safe.

    Calls: ``LRUCache(maxsize)`` (subclassed only to override ``popitem``, the
    documented eviction hook), ``get``, ``[k] = v``, ``pop(k, default)``,
    ``popitem()``, ``clear()``, ``in``, ``len``, iteration, ``items()``,
    ``values()``. Iteration is in insertion order, so no listing order is
    declared. No deviation from the defaults (``getsizeof=None``: one slot per entry).
    """
    lib = _require("cachetools", "cachetools")
    return _mapping(
        "cachetools",
        "cachetools.LRUCache (pure Python, not thread-safe)",
        _cachetools_lru(lib),
        _MAPPING | {"evict-callback"},
    )


def cachetools_locked(ctx: Context) -> Implementation:
    """``cachetools.LRUCache(maxsize)`` behind one ``threading.Lock``: the recommended twin.

    The same calls as ``cachetools``, each made holding one lock per cache,
    as cachetools' docs ask of a cache shared by threads ("must be properly
    synchronized"); therefore ``thread-safe``.
    """
    lib = _require("cachetools", "cachetools")
    return _mapping(
        "cachetools",
        "cachetools.LRUCache behind a threading.Lock (the documented way to share it)",
        _cachetools_lru(lib),
        _MAPPING | {"evict-callback", "thread-safe"},
        client=LockedClient,
    )


def lru_dict(ctx: Context) -> Implementation:
    """``lru.LRU(size, callback=...)``: ``keys()``/``items()``/``values()`` most recent first.

    Calls: ``LRU(size, callback)``, ``get``, ``[k] = v``, ``pop(k, default)``,
    ``popitem()`` (``least_recent=True``, its default), ``clear()``, ``in``,
    ``len``, ``keys()``, ``items()``, ``values()``, ``set_size(n)``. The one
    deviation: a callback, so that evictions can be observed. No ``peek(key)``
    (only ``peek_first_item``/``peek_last_item``).
    """
    lib = _require("lru", "lru-dict")
    return _mapping(
        "lru-dict",
        "lru-dict's lru.LRU (C extension)",
        lambda capacity, on_evict: lib.LRU(capacity, callback=on_evict),
        _MAPPING | {"mru-first", "resize", "evict-callback"},
        client=LruDictClient,
        list_keys=lambda cache: cache.keys(),
    )


def boltons(ctx: Context) -> Implementation:
    """``boltons.cacheutils.LRU(max_size=...)``: a dict subclass with an RLock.

    Calls: ``LRU(max_size=n)``, ``get``, ``[k] = v``, ``pop(k, default)``,
    ``popitem()``, ``clear()``, ``in``, ``len``, iteration, ``items()``,
    ``values()``. Iteration is the dict's insertion order: no listing order
    declared. No eviction callback (``on_miss`` is a loader). No deviation.
    """
    lib = _require("boltons.cacheutils", "boltons")
    return _mapping(
        "boltons",
        "boltons.cacheutils.LRU (dict subclass, RLock)",
        lambda capacity, on_evict: lib.LRU(max_size=capacity),
        _MAPPING | {"thread-safe"},
    )


def pylru(ctx: Context) -> Implementation:
    """``pylru.lrucache(size, callback)``: ``peek``, ``in`` and listings do not reorder.

    Calls: ``lrucache(size, callback)``, ``get``, ``[k] = v``, ``peek``,
    ``pop(k, default)``, ``popitem()``, ``clear()``, ``in``, ``len``,
    iteration, ``items()``, ``values()``, ``size(n)``. Listings run most
    recently used first. The one deviation: a callback, to observe evictions.
    """
    lib = _require("pylru", "pylru")
    return _mapping(
        "pylru",
        "pylru.lrucache (pure Python, circular linked list)",
        lambda capacity, on_evict: lib.lrucache(capacity, on_evict),
        _MAPPING | {"peek", "mru-first", "resize", "evict-callback"},
        client=PylruClient,
    )


# ------------------------------------------------------------------ functools


class FunctoolsClient:
    """``functools.lru_cache(maxsize=capacity)`` around a loader: the cache *is* the store.

    A put calls the memoized loader with the key while this thread's pending
    value is the one to store, so the call caches it. A get calls the loader
    with nothing pending: a cached key is a hit; otherwise the loader raises
    KeyError, which lru_cache does not cache, so a miss stores nothing.

    What lru_cache cannot do shows as such: a put of a cached key is a hit
    that keeps the old value (it has no way to replace one entry, LRU-5), and
    ``delete`` raises NotImplementedError (it can only ``cache_clear()`` all).
    """

    def __init__(self) -> None:
        self._pending = threading.local()
        self._load: Any = None

    def configure(self, capacity: int) -> None:
        @functools.lru_cache(maxsize=capacity)
        def load(key: Any) -> str:
            pending = getattr(self._pending, "item", None)
            if pending is None or pending[0] != key:
                raise KeyError(key)
            value: str = pending[1]
            return value

        self._load = load

    def get(self, key: Any) -> str | None:
        try:
            value: str = self._load(key)
        except KeyError:
            return None
        return value

    def put(self, key: Any, value: str) -> None:
        self._pending.item = (key, value)
        try:
            self._load(key)
        finally:
            self._pending.item = None

    def delete(self, key: Any) -> bool:
        raise NotImplementedError(
            "functools.lru_cache cannot forget one entry; it only has cache_clear()"
        )

    def size(self) -> int:
        return int(self._load.cache_info().currsize)

    def clear(self) -> None:
        self._load.cache_clear()


def functools_lru_cache(ctx: Context) -> Implementation:
    """The standard library's ``functools.lru_cache``.

    Calls: ``lru_cache(maxsize=capacity)`` (``typed=False``, the default) on a
    loader, the memoized function, ``cache_info()``, ``cache_clear()``. Keys
    are the function's argument: any hashable object (``object-keys``); the
    docs say 3 and 3.0 are "usually" one call with ``typed=False``, which
    LRU-19 puts to the test.
    """
    return Implementation(
        client=FunctoolsClient,
        capabilities=frozenset({"size", "thread-safe", "clear", "object-keys"}),
        package=None,
        description="functools.lru_cache around a loader (standard library)",
    )


# ---------------------------------------------------------- redis allkeys-lru

#: Bytes of padding in front of every value. Redis counts bytes, not entries:
#: each entry is made about 1 MB so that the capacity in entries becomes a
#: byte budget, and a connection's own buffers (measured at about 60 KB, which
#: Redis counts against ``maxmemory`` too) stay a small part of one entry.
#: Just under 1 MiB, so the value fills one allocator size class.
_PAD = 1_000_000
#: Padded entries measured to learn one entry's cost.
_PROBES = 4

# Store ARGV[1] behind _PAD dots, built on the server: a 1 MB argument would
# grow the connection's query buffer, which Redis also counts as used memory.
# KEYS[1]  the key
# ARGV[1]  the value           ARGV[2]  the padding length
# returns  OK
_PUT = """
return redis.call('SET', KEYS[1], string.rep('.', tonumber(ARGV[2])) .. ARGV[1])
"""


#: The share of evictions from the newer half of a full cache (LRU-26) this
#: adapter declares for Redis's sampled LRU (``maxmemory-samples`` 5, its
#: default, with the 16-entry eviction pool), measured with LRU-26's schedule
#: on this machine's redis-server over 24 runs of 64 entries (32 evictions
#: each): shares 0.03 to 0.22, median 0.1. A uniformly random victim gives a
#: median of 0.59 and a share below 0.44 in 1 % of 2000 simulated runs: 0.4
#: separates the two.
ALLKEYS_BOUND = 0.4


class AllkeysServer:
    """The private ``redis-server`` of one implementation: started by the first client."""

    def __init__(self) -> None:
        self._server: PrivateRedis | None = None
        self._capacity: int | None = None
        self._lock = threading.Lock()

    def url(self) -> str:
        with self._lock:
            if self._server is None:
                if not PrivateRedis.available():
                    raise BackendUnavailable(
                        "redis-allkeys-lru starts its own redis-server: put redis-server on PATH"
                    )
                server = PrivateRedis(args=("--maxmemory-policy", "allkeys-lru"))
                server.start()
                self._server = server
            return self._server.url

    def budget(self, r: Any, capacity: int, probe: str) -> None:
        """Set ``maxmemory`` to what ``capacity`` entries take, measured on probe entries."""
        with self._lock:
            if self._capacity is not None:
                if self._capacity != capacity:
                    raise capacity_mismatch(self._capacity, capacity)
                return
            r.config_set("maxmemory", 0)  # no eviction while measuring
            # The first script call costs more than an entry (the script is
            # cached, the keyspace grows): a budget measured on it held 68
            # entries at capacity 64. Warm up, then take the marginal cost
            # of several entries.
            r.eval(_PUT, 1, probe, "", 0)
            r.delete(probe)
            before = int(r.info("memory")["used_memory"])
            probes = [f"{probe}{i}" for i in range(_PROBES)]
            for p in probes:
                r.eval(_PUT, 1, p, "", _PAD)
            entry = (int(r.info("memory")["used_memory"]) - before) // _PROBES
            r.delete(*probes)
            # Half an entry of slack: the measurement moves by a few hundred
            # bytes, and a budget that just fits N entries must not hold N - 1.
            r.config_set("maxmemory", before + capacity * entry + entry // 2)
            self._capacity = capacity

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None


class AllkeysLRUClient:
    """A cache client over Redis's own approximated LRU eviction (``allkeys-lru``).

    Redis samples ``maxmemory-samples`` (5) keys and evicts the one idle
    longest, with idle times kept in whole seconds; nothing here corrects that.
    ``contains`` is EXISTS, ``size`` DBSIZE and ``keys`` SCAN: Redis looks
    these up without touching a key's idle time. It has no such read for a
    value before 7.2 (``CLIENT NO-TOUCH``), so no ``peek``.
    """

    def __init__(self, server: AllkeysServer, namespace: str) -> None:
        self._server = server
        self._ns = namespace
        self._prefix = f"{namespace}k:"
        self._r = redis_client(server.url(), decode_responses=True)

    def configure(self, capacity: int) -> None:
        # The probe is outside the entries' prefix, so no key can collide with it.
        self._server.budget(self._r, capacity, f"{self._ns}probe")

    def get(self, key: str) -> str | None:
        # GETRANGE is a read that touches the key; from _PAD - 1 it returns one
        # dot before the value, and "" for an absent key.
        got: str = self._r.getrange(self._prefix + key, _PAD - 1, -1)
        return got[1:] if got else None

    def put(self, key: str, value: str) -> None:
        self._r.eval(_PUT, 1, self._prefix + key, value, _PAD)

    def delete(self, key: str) -> bool:
        return bool(self._r.delete(self._prefix + key))

    def contains(self, key: str) -> bool:
        return bool(self._r.exists(self._prefix + key))

    def size(self) -> int:
        # The private server holds nothing but this cache.
        return int(self._r.dbsize())

    def keys(self) -> list[str]:
        n = len(self._prefix)
        return [k[n:] for k in self._r.scan_iter(match=f"{self._prefix}*", count=1000)]

    def eviction_bound(self) -> float:
        return ALLKEYS_BOUND

    def recency_resolution(self) -> float:
        # LRU_CLOCK_RESOLUTION: Redis keeps each key's last use in seconds.
        return 1.0

    def close(self) -> None:
        self._r.close()


def redis_allkeys_lru(ctx: Context) -> Implementation:
    """Redis's ``allkeys-lru`` on a private server, which ``close`` stops.

    ``configure(capacity)`` turns entries into bytes: ``maxmemory`` becomes the
    memory in use plus ``capacity`` times one padded entry's measured size.
    """
    server = AllkeysServer()
    return Implementation(
        client=lambda: AllkeysLRUClient(server, ctx.namespace),
        capabilities=frozenset(
            {"shared", "thread-safe", "contains", "size", "keys", "approximate"}
        ),
        close=server.stop,
        description="Redis maxmemory-policy allkeys-lru (approximated, bytes), private server",
    )

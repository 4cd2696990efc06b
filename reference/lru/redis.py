"""Redis LRU cache: one exact recency order shared by every client of one server.

Scope: one Redis server, any number of clients in any number of processes
(capability ``shared``). The cache lives in four keys under ``ctx.namespace``:

=====================  ======  ==============================================
``{ns}lru:values``     hash    key -> value
``{ns}lru:recency``    zset    key -> stamp of its last use (higher is newer)
``{ns}lru:clock``      string  counter: each use takes the next stamp (INCR)
``{ns}lru:capacity``   string  the capacity: set by the first configure, changed by resize
=====================  ======  ==============================================

Why stamps from a counter and not from the clock: the server runs one script
at a time, so the counter orders uses exactly as they happened, across all
clients; two uses within one clock tick would tie, and a tie is an arbitrary
eviction (Redis's own ``allkeys-lru`` keeps idle times in whole seconds for
the same reason, and evicts arbitrarily among keys used within one second).

Every operation that changes the cache is one Lua script (``clear`` is one
DEL of both keys), so no other client's command comes between reading the
recency order and changing it. Observers are single read commands, or one
read-only script (``items``), and touch no stamp. Keys are strings (no
``object-keys``), and no eviction callback crosses the network (no
``evict-callback``). Every put reads the capacity on the server, so a
``resize`` by one client holds for all at once.

Non-goals: replication, clusters, durability across a restart, memory bounds
(capacity counts entries). See spec/lru.md, "Non-guarantees".
"""

from __future__ import annotations

from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.errors import BackendUnavailable
from distconform.reference.lru.memory import capacity_mismatch, check_capacity

__all__ = ["RedisLRUClient", "factory"]

GET = """
-- A hit: return the value and make the key the most recently used.
-- KEYS[1]  values hash    KEYS[2]  recency zset    KEYS[3]  clock counter
-- ARGV[1]  the key
-- returns  the value, or nil when the key is absent (nothing changes then)
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
return value
"""

PUT = """
-- Store the value as the most recently used; evict the least recently used
-- entry when the store made one entry too many.
-- KEYS[1]  values hash    KEYS[2]  recency zset    KEYS[3]  clock counter
-- KEYS[4]  the capacity (read here: a resize by any client counts at once)
-- ARGV[1]  the key        ARGV[2]  the value
-- returns  the evicted key, or nil when nothing was evicted
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
if redis.call('ZCARD', KEYS[2]) > tonumber(redis.call('GET', KEYS[4])) then
    local oldest = redis.call('ZPOPMIN', KEYS[2])[1]
    redis.call('HDEL', KEYS[1], oldest)
    return oldest
end
return false
"""

RESIZE = """
-- Set a new capacity and evict the least recently used entries down to it.
-- KEYS[1]  values hash    KEYS[2]  recency zset    KEYS[3]  the capacity
-- ARGV[1]  the new capacity (checked by the client: an integer >= 1)
-- returns  the number of entries evicted
local capacity = tonumber(ARGV[1])
redis.call('SET', KEYS[3], capacity)
local evicted = 0
while redis.call('ZCARD', KEYS[2]) > capacity do
    local oldest = redis.call('ZPOPMIN', KEYS[2])[1]
    redis.call('HDEL', KEYS[1], oldest)
    evicted = evicted + 1
end
return evicted
"""

DELETE = """
-- Remove the key and its stamp.
-- KEYS[1]  values hash    KEYS[2]  recency zset
-- ARGV[1]  the key
-- returns  1 when the key was present, 0 when absent
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""


POP = """
-- Remove the key and return its value.
-- KEYS[1]  values hash    KEYS[2]  recency zset
-- ARGV[1]  the key
-- returns  the value, or nil when the key was absent (nothing changes then)
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('ZREM', KEYS[2], ARGV[1])
end
return value
"""

POPITEM = """
-- Remove and return the least recently used entry.
-- KEYS[1]  values hash    KEYS[2]  recency zset
-- returns  {key, value}, or nil when the cache is empty
local oldest = redis.call('ZPOPMIN', KEYS[2])[1]
if not oldest then
    return nil
end
local value = redis.call('HGET', KEYS[1], oldest)
redis.call('HDEL', KEYS[1], oldest)
return {oldest, value}
"""

ITEMS = """
-- Every entry, least recently used first, read in one step.
-- KEYS[1]  values hash    KEYS[2]  recency zset
-- returns  {key1, value1, key2, value2, ...}
local out = {}
for _, key in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    out[#out + 1] = key
    out[#out + 1] = redis.call('HGET', KEYS[1], key)
end
return out
"""


class RedisLRUClient:
    """An LRU cache client over one Redis connection."""

    def __init__(self, redis: Any, namespace: str) -> None:
        self._redis = redis
        self._values = f"{namespace}lru:values"
        self._recency = f"{namespace}lru:recency"
        self._clock = f"{namespace}lru:clock"
        self._capacity_key = f"{namespace}lru:capacity"
        self._capacity: int | None = None
        self._get = redis.register_script(GET)
        self._put = redis.register_script(PUT)
        self._delete = redis.register_script(DELETE)
        self._pop = redis.register_script(POP)
        self._popitem = redis.register_script(POPITEM)
        self._items = redis.register_script(ITEMS)
        self._resize = redis.register_script(RESIZE)

    def configure(self, capacity: int) -> None:
        """Fix the shared cache's capacity, or join it if another client fixed the same."""
        check_capacity(capacity)
        # SET NX GET: set it if nobody has, and learn what was there, in one step.
        before = self._redis.set(self._capacity_key, capacity, nx=True, get=True)
        if before is not None and int(before) != capacity:
            raise capacity_mismatch(before, capacity)
        self._capacity = capacity

    def _cap(self) -> int:
        if self._capacity is None:
            raise RuntimeError("call configure(capacity) before using the cache")
        return self._capacity

    def get(self, key: str) -> str | None:
        self._cap()
        value: str | None = self._get(keys=[self._values, self._recency, self._clock], args=[key])
        return value

    def put(self, key: str, value: str) -> None:
        self._cap()
        self._put(
            keys=[self._values, self._recency, self._clock, self._capacity_key], args=[key, value]
        )

    def delete(self, key: str) -> bool:
        self._cap()
        return bool(self._delete(keys=[self._values, self._recency], args=[key]))

    def pop(self, key: str) -> str | None:
        self._cap()
        value: str | None = self._pop(keys=[self._values, self._recency], args=[key])
        return value

    def popitem(self) -> tuple[str, str]:
        self._cap()
        got = self._popitem(keys=[self._values, self._recency])
        if not got:
            raise KeyError("popitem(): the cache is empty")
        return got[0], got[1]

    def clear(self) -> None:
        # One DEL of both keys: atomic. The clock and the capacity stay.
        self._cap()
        self._redis.delete(self._values, self._recency)

    def resize(self, capacity: int) -> None:
        """Change the shared cache's capacity (a later configure must name the new one)."""
        self._cap()
        check_capacity(capacity)  # before anything changes (LRU-24)
        self._resize(keys=[self._values, self._recency, self._capacity_key], args=[capacity])
        self._capacity = capacity

    def items(self) -> list[tuple[str, str]]:
        flat = self._items(keys=[self._values, self._recency])
        return list(zip(flat[::2], flat[1::2], strict=True))

    def values(self) -> list[str]:
        return [v for _, v in self.items()]

    def contains(self, key: str) -> bool:
        return bool(self._redis.hexists(self._values, key))

    def size(self) -> int:
        return int(self._redis.hlen(self._values))

    def peek(self, key: str) -> str | None:
        value: str | None = self._redis.hget(self._values, key)
        return value

    def keys(self) -> list[str]:
        # The recency order, oldest first (lru-first): the zset holds every key.
        return list(self._redis.zrange(self._recency, 0, -1))

    def close(self) -> None:
        self._redis.close()


def _connect(url: str | None) -> Any:
    if not url:
        raise BackendUnavailable("the Redis LRU cache needs a Redis URL: pass --redis-url")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries, as in the lock reference: a retried put could land twice and
    # a timed-out call would hang for several socket timeouts.
    return redis_client(url, decode_responses=True, retry=Retry(NoBackoff(), 0))


def factory(ctx: Context) -> Implementation:
    """The Redis reference LRU cache for ``ctx``; connects only when a client is made."""
    return Implementation(
        client=lambda: RedisLRUClient(_connect(ctx.redis_url), ctx.namespace),
        capabilities=frozenset(
            {
                "shared",
                "thread-safe",
                "contains",
                "size",
                "peek",
                "keys",
                "popitem",
                "items",
                "lru-first",
                "pop",
                "clear",
                "resize",
            }
        ),
        needs=frozenset({"redis"}),
        package="distconform",
        description="Redis reference (hash + zset of INCR stamps, one Lua script per change)",
    )

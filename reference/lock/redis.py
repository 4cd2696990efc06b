"""Redis lock: one key per lock, a lease by ``PX`` expiry, a fencing counter beside it.

Scope: one Redis server, reached by any number of clients in any number of
processes. A grant is the key ``{ns}lock:{name}`` holding a random 128-bit
owner token, set with ``NX PX``; the fencing counter ``{ns}fence:{name}``
never expires, so tokens keep rising across releases and expiries. The TTL is
measured by the server's clock; client clocks do not matter.

Non-goals: replication and failover (Redis replicates asynchronously, so a
promoted replica may not know a grant), clusters, Redlock's majority of
masters, fairness, re-entrancy. See spec/lock.md, "Non-guarantees". Grants
and tokens survive a server restart only when the server persists every write
(``appendonly yes``, ``appendfsync always``); see "Server restarts".

Why release compares tokens instead of a plain ``DEL``::

    t=0    A acquires "res" (ttl 10 s), then pauses (GC, SIGSTOP, slow disk)
    t=10   A's grant runs out; B acquires "res" (ttl 10 s)
    t=11   A resumes, finishes, releases "res"
           plain DEL: deletes *B's* grant; C acquires at once; B and C both
           hold "res" (LOCK-1, LOCK-3 broken)
           compare-and-delete: A's token is not in the key; nothing happens,
           release returns False

Extend compares for the same reason: A's late extend must not prolong B's
grant (LOCK-15). Each comparison runs in a Lua script, so no other command
can come between the GET and the DEL / PEXPIRE.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.errors import BackendUnavailable

__all__ = ["RedisLockClient", "RedisLockHandle", "factory"]

#: Seconds between two attempts of a blocking acquire (jittered by +-50 % so
#: that waiting clients do not ask in lockstep). Short against the spec's 1 s
#: tolerance, long enough not to flood the server.
_POLL = 0.01

ACQUIRE = """
-- Grant the lock if it is free, and draw the next fencing token.
-- KEYS[1]  the lock key        KEYS[2]  the fencing counter (never expires)
-- ARGV[1]  the owner token     ARGV[2]  the TTL in milliseconds
-- returns  the new fencing token (integer) when granted, nil when held
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return redis.call('INCR', KEYS[2])
end
return false
"""

RELEASE = """
-- Delete the lock only if this grant still holds it.
-- KEYS[1]  the lock key
-- ARGV[1]  the owner token
-- returns  1 when our grant was deleted, 0 when the key is gone or someone else's
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

EXTEND = """
-- Set the grant's TTL to ARGV[2] ms from now, only if this grant still holds it.
-- KEYS[1]  the lock key
-- ARGV[1]  the owner token     ARGV[2]  the new TTL in milliseconds
-- returns  1 when our grant was extended, 0 when the key is gone or someone else's
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True)
class RedisLockHandle:
    """One grant: the lock's name, its owner token and its fencing token."""

    name: str
    owner: str
    token: int


def _ttl_ms(ttl: object) -> int:
    """The TTL in whole milliseconds, rounded up so a grant never lasts less than asked."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise ValueError(f"ttl must be a number of seconds, got {ttl!r}")
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"ttl must be a positive, finite number of seconds, got {ttl!r}")
    return max(1, math.ceil(ttl * 1000))


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    return float(timeout)


class RedisLockClient:
    """A lock client over one Redis connection."""

    def __init__(self, redis: Any, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace
        self._acquire = redis.register_script(ACQUIRE)
        self._release = redis.register_script(RELEASE)
        self._extend = redis.register_script(EXTEND)

    def _key(self, name: str) -> str:
        return f"{self._ns}lock:{name}"

    def _fence(self, name: str) -> str:
        return f"{self._ns}fence:{name}"

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> RedisLockHandle | None:
        """The grant, or None when the lock stayed held for ``timeout`` seconds."""
        ms = _ttl_ms(ttl)
        deadline = time.monotonic() + _check_timeout(timeout)
        keys = [self._key(name), self._fence(name)]
        while True:
            owner = secrets.token_hex(16)
            token = self._acquire(keys=keys, args=[owner, ms])
            if token is not None:
                return RedisLockHandle(name, owner, int(token))
            # Checked after the attempt, so a blocking acquire never gives up
            # before its deadline and timeout=0 asks exactly once (LOCK-8, LOCK-9).
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, _POLL * random.uniform(0.5, 1.5)))

    def release(self, handle: RedisLockHandle) -> bool:
        """True when this call freed the handle's own grant."""
        return bool(self._release(keys=[self._key(handle.name)], args=[handle.owner]))

    def extend(self, handle: RedisLockHandle, ttl: float) -> bool:
        """Make the handle's grant last ``ttl`` seconds from now; False if it holds nothing."""
        ms = _ttl_ms(ttl)
        return bool(self._extend(keys=[self._key(handle.name)], args=[handle.owner, ms]))

    def token(self, handle: RedisLockHandle) -> int:
        """The grant's fencing token: greater than every earlier grant's of the same lock."""
        return handle.token

    def close(self) -> None:
        self._redis.close()


def _connect(url: str | None) -> Any:
    if not url:
        raise BackendUnavailable("the Redis lock needs a Redis URL: pass --redis-url")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries, said explicitly because redis-py's default differs between
    # versions and constructors (redis.Redis() retries three times): one call
    # is one round trip, bounded by the socket timeout, and an acquire whose
    # reply was lost (it may have been granted) is never sent twice.
    return redis_client(url, retry=Retry(NoBackoff(), 0))


def factory(ctx: Context) -> Implementation:
    """The Redis reference lock for ``ctx``; connects only when a client is made."""
    return Implementation(
        client=lambda: RedisLockClient(_connect(ctx.redis_url), ctx.namespace),
        capabilities=frozenset({"distributed", "extend", "fencing"}),
        needs=frozenset({"redis"}),
        package="distconform",
        description="Redis reference (SET NX PX + fencing counter, Lua compare-and-delete)",
    )

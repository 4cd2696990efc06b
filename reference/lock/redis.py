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
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.errors import BackendUnavailable

__all__ = ["RedisLockClient", "RedisLockHandle", "factory"]

#: Renewals per TTL of a renewing grant: the grant survives two lost renewals.
RENEWALS_PER_TTL = 3

#: Seconds between two attempts of a blocking acquire (jittered by +-50 % so
#: that waiting clients do not ask in lockstep). Short against the spec's 1 s
#: tolerance, long enough not to flood the server.
_POLL = 0.01

ACQUIRE = """
-- Grant the lock if it is free, and draw the next fencing token.
-- KEYS[1]  the lock key        KEYS[2]  the fencing counter (never expires)
-- ARGV[1]  the owner token     ARGV[2]  the TTL in milliseconds, or "none" (no TTL)
-- returns  the new fencing token (integer) when granted, nil when held
local ok
if ARGV[2] == 'none' then
    ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
    ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
end
if ok then
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


REMAINING = """
-- How long this grant still holds the lock.
-- KEYS[1]  the lock key
-- ARGV[1]  the owner token
-- returns  milliseconds left (>= 1), -1 for a grant without a TTL, 0 when the
--          key is gone or someone else's
if redis.call('GET', KEYS[1]) == ARGV[1] then
    local ms = redis.call('PTTL', KEYS[1])
    if ms == -1 then return -1 end
    return math.max(ms, 1)
end
return 0
"""


@dataclass(frozen=True)
class RedisLockHandle:
    """One grant: the lock's name, its owner token and its fencing token.

    ``renewal`` is set for a renewing grant: the event that stops its renewal thread.
    """

    name: str
    owner: str
    token: int
    renewal: threading.Event | None = field(default=None, compare=False, repr=False)


def _ttl_arg(ttl: object) -> int | str:
    """The TTL as ACQUIRE's ARGV[2]: whole milliseconds, or "none" for ``ttl=None``."""
    return "none" if ttl is None else _ttl_ms(ttl)


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
        self._remaining = redis.register_script(REMAINING)

    def _key(self, name: str) -> str:
        return f"{self._ns}lock:{name}"

    def _fence(self, name: str) -> str:
        return f"{self._ns}fence:{name}"

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> RedisLockHandle | None:
        """The grant, or None when the lock stayed held for ``timeout`` seconds.

        ``ttl=None``: a grant without a TTL, held until released (a holder that
        dies without releasing then blocks the lock for ever: use with care).
        """
        ms = _ttl_arg(ttl)
        deadline = time.monotonic() + _check_timeout(timeout)
        keys = [self._key(name), self._fence(name)]
        while True:
            owner = secrets.token_hex(16)
            sent = time.monotonic()
            token = self._acquire(keys=keys, args=[owner, ms])
            if token is not None:
                if ttl is None or time.monotonic() - sent < ttl:
                    return RedisLockHandle(name, owner, int(token))
                # The reply came back after a grant made at the earliest at
                # `sent` had run out (a slow network, a paused client): hand out
                # nothing that is already over (LOCK-29); the compare-and-delete
                # frees it in the unlikely case that it still holds.
                self._release(keys=keys[:1], args=[owner])
            # Checked after the attempt, so a blocking acquire never gives up
            # before its deadline and timeout=0 asks exactly once (LOCK-8, LOCK-9).
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, _POLL * random.uniform(0.5, 1.5)))

    def release(self, handle: RedisLockHandle) -> bool:
        """True when this call freed the handle's own grant (a renewing grant stops renewing)."""
        if handle.renewal is not None:
            handle.renewal.set()
        return bool(self._release(keys=[self._key(handle.name)], args=[handle.owner]))

    def extend(self, handle: RedisLockHandle, ttl: float) -> bool:
        """Make the handle's grant last ``ttl`` seconds from now; False if it holds nothing."""
        ms = _ttl_ms(ttl)
        return bool(self._extend(keys=[self._key(handle.name)], args=[handle.owner, ms]))

    def owned(self, handle: RedisLockHandle) -> bool:
        """True while the handle's grant holds the lock."""
        return self.remaining(handle) != 0

    def remaining(self, handle: RedisLockHandle) -> float | None:
        """Seconds left in the handle's grant (server's clock); 0 if none; None without a TTL."""
        ms = int(self._remaining(keys=[self._key(handle.name)], args=[handle.owner]))
        return None if ms == -1 else ms / 1000

    def acquire_renewing(
        self, name: str, ttl: float, timeout: float = 0.0
    ) -> RedisLockHandle | None:
        """A grant that a daemon thread extends every third of ``ttl`` until release.

        The thread stops at release, and at the first extend that finds the
        grant gone (``owned`` then says False). An error reaching the server
        (a restart, a cut connection) does not stop it: it tries again at the
        next period, until the grant has certainly run out (``ttl`` after the
        last successful renewal was sent), so that a server back within the
        TTL keeps the grant. It dies with the process, so a dead holder's grant
        runs out one TTL after its last renewal (LOCK-19). A paused process
        pauses its renewal too: see spec/lock.md, "Non-guarantees".
        """
        ms = _ttl_ms(ttl)
        sent = time.monotonic()
        handle = self.acquire(name, ttl, timeout)
        if handle is None:
            return None
        stop = threading.Event()
        handle = RedisLockHandle(handle.name, handle.owner, handle.token, stop)
        keys, args = [self._key(name)], [handle.owner, ms]

        def renew() -> None:
            last_ok = sent  # the grant certainly lasts until last_ok + ttl
            while not stop.wait(ttl / RENEWALS_PER_TTL):
                attempt = time.monotonic()
                try:
                    if not self._extend(keys=keys, args=args):
                        return  # the grant is gone
                    last_ok = attempt
                except Exception:
                    if time.monotonic() >= last_ok + ttl:
                        return  # it has run out by now, whatever the server says later

        threading.Thread(target=renew, name=f"renew-{name}", daemon=True).start()
        return handle

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
        capabilities=frozenset(
            {"distributed", "extend", "fencing", "no-ttl", "owned", "remaining", "auto-renew"}
        ),
        needs=frozenset({"redis"}),
        package="distconform",
        description="Redis reference (SET NX PX + fencing counter, Lua compare-and-delete)",
    )

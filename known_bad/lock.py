"""Known-bad locks: real mistakes, each small enough to read in a minute.

Every class below is a lock that someone has written, or would write, and
believed correct. Each is right except for the one mistake its docstring
names, so that the clause it breaks is the one that catches it. The seed
ports (``seed_set``, ``seed_setnx``) come from seed questions 5 and 17 of
``000_e2600301e6e42737.txt`` (Go, go-redis); questions 20 and 29 are the same
code as question 17, so they add no entry.

All Redis keys start with ``ctx.namespace``. The retry loop that turns a
one-shot ``try_acquire`` into a blocking ``acquire`` is adapter glue (the
seeds' ``Lock`` only tries once) and is correct unless a class says otherwise.
"""

from __future__ import annotations

import inspect
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.known_bad import KnownBad

__all__ = ["KNOWN_BAD"]

#: Seconds between two tries of a blocking acquire.
_RETRY = 0.01


@dataclass(frozen=True)
class Handle:
    """One grant: the key it holds, the value that proves ownership, its token."""

    key: str
    value: str
    token: int = 0
    #: The TTL it was granted with (None: no TTL).
    ttl: float | None = None
    #: Set for a renewing grant: tells its renewal thread to stop.
    stop: threading.Event | None = field(default=None, compare=False)


def _ms(ttl: float) -> int:
    # Round up: a grant cut short by rounding would break LOCK-5 by itself.
    return max(1, math.ceil(ttl * 1000))


def _check(ttl: float | None, timeout: float) -> None:
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")


# KEYS[1] lock key; ARGV[1] the caller's owner value.
# Returns 1 when the caller held the lock and it is now deleted, else 0.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] lock key; ARGV[1] the caller's owner value.
# Returns the grant's remaining ms, -1 for a grant without expiry, 0 when the caller holds nothing.
_REMAINING = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    local ms = redis.call('PTTL', KEYS[1])
    if ms == -1 then return -1 end
    return math.max(ms, 1)
end
return 0
"""

# KEYS[1] lock key; ARGV[1] the caller's owner value, ARGV[2] new ttl in ms.
# Returns 1 when the caller held the lock and its expiry is now reset, else 0.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisLock:
    """A Redis lock (SET NX PX, compare-and-delete): correct until a subclass says otherwise.

    It has every optional ability of spec/lock.md, so that each known-bad can
    get exactly one of them wrong: grants without a TTL (SET NX with no PX),
    ``owned`` and ``remaining`` (Lua: compare the owner, then PTTL), and
    renewing grants (a daemon thread per grant extends it every third of its
    TTL through the compare-and-PEXPIRE script, until release or until an
    extend fails). Handles are plain values: any thread may use them. It is
    not re-entrant: a second acquire by the same client is refused (SET NX).
    """

    def __init__(self, ctx: Context) -> None:
        if not ctx.redis_url:
            raise ValueError("this lock needs Redis: pass --redis-url or set DISTCONFORM_REDIS_URL")
        self._ns = ctx.namespace
        self._r = redis_client(ctx.redis_url)
        self._release = self._r.register_script(_RELEASE)
        self._extend = self._r.register_script(_EXTEND)
        self._remaining = self._r.register_script(_REMAINING)

    def key(self, name: str) -> str:
        return self._ns + name

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> Handle | None:
        _check(ttl, timeout)
        deadline = time.monotonic() + timeout
        while True:
            sent = time.monotonic()
            handle = self.try_acquire(self.key(name), ttl)
            if handle is not None:
                if self.still_valid(handle, ttl, sent):
                    return handle
                self._release(keys=[handle.key], args=[handle.value])  # already over
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(_RETRY, left))

    def still_valid(self, handle: Handle, ttl: float | None, sent: float) -> bool:
        """False when the reply came back after a grant made at ``sent`` had run out."""
        return ttl is None or time.monotonic() - sent < ttl

    def try_acquire(self, key: str, ttl: float | None) -> Handle | None:
        value = secrets.token_hex(16)
        px = None if ttl is None else _ms(ttl)
        if self._r.set(key, value, nx=True, px=px):
            return Handle(key, value, ttl=ttl)
        return None

    def release(self, handle: Handle) -> bool:
        if handle.stop is not None:
            handle.stop.set()
        return bool(self._release(keys=[handle.key], args=[handle.value]))

    def extend(self, handle: Handle, ttl: float) -> bool:
        _check(ttl, 0)
        return bool(self._extend(keys=[handle.key], args=[handle.value, _ms(ttl)]))

    def token(self, handle: Handle) -> int:
        return handle.token

    def owned(self, handle: Handle) -> bool:
        return self._r.get(handle.key) == handle.value.encode()

    def remaining(self, handle: Handle) -> float | None:
        ms = int(self._remaining(keys=[handle.key], args=[handle.value]))
        return None if ms == -1 else ms / 1000

    # ------------------------------------------------------------ renewal

    #: The renewal period as a share of the TTL: three renewals per TTL.
    RENEW_EVERY = 1 / 3

    def acquire_renewing(self, name: str, ttl: float, timeout: float = 0.0) -> Handle | None:
        handle = self.acquire(name, ttl, timeout)
        if handle is None:
            return None
        stop = threading.Event()
        handle = Handle(handle.key, handle.value, handle.token, ttl, stop)
        self.start_renewal(handle, ttl, stop)
        return handle

    def start_renewal(self, handle: Handle, ttl: float, stop: threading.Event) -> None:
        # redis-py's client is a connection pool: the thread gets a connection of its own.
        def renew() -> None:
            try:
                while not stop.wait(ttl * self.RENEW_EVERY):
                    if not self.renew_once(handle, ttl):
                        return  # the grant is gone: owned() says so from now on
            except Exception:
                return  # cannot reach Redis: the grant runs out at its TTL

        threading.Thread(target=renew, daemon=True, name=f"renew-{handle.key}").start()

    def renew_once(self, handle: Handle, ttl: float) -> bool:
        return bool(self._extend(keys=[handle.key], args=[handle.value, _ms(ttl)]))

    def close(self) -> None:
        self._r.close()


# ------------------------------------------------------------------ the seeds


class SeedSet(RedisLock):
    """Seed question 5: ``SET key "locked" timeout`` with no NX, and ``DEL`` to unlock.

    ``client.Set(l.key, "locked", l.timeout)`` always answers OK, whoever holds
    the key, so every ``Lock`` succeeds: it overwrites the holder's grant
    instead of waiting for it (LOCK-1, LOCK-9, and every clause that needs a
    held lock to be refused). ``Unlock`` is ``client.Del(l.key)``: it deletes
    whatever grant is there, and reports success (nil error) even when the
    caller held nothing (LOCK-3, LOCK-4).
    """

    def try_acquire(self, key: str, ttl: float) -> Handle | None:
        # go-redis sends PX for a duration that is not whole seconds: same here.
        self._r.set(key, "locked", px=_ms(ttl))
        return Handle(key, "locked")

    def release(self, handle: Handle) -> bool:
        self._r.delete(handle.key)
        return True  # Unlock returns Del(...).Err(): nil whenever Redis answered


class SeedSetnx(RedisLock):
    """Seed question 17 (also 20 and 29): ``SETNX key "locked" expiration``, ``DEL`` to unlock.

    Acquiring is right: SET NX with an expiry. Releasing is not: every holder
    writes the same value "locked", so ``Unlock`` cannot tell its own grant
    from the next holder's, and its unconditional ``DEL`` frees a lock that
    another client was granted after the caller's grant ran out (LOCK-3). It
    also reports success when the caller held nothing (LOCK-4).
    """

    def try_acquire(self, key: str, ttl: float) -> Handle | None:
        if self._r.set(key, "locked", nx=True, px=_ms(ttl)):
            return Handle(key, "locked")
        return None

    def release(self, handle: Handle) -> bool:
        self._r.delete(handle.key)
        return True  # Unlock returns Del(...).Err(): nil whenever Redis answered


# ------------------------------------------------------------ release mistakes


class GetThenDel(RedisLock):
    """The check-then-act release: GET the value, compare, then DEL, in two round trips.

    The usual "fix" for the seeds' unconditional DEL, found in many blog
    posts before the Lua script of the Redis docs. Between the GET and the DEL
    the client may pause (GC, a slow network: the fault model allows any
    delay); if the grant runs out meanwhile and another client is granted the
    lock, the DEL deletes the new holder's grant (LOCK-3). The pause is
    modelled as a fixed 1.0 s so that the race is lost every time.
    """

    #: The pause between GET and DEL: as long as a 1 s grant, so the race is always lost.
    PAUSE = 1.0

    def release(self, handle: Handle) -> bool:
        if self._r.get(handle.key) != handle.value.encode():
            return False
        time.sleep(self.PAUSE)
        self._r.delete(handle.key)
        return True


class ReleaseNoop(RedisLock):
    """A release that reports success and does nothing.

    What a wrapper ends up doing when its release swallows errors (``except
    Exception: pass; return True``) or releases on a different connection or
    key than it acquired on. The lock stays held until its TTL runs out
    (LOCK-2, LOCK-10), and a second release still says True (LOCK-4).
    """

    def release(self, handle: Handle) -> bool:
        return True


# ---------------------------------------------------------------- TTL mistakes


class NoTtl(RedisLock):
    """SET NX with no expiry: the TTL argument is accepted and ignored.

    The pre-2.6.12 recipe ``SETNX key value`` (the expiry set by a separate
    EXPIRE that is then forgotten, or never reached because the client died
    between the two calls). A grant lasts until someone releases it, so a
    holder that dies blocks everyone forever (LOCK-7) and a short TTL is
    neither honoured nor refused (LOCK-6).
    """

    def try_acquire(self, key: str, ttl: float) -> Handle | None:
        value = secrets.token_hex(16)
        if self._r.set(key, value, nx=True):
            return Handle(key, value)
        return None


class TruncatedTtl(RedisLock):
    """``SET key value NX EX int(ttl)``: the TTL cut down to whole seconds.

    Written by someone who read ``EX seconds`` in the SET docs and passed a
    float TTL through ``int()``. A 1.5 s grant lasts 1 s (LOCK-5); a 0.4 s TTL
    becomes ``EX 0``, which Redis refuses with "invalid expire time", a
    ResponseError rather than the ValueError LOCK-6 allows.
    """

    def try_acquire(self, key: str, ttl: float) -> Handle | None:
        value = secrets.token_hex(16)
        if self._r.set(key, value, nx=True, ex=int(ttl)):
            return Handle(key, value)
        return None


# ------------------------------------------------------------ waiting mistakes


class EarlyTimeout(RedisLock):
    """A blocking acquire that counts tries instead of watching the clock, and gives up early.

    It makes ``timeout / RETRY_DELAY`` tries, but sleeps half of RETRY_DELAY
    between them (the sleep was shortened "to notice a release sooner" and the
    count was never updated), so it returns None at about half its timeout
    (LOCK-8). Counting tries is the mistake: it can also never account for
    round trips.
    """

    RETRY_DELAY = 0.1

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> Handle | None:
        _check(ttl, timeout)
        tries = max(1, int(timeout / self.RETRY_DELAY))
        for i in range(tries):
            handle = self.try_acquire(self.key(name), ttl)
            if handle is not None:
                return handle
            if i + 1 < tries:
                time.sleep(self.RETRY_DELAY / 2)
        return None


class FalsyTimeout(RedisLock):
    """``timeout = timeout or DEFAULT_TIMEOUT``: a zero timeout becomes the default wait.

    The Python idiom for "use the default when none is given" treats 0 as
    missing, so the non-blocking ``acquire(name, ttl, 0)`` of a held lock
    waits DEFAULT_TIMEOUT seconds before it returns None (LOCK-9).
    """

    DEFAULT_TIMEOUT = 5.0

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> Handle | None:
        return super().acquire(name, ttl, timeout or self.DEFAULT_TIMEOUT)


# KEYS[1] lock key, KEYS[2] the waiters' queue; ARGV[1] the caller's ticket, ARGV[2] ttl in ms.
# Returns 1 when the ticket is first in the queue and the lock was free: the
# caller now holds the lock (value = ticket) and its ticket left the queue. Else 0.
_FAIR_TRY = """
if redis.call('LINDEX', KEYS[2], 0) == ARGV[1]
        and redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    redis.call('LPOP', KEYS[2])
    return 1
end
return 0
"""


class FairQueueLeak(RedisLock):
    """A first-come-first-served lock whose waiters never leave the queue when they give up.

    Each acquire appends a ticket to a Redis list and may take the lock only
    when its ticket is first. A granted ticket is popped; a ticket whose
    acquire timed out is not (Redisson's fair lock needs a whole timeout
    mechanism to remove such tickets). The abandoned ticket stays first for
    ever, so after the holder releases, no one else is ever granted the lock
    (LOCK-10).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._fair_try = self._r.register_script(_FAIR_TRY)

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> Handle | None:
        _check(ttl, timeout)
        key, queue = self.key(name), self.key(name) + ":queue"
        ticket = secrets.token_hex(16)
        self._r.rpush(queue, ticket)
        deadline = time.monotonic() + timeout
        while True:
            if self._fair_try(keys=[key, queue], args=[ticket, _ms(ttl)]):
                return Handle(key, ticket)
            left = deadline - time.monotonic()
            if left <= 0:
                return None  # the mistake: the ticket stays in the queue
            time.sleep(min(_RETRY, left))


class IgnoresName(RedisLock):
    """One key for every lock name: the seeds' ``NewRedisLock(client, "my-lock", ...)``.

    A lock object built around a fixed key, wrapped behind an interface that
    takes a name and drops it. Holding any lock blocks every other (LOCK-11).
    """

    def key(self, name: str) -> str:
        return self._ns + "my-lock"


# ----------------------------------------------------------- fencing mistakes


class RandomToken(RedisLock):
    """The grant's random owner value offered as its fencing token.

    A Redlock-style lock has a random value per grant and no counter; an
    implementation asked for a fencing token returns that value as a number.
    It identifies the grant, but it does not increase: a later grant can carry
    a smaller token, and a fenced resource then rejects the current holder or
    accepts a stale one (LOCK-12).
    """

    def try_acquire(self, key: str, ttl: float) -> Handle | None:
        value = secrets.token_hex(8)
        if self._r.set(key, value, nx=True, px=_ms(ttl)):
            return Handle(key, value, int(value, 16))
        return None


# KEYS[1] lock key, KEYS[2] counter; ARGV[1] owner value, ARGV[2] ttl in ms.
# Returns the counter's value (0 when unset) as the new grant's token, or nil when held.
_TOKEN_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return false
"""

# KEYS[1] lock key, KEYS[2] counter; ARGV[1] owner value.
# Returns 1 when the caller held the lock: it is deleted and the counter moves on. Else 0.
_TOKEN_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    redis.call('INCR', KEYS[2])
    return 1
end
return 0
"""


class TokenOnRelease(RedisLock):
    """A fencing counter that moves on at release, like a version bumped on commit.

    The token is the counter's value when the grant starts, and a release
    increments it. A grant that runs out is never released, so the next grant
    gets the same token (LOCK-12), and a paused holder's stale write carries a
    token equal to the new holder's, which a fenced resource accepts (LOCK-13).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._token_acquire = self._r.register_script(_TOKEN_ACQUIRE)
        self._token_release = self._r.register_script(_TOKEN_RELEASE)

    def try_acquire(self, key: str, ttl: float) -> Handle | None:
        value = secrets.token_hex(16)
        token = self._token_acquire(keys=[key, key + ":fence"], args=[value, _ms(ttl)])
        return None if token is None else Handle(key, value, int(token))

    def release(self, handle: Handle) -> bool:
        keys = [handle.key, handle.key + ":fence"]
        return bool(self._token_release(keys=keys, args=[handle.value]))


# ------------------------------------------------------------ extend mistakes


class UnconditionalExtend(RedisLock):
    """Extend as a bare ``PEXPIRE key ttl``, without checking who holds the key.

    The extend counterpart of the seeds' unconditional DEL. Through a stale
    handle it prolongs whichever grant is there now, the next holder's, and
    reports success (LOCK-15).
    """

    def extend(self, handle: Handle, ttl: float) -> bool:
        _check(ttl, 0)
        return bool(self._r.pexpire(handle.key, _ms(ttl)))


class ExtendNoop(RedisLock):
    """An extend that reports success and does nothing.

    What a "watchdog" ends up as when its renewal is scheduled on a thread
    that never runs, or when an adapter maps extend to a method of the wrong
    object. The grant still ends at its original TTL (LOCK-14), and extend
    through a released handle says True (LOCK-15).
    """

    def extend(self, handle: Handle, ttl: float) -> bool:
        _check(ttl, 0)
        return True


# ------------------------------------------------------------- no-TTL mistakes

# sherlock 0.4's acquire script, KEYS[1] lock key; ARGV[1] owner, ARGV[2] expiry in
# seconds or -1 for none. Returns 1 when SETNX took the key, else 0. ARGV values
# are strings, so ``ARGV[2] ~= -1`` is always true: "-1" is sent to EXPIRE too.
_SETNX_EXPIRE = """
local result = redis.call('SETNX', KEYS[1], ARGV[1])
if result == 1 and ARGV[2] ~= -1 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return result
"""


class NoTtlMinusOne(RedisLock):
    """ "No TTL" sent to Redis as ``EXPIRE key -1``, which deletes the key at once.

    sherlock 0.4 (``RedisLock(expire=None)``): its Lua script skips EXPIRE
    when the expiry is -1, but compares the string ``ARGV[2]`` with the number
    -1, which is never equal in Lua, so ``EXPIRE key -1`` runs and deletes the
    grant it has just made. The acquire says yes and nothing holds the lock:
    the next client is granted it at once (LOCK-16).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._setnx_expire = self._r.register_script(_SETNX_EXPIRE)

    def try_acquire(self, key: str, ttl: float | None) -> Handle | None:
        if ttl is not None:
            return super().try_acquire(key, ttl)
        value = secrets.token_hex(16)
        if self._setnx_expire(keys=[key], args=[value, -1]) == 1:
            return Handle(key, value, ttl=None)
        return None


# KEYS[1] lock key; ARGV[1] owner. Returns 1 when the caller's live grant was deleted, else 0.
_RELEASE_LIVE = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('PTTL', KEYS[1]) > 0 then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class ReleaseChecksExpiry(RedisLock):
    """A release that deletes the grant only if ``PTTL > 0``, "to skip grants that ran out".

    The check is redundant for a grant with a TTL (Redis deletes a key whose
    TTL ran out) and wrong for a grant without one: its PTTL is -1, so the
    holder's release returns False and the lock stays held for ever (LOCK-17).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._release_live = self._r.register_script(_RELEASE_LIVE)

    def release(self, handle: Handle) -> bool:
        return bool(self._release_live(keys=[handle.key], args=[handle.value]))


# ---------------------------------------------------------- renewal mistakes


class RenewalPeriodInMs(RedisLock):
    """The renewal period computed in milliseconds and slept as seconds.

    ``period = ttl_ms / 3`` handed to ``Event.wait``, which takes seconds: a
    1 s grant is renewed after 333 s, long after it ran out while its holder
    was alive and working (LOCK-18).
    """

    def start_renewal(self, handle: Handle, ttl: float, stop: threading.Event) -> None:
        def renew() -> None:
            while not stop.wait(_ms(ttl) / 3):
                if not self.renew_once(handle, ttl):
                    return

        threading.Thread(target=renew, daemon=True).start()


class ReleaseOnlyStopsRenewal(RedisLock):
    """Releasing a renewing grant stops its renewal and lets it run out, without deleting it.

    "It will expire within one TTL anyway": the lock stays held up to a TTL
    after the holder said it was done (LOCK-19).
    """

    def release(self, handle: Handle) -> bool:
        if handle.stop is None:
            return super().release(handle)
        handle.stop.set()
        return self.owned(handle)


class RenewBySet(RedisLock):
    """Renewal as ``SET key value PX ttl``: the grant is written again, whoever holds it now.

    Correct while the holder keeps its grant. When the holder was paused
    (SIGSTOP, a long GC) past its TTL and another client was granted the lock,
    the first renewal after the pause overwrites the new holder's grant: the
    old holder takes the lock back, and both believe they hold it (LOCK-20).
    """

    def renew_once(self, handle: Handle, ttl: float) -> bool:
        return bool(self._r.set(handle.key, handle.value, px=_ms(ttl)))


class SilentRenewalFailure(RedisLock):
    """``owned`` answers from a local flag that release clears but a failed renewal does not.

    python-redis-lock's renewal thread dies with NotAcquired when its extend
    fails, and nothing tells the holder. Here the renewal stops correctly, but
    the holder's ``owned`` keeps saying True after its grant ran out and
    another client holds the lock (LOCK-20).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._released: set[str] = set()

    def release(self, handle: Handle) -> bool:
        self._released.add(handle.value)
        return super().release(handle)

    def owned(self, handle: Handle) -> bool:
        return handle.value not in self._released


# --------------------------------------------------------- observer mistakes


class OwnedIsLocked(RedisLock):
    """``owned`` as ``EXISTS key``: "is the lock held", not "do I hold it".

    python-redis-lock's ``locked()`` and sherlock's ``locked()`` say whether
    anyone holds the lock; offered as "does my grant still hold", it says True
    to a holder whose grant ran out once another client holds the lock (LOCK-21).
    """

    def owned(self, handle: Handle) -> bool:
        return bool(self._r.exists(handle.key))


class RemainingIsTtl(RedisLock):
    """``remaining`` answers the TTL the grant was made with, not the time left.

    Read from the handle instead of the server: half a TTL later it still
    says the whole TTL, so a holder plans work past the end of its grant and
    another client is granted the lock before the time it was told (LOCK-22).
    """

    def remaining(self, handle: Handle) -> float | None:
        return handle.ttl


class RemainingOfAnyHolder(RedisLock):
    """``remaining`` as ``PTTL key`` without comparing the owner.

    Through a handle whose grant ran out it reports the time left of the next
    holder's grant, so an old holder believes it still holds the lock (LOCK-23).
    """

    def remaining(self, handle: Handle) -> float | None:
        ms = int(self._r.pttl(handle.key))
        return None if ms == -1 else max(ms, 0) / 1000


# ------------------------------------------------------- re-entrancy mistakes


# KEYS[1] lock key; ARGV[1] the client's id, ARGV[2] ttl in ms.
# Returns 1 when the key was free or already the client's (its expiry reset), else 0.
_ACQUIRE_OR_MINE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0
"""


class ClientIdOwner(RedisLock):
    """The owner value is the client's id (host and pid), not one value per grant.

    A common shortcut ("the owner is this process"): an acquire of a lock the
    client already holds finds its own id and succeeds, without counting. The
    client then holds two handles on one grant, and releasing either frees
    the lock while the other still believes it holds it (LOCK-24; declared
    re-entrant, LOCK-25).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._id = secrets.token_hex(16)
        self._acquire_or_mine = self._r.register_script(_ACQUIRE_OR_MINE)

    def try_acquire(self, key: str, ttl: float | None) -> Handle | None:
        assert ttl is not None  # it does not declare no-ttl
        if self._acquire_or_mine(keys=[key], args=[self._id, _ms(ttl)]) == 1:
            return Handle(key, self._id, ttl=ttl)
        return None


# ------------------------------------------------------------ thread mistakes


class ThreadLocalToken(RedisLock):
    """The grant's owner value kept in a ``threading.local``, like redis-py's default.

    A release from another thread finds no owner value and is refused, while
    the implementation does not declare thread-bound handles (LOCK-26).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._local = threading.local()

    def try_acquire(self, key: str, ttl: float | None) -> Handle | None:
        handle = super().try_acquire(key, ttl)
        if handle is not None:
            self._local.__dict__[handle.value] = True
        return handle

    def release(self, handle: Handle) -> bool:
        if not self._local.__dict__.pop(handle.value, False):
            return False  # "Cannot release a lock that's not owned"
        return super().release(handle)


class ThreadBoundForgets(ThreadLocalToken):
    """Thread-bound handles whose refused release forgets the grant's owner value.

    Declared thread-bound, so the refusal is allowed; but the release drops
    the owner value before it checks the thread (redis-py's release clears its
    token before the server has answered, redis-py#4258), so the acquiring
    thread can no longer release either and the lock stays held until its
    TTL (LOCK-26).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._forgotten: set[str] = set()

    def try_acquire(self, key: str, ttl: float | None) -> Handle | None:
        handle = super().try_acquire(key, ttl)
        if handle is not None:
            self._local.__dict__[handle.value] = threading.get_ident()
        return handle

    def release(self, handle: Handle) -> bool:
        if handle.value in self._forgotten:
            return False
        self._forgotten.add(handle.value)
        if self._local.__dict__.pop(handle.value, None) is None:
            return False
        return RedisLock.release(self, handle)


# ------------------------------------------------------- failed-call mistakes


class SetnxThenExpire(RedisLock):
    """sherlock 0.4's acquire: SETNX then EXPIRE with the TTL in seconds, in one script.

    ``EXPIRE`` takes whole seconds: a TTL of 0.4 s or 1.5 s is refused with
    an error, after the script's SETNX has already written the key (a Lua
    script is not rolled back). The acquire raises, and the key it leaves has
    no expiry: nobody can ever acquire the lock again (LOCK-27; and LOCK-6,
    whose allowed refusal is a ValueError).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._setnx_expire = self._r.register_script(_SETNX_EXPIRE)

    def try_acquire(self, key: str, ttl: float | None) -> Handle | None:
        assert ttl is not None  # it does not declare no-ttl
        value = secrets.token_hex(16)
        seconds: float | int = int(ttl) if float(ttl).is_integer() else ttl
        if self._setnx_expire(keys=[key], args=[value, seconds]) == 1:
            return Handle(key, value, ttl=ttl)
        return None


# -------------------------------------------------- check-then-act and lost replies


class CheckThenSet(RedisLock):
    """Acquire as ``GET key`` and, when empty, ``SET key value PX ttl``: two round trips.

    The check-then-act acquire of the seeds' era, with an owner value and a
    correct compare-and-delete release. Two clients that both GET an empty key
    before either SETs are both granted the lock (LOCK-1). The race window is
    one round trip, so only a concurrency test that runs long enough with
    enough contenders catches it: this entry measures that test's power.
    """

    def try_acquire(self, key: str, ttl: float | None) -> Handle | None:
        if self._r.get(key) is not None:
            return None
        value = secrets.token_hex(16)
        px = None if ttl is None else _ms(ttl)
        self._r.set(key, value, px=px)
        return Handle(key, value, ttl=ttl)


class ForgetsBeforeRelease(RedisLock):
    """Release marks the handle released before the server has answered.

    redis-py 8.1's ``Lock.release()`` sets its token to None and only then
    sends the compare-and-delete (redis-py#4258). When that request fails
    (the connection is cut) the grant is still there, but a retry of the
    release says "not owned" and returns False, so the lock stays held until
    its TTL runs out (LOCK-28).
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._released: set[str] = set()

    def release(self, handle: Handle) -> bool:
        if handle.value in self._released:
            return False
        self._released.add(handle.value)
        return super().release(handle)


class ZeroTtlAccepted(RedisLock):
    """A TTL check written as ``ttl < 0``: a TTL of 0 is taken, as a 1 ms grant.

    Whoever wrote the check thought of 0 as "no time at all, harmless";
    ``_ms`` rounds it up to PX 1, so the caller gets a handle to a grant that
    is over before it can use it (LOCK-30). Negative TTLs are still refused,
    and every positive TTL is handled as by RedisLock.
    """

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> Handle | None:
        if ttl != 0:
            return super().acquire(name, ttl, timeout)
        _check(None, timeout)
        deadline = time.monotonic() + timeout
        while True:
            handle = self.try_acquire(self.key(name), ttl)
            if handle is not None:
                return handle
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(_RETRY, left))


class ExtendTtlUnchecked(RedisLock):
    """extend passes its TTL to PEXPIRE unchecked: a TTL of 0 or less deletes the grant.

    acquire checks its TTL; extend, written later, converts seconds to
    milliseconds and hands them on. Redis takes a PEXPIRE of zero or less as
    "expire now" and deletes the key, and the script reports success, so the
    holder is told its grant was extended while the lock has become free for
    anyone (LOCK-30's extend half).
    """

    def extend(self, handle: Handle, ttl: float) -> bool:
        return bool(self._extend(keys=[handle.key], args=[handle.value, int(ttl * 1000)]))


class NoValidityCheck(RedisLock):
    """Hands out a grant however long the acquire's reply took, even past the TTL.

    The reply to SET NX PX arrives late (a slow network, a paused client):
    the grant has already run out on the server and another client may hold
    the lock, yet the caller is told it holds it. Redlock's "validity time"
    (TTL minus the time the acquire took) is the check this lock leaves out
    (LOCK-29).
    """

    def still_valid(self, handle: Handle, ttl: float | None, sent: float) -> bool:
        return True


# -------------------------------------------------------------- not distributed


_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


@dataclass
class ThreadHandle:
    lock: threading.Lock
    released: bool = False


class ThreadLock:
    """A process-local ``threading.Lock`` per name, presented as a distributed lock.

    It passes every test run with threads in one process, so it looks done;
    but each process has its own table of locks, so clients in different
    processes are all granted the same name at once (LOCK-1). Like
    threading.Lock, it has no notion of a TTL: a grant lasts until it is
    released, however short the TTL asked for (LOCK-6).
    """

    def __init__(self, ctx: Context) -> None:
        self._ns = ctx.namespace

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> ThreadHandle | None:
        _check(ttl, timeout)
        with _PROCESS_LOCKS_GUARD:
            lock = _PROCESS_LOCKS.setdefault(self._ns + name, threading.Lock())
        got = lock.acquire(timeout=timeout) if timeout > 0 else lock.acquire(blocking=False)
        return ThreadHandle(lock) if got else None

    def release(self, handle: ThreadHandle) -> bool:
        if handle.released:
            return False
        handle.released = True
        handle.lock.release()
        return True


# ------------------------------------------------------------------ factories


def _redis(ctx: Context, cls: type[RedisLock], capabilities: set[str]) -> Implementation:
    summary = (cls.__doc__ or cls.__name__).strip().splitlines()[0]
    return Implementation(
        client=lambda: cls(ctx),
        capabilities=frozenset({"distributed", *capabilities}),
        needs=frozenset({"redis"}),
        package="distconform",
        description=f"known-bad: {summary}",
    )


def seed_set(ctx: Context) -> Implementation:
    """Seed question 5: SET without NX."""
    return _redis(ctx, SeedSet, set())


def seed_setnx(ctx: Context) -> Implementation:
    """Seed question 17: SETNX, then an unconditional DEL."""
    return _redis(ctx, SeedSetnx, set())


def get_then_del(ctx: Context) -> Implementation:
    """GET, compare, DEL: two round trips."""
    return _redis(ctx, GetThenDel, set())


def release_noop(ctx: Context) -> Implementation:
    """Release does nothing."""
    return _redis(ctx, ReleaseNoop, set())


def no_ttl(ctx: Context) -> Implementation:
    """SET NX without expiry."""
    return _redis(ctx, NoTtl, set())


def truncated_ttl(ctx: Context) -> Implementation:
    """SET NX EX int(ttl)."""
    return _redis(ctx, TruncatedTtl, set())


def early_timeout(ctx: Context) -> Implementation:
    """Gives up at half its timeout."""
    return _redis(ctx, EarlyTimeout, set())


def falsy_timeout(ctx: Context) -> Implementation:
    """timeout 0 means the default wait."""
    return _redis(ctx, FalsyTimeout, set())


def fair_queue_leak(ctx: Context) -> Implementation:
    """FIFO waiters whose tickets outlive their timeout."""
    return _redis(ctx, FairQueueLeak, set())


def ignores_name(ctx: Context) -> Implementation:
    """One key for every name."""
    return _redis(ctx, IgnoresName, set())


def random_token(ctx: Context) -> Implementation:
    """A random fencing token."""
    return _redis(ctx, RandomToken, {"fencing"})


def token_on_release(ctx: Context) -> Implementation:
    """A fencing counter that moves on at release only."""
    return _redis(ctx, TokenOnRelease, {"fencing"})


def unconditional_extend(ctx: Context) -> Implementation:
    """Extend is a bare PEXPIRE."""
    return _redis(ctx, UnconditionalExtend, {"extend"})


def extend_noop(ctx: Context) -> Implementation:
    """Extend does nothing."""
    return _redis(ctx, ExtendNoop, {"extend"})


def no_ttl_minus_one(ctx: Context) -> Implementation:
    """No TTL sent as EXPIRE -1."""
    return _redis(ctx, NoTtlMinusOne, {"no-ttl"})


def release_checks_expiry(ctx: Context) -> Implementation:
    """Release only with PTTL > 0."""
    return _redis(ctx, ReleaseChecksExpiry, {"no-ttl"})


def renewal_period_in_ms(ctx: Context) -> Implementation:
    """Renews every ttl_ms / 3 seconds."""
    return _redis(ctx, RenewalPeriodInMs, {"auto-renew"})


def release_only_stops_renewal(ctx: Context) -> Implementation:
    """Release of a renewing grant lets it run out."""
    return _redis(ctx, ReleaseOnlyStopsRenewal, {"auto-renew"})


def renew_by_set(ctx: Context) -> Implementation:
    """Renewal rewrites the key unconditionally."""
    return _redis(ctx, RenewBySet, {"auto-renew"})


def silent_renewal_failure(ctx: Context) -> Implementation:
    """owned() from a local flag."""
    return _redis(ctx, SilentRenewalFailure, {"auto-renew"})


def owned_is_locked(ctx: Context) -> Implementation:
    """owned() is EXISTS."""
    return _redis(ctx, OwnedIsLocked, {"owned"})


def remaining_is_ttl(ctx: Context) -> Implementation:
    """remaining() is the granted TTL."""
    return _redis(ctx, RemainingIsTtl, {"remaining"})


def remaining_of_any_holder(ctx: Context) -> Implementation:
    """remaining() is PTTL of whoever holds."""
    return _redis(ctx, RemainingOfAnyHolder, {"remaining"})


def client_id_owner(ctx: Context) -> Implementation:
    """Owner value per client, not per grant."""
    return _redis(ctx, ClientIdOwner, set())


def client_id_owner_reentrant(ctx: Context) -> Implementation:
    """Owner value per client, declared re-entrant."""
    return _redis(ctx, ClientIdOwner, {"reentrant"})


def thread_local_token(ctx: Context) -> Implementation:
    """Thread-local owner value, not declared thread-bound."""
    return _redis(ctx, ThreadLocalToken, set())


def thread_bound_forgets(ctx: Context) -> Implementation:
    """Thread-bound; a refused release forgets the grant."""
    return _redis(ctx, ThreadBoundForgets, {"thread-bound"})


def setnx_then_expire(ctx: Context) -> Implementation:
    """SETNX + EXPIRE in whole seconds in one script."""
    return _redis(ctx, SetnxThenExpire, set())


def check_then_set(ctx: Context) -> Implementation:
    """GET, then SET PX when empty."""
    return _redis(ctx, CheckThenSet, set())


def forgets_before_release(ctx: Context) -> Implementation:
    """Release forgets the handle before the server answers."""
    return _redis(ctx, ForgetsBeforeRelease, set())


def no_validity_check(ctx: Context) -> Implementation:
    """Hands out grants whose reply came after the TTL."""
    return _redis(ctx, NoValidityCheck, set())


def zero_ttl_accepted(ctx: Context) -> Implementation:
    """Takes ttl 0 as a 1 ms grant."""
    return _redis(ctx, ZeroTtlAccepted, set())


def extend_ttl_unchecked(ctx: Context) -> Implementation:
    """extend with ttl 0 deletes the grant and reports success."""
    return _redis(ctx, ExtendTtlUnchecked, {"extend"})


def thread_lock(ctx: Context) -> Implementation:
    """A threading.Lock claimed to be distributed."""
    return Implementation(
        client=lambda: ThreadLock(ctx),
        capabilities=frozenset({"distributed"}),
        package="distconform",
        description="known-bad: a process-local threading.Lock presented as distributed",
    )


# ------------------------------------------------------------------ catalogue


def _entry(factory: Callable[[Context], Implementation], cls: type[Any], *breaks: str) -> KnownBad:
    return KnownBad(
        name=factory.__name__,
        mechanism="lock",
        spec=f"{__name__}:{factory.__name__}",
        breaks=breaks,
        why=inspect.cleandoc(cls.__doc__ or ""),
    )


#: Every known-bad lock and the clauses the conformance tests must fail for it.
KNOWN_BAD: list[KnownBad] = [
    _entry(
        seed_set,
        SeedSet,
        "LOCK-1",
        "LOCK-3",
        "LOCK-4",
        "LOCK-5",
        "LOCK-6",
        "LOCK-8",
        "LOCK-9",
        "LOCK-10",
        "LOCK-11",
    ),
    _entry(seed_setnx, SeedSetnx, "LOCK-3", "LOCK-4"),
    _entry(get_then_del, GetThenDel, "LOCK-3"),
    _entry(release_noop, ReleaseNoop, "LOCK-2", "LOCK-4", "LOCK-10"),
    _entry(no_ttl, NoTtl, "LOCK-6", "LOCK-7"),
    _entry(truncated_ttl, TruncatedTtl, "LOCK-5", "LOCK-6"),
    _entry(early_timeout, EarlyTimeout, "LOCK-8"),
    _entry(falsy_timeout, FalsyTimeout, "LOCK-9"),
    _entry(fair_queue_leak, FairQueueLeak, "LOCK-10"),
    _entry(ignores_name, IgnoresName, "LOCK-11"),
    _entry(random_token, RandomToken, "LOCK-12"),
    _entry(token_on_release, TokenOnRelease, "LOCK-12", "LOCK-13"),
    _entry(unconditional_extend, UnconditionalExtend, "LOCK-15"),
    _entry(extend_noop, ExtendNoop, "LOCK-14", "LOCK-15"),
    _entry(thread_lock, ThreadLock, "LOCK-1", "LOCK-6"),
    _entry(no_ttl_minus_one, NoTtlMinusOne, "LOCK-16"),
    _entry(release_checks_expiry, ReleaseChecksExpiry, "LOCK-17"),
    _entry(renewal_period_in_ms, RenewalPeriodInMs, "LOCK-18"),
    _entry(release_only_stops_renewal, ReleaseOnlyStopsRenewal, "LOCK-19"),
    _entry(renew_by_set, RenewBySet, "LOCK-20"),
    _entry(silent_renewal_failure, SilentRenewalFailure, "LOCK-20"),
    _entry(owned_is_locked, OwnedIsLocked, "LOCK-21"),
    _entry(remaining_is_ttl, RemainingIsTtl, "LOCK-22"),
    _entry(remaining_of_any_holder, RemainingOfAnyHolder, "LOCK-23"),
    _entry(client_id_owner, ClientIdOwner, "LOCK-24"),
    _entry(client_id_owner_reentrant, ClientIdOwner, "LOCK-25"),
    _entry(thread_local_token, ThreadLocalToken, "LOCK-26"),
    _entry(thread_bound_forgets, ThreadBoundForgets, "LOCK-26"),
    _entry(setnx_then_expire, SetnxThenExpire, "LOCK-6", "LOCK-27"),
    _entry(check_then_set, CheckThenSet, "LOCK-1"),
    _entry(forgets_before_release, ForgetsBeforeRelease, "LOCK-28"),
    _entry(no_validity_check, NoValidityCheck, "LOCK-29"),
    _entry(zero_ttl_accepted, ZeroTtlAccepted, "LOCK-30"),
    _entry(extend_ttl_unchecked, ExtendTtlUnchecked, "LOCK-30"),
]

"""Known-bad rate limiters: real mistakes, each small enough to read in a minute.

Most are the in-memory reference with the one mistake their docstring names,
on the injectable clock, so that the suite runs them on a fake clock. The
seed's limiter (questions 11 and 22 of ``000_e2600301e6e42737.txt``, Go) is
ported line for line onto Redis: ``INCR``, then ``EXPIRE`` only when the reply
equals the string ``"1"``, which an integer reply never does.

Every class is its own adapter: ``distconform.known_bad.ratelimit:Name.factory``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any, ClassVar

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.known_bad import KnownBad
from distconform.reference.ratelimit.memory import (
    ALGORITHMS,
    OBSERVERS,
    MemoryRateLimitClient,
    MemoryRateLimiter,
    Params,
    SharedLimiter,
    check_params,
)

__all__ = ["KNOWN_BAD"]


class Bad(MemoryRateLimiter):
    """The in-memory reference, unchanged: the base of the mistakes."""

    OFFERS: ClassVar[tuple[str, ...]] = ALGORITHMS
    EXTRA: ClassVar[frozenset[str]] = frozenset({"cost", "injectable-clock"})
    #: The clients' class: the reference's, unless the mistake is in ``configure``.
    CLIENT: ClassVar[type[MemoryRateLimitClient]] = MemoryRateLimitClient

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        shared = SharedLimiter(ctx.clock, cls)
        return Implementation(
            client=lambda: cls.CLIENT(shared, cls.OFFERS),
            capabilities=frozenset(cls.OFFERS) | cls.EXTRA,
            description=f"known-bad: {cls.__name__}",
        )


class FixedAsSlidingLog(Bad):
    """Declares a sliding log, counts in aligned fixed windows: 2N across a boundary."""

    OFFERS = ("sliding-log",)

    def sliding_log(self, key: str, now: float, cost: int) -> bool:
        return self.fixed_window(key, now, cost)


class OffByOne(Bad):
    """Compares the count before adding with ``<=``: admits N + 1 (and b + 1)."""

    def __init__(self, params: Params, clock: Any) -> None:
        super().__init__(params, clock)
        self.params = Params(
            params.algorithm, params.limit + 1, params.window, params.rate, params.burst + 1
        )


class LimitOneShort(Bad):
    """Rejects when the count reaches N - 1 (``>=`` for ``>``): the last unit is never given."""

    def __init__(self, params: Params, clock: Any) -> None:
        super().__init__(params, clock)
        self.params = Params(
            params.algorithm, params.limit - 1, params.window, params.rate, params.burst - 1
        )


class RefillTwice(Bad):
    """Token refill in milliseconds read as half-milliseconds: tokens come back twice too fast."""

    OFFERS = ("token-bucket",)

    def token_bucket(self, key: str, now: float, cost: int) -> bool:
        p = self.params
        tokens, last = self._states.get(key, (float(p.burst), now))
        tokens = min(float(p.burst), tokens + (now - last) * 2 * p.rate)
        if tokens < cost:
            self._states[key] = (tokens, now)
            return False
        self._states[key] = (tokens - cost, now)
        return True


class IgnoresKey(Bad):
    """One counter for every key: a Redis key built without the client's key in it."""

    def hit(self, key: str, cost: int = 1) -> bool:
        return super().hit("global", cost)


class IgnoresCost(Bad):
    """``hit(key, cost)`` counts one unit whatever the cost (INCR for INCRBY)."""

    def hit(self, key: str, cost: int = 1) -> bool:
        return super().hit(key, 1)


class LogsRejected(Bad):
    """Sliding log that adds the request to the log before checking (ZADD, then ZCARD)."""

    OFFERS = ("sliding-log",)

    def sliding_log(self, key: str, now: float, cost: int) -> bool:
        p = self.params
        log: deque[float] = self._states.setdefault(key, deque())
        while log and log[0] <= now - p.window:
            log.popleft()
        log.extend([now] * cost)
        return len(log) <= p.limit


class BoundaryInclusive(Bad):
    """Sliding log that keeps an entry exactly W old (``<`` for ``<=`` when trimming)."""

    OFFERS = ("sliding-log",)

    def sliding_log(self, key: str, now: float, cost: int) -> bool:
        p = self.params
        log: deque[float] = self._states.setdefault(key, deque())
        while log and log[0] < now - p.window:
            log.popleft()
        if len(log) + cost > p.limit:
            return False
        log.extend([now] * cost)
        return True


class SWCIgnoresPrevious(Bad):
    """Sliding window counter that forgets to weigh the previous window: a fixed window."""

    OFFERS = ("sliding-window-counter",)

    def sliding_window_counter(self, key: str, now: float, cost: int) -> bool:
        return self.fixed_window(key, now, cost)


class LocalButDistributed(Bad):
    """Declares ``distributed`` but keeps its counts in the process: each process has N."""

    OFFERS = ("sliding-log", "token-bucket")
    EXTRA = frozenset({"cost", "injectable-clock", "distributed"})


# ------------------------------------------------------------------ observers


class Observed(Bad):
    """The reference with its observers declared: the base of the observer mistakes."""

    EXTRA = frozenset({"cost", "injectable-clock", *OBSERVERS})


class PeekConsumes(Observed):
    """``peek`` written as ``hit``: testing a key spends its quota."""

    def peek(self, key: str, cost: int = 1) -> bool:
        return self.hit(key, cost)


class PeekOffByOne(Observed):
    """``peek`` checks ``remaining + 1 >= cost``: it says yes when one unit is missing."""

    def peek(self, key: str, cost: int = 1) -> bool:
        return self.remaining(key) + 1 >= cost


class RemainingOneMore(Observed):
    """``remaining`` reports one unit more than there is (capped at the quota)."""

    def remaining(self, key: str) -> int:
        quota = self.params.burst if self.params.algorithm == "token-bucket" else self.params.limit
        return min(quota, super().remaining(key) + 1)


class RemainingOneShort(Observed):
    """``remaining`` reports one unit less than there is (``>=`` for ``>``)."""

    def remaining(self, key: str) -> int:
        return max(0, super().remaining(key) - 1)


class ResetEarly(Observed):
    """``reset_after`` reports half the true wait (milliseconds read as half-milliseconds)."""

    def reset_after(self, key: str) -> float:
        return super().reset_after(key) / 2


class ResetLate(Observed):
    """``reset_after`` reports the end of the next window: half a window too late."""

    def reset_after(self, key: str) -> float:
        wait = super().reset_after(key)
        return wait + self.params.window / 2 if wait > 0 and self.params.window else wait * 1.5


class ClearNothing(Observed):
    """``clear`` deletes a key name that ``hit`` never uses (a prefix forgotten): a no-op."""

    def clear(self, key: str) -> None:
        super().clear("prefix:" + key)


class ClearEverything(Observed):
    """``clear`` empties the whole store (FLUSHDB for DEL): every key's usage is gone."""

    def clear(self, key: str) -> None:
        with self._lock:
            self._states.clear()


class NegativeCostRefunds(Bad):
    """``hit`` does not check the cost: a negative cost is added, giving units back."""

    def hit(self, key: str, cost: int = 1) -> bool:
        with self._lock:
            return self._admit(key, self.clock.now(), cost)


class PartialOverLimit(Bad):
    """A hit that does not fit takes what is left of the quota, then reports rejected."""

    def hit(self, key: str, cost: int = 1) -> bool:
        if super().hit(key, cost):
            return True
        for _ in range(cost - 1):
            if not super().hit(key, 1):
                break
        return False


# ------------------------------------------------------------------ configure


class _UncheckedClient(MemoryRateLimitClient):
    """``configure`` passes the parameters on as they come: it checks only the algorithm."""

    def configure(self, algorithm: str, **params: Any) -> None:
        if algorithm not in self._offered:
            raise ValueError(f"algorithm {algorithm!r} is not offered here")
        self._limiter = self._shared.attach(Params(algorithm, **params))


class UncheckedConfigure(Bad):
    """Takes any limit and window, as ``limits`` 5.8 does (a limit of -1 rejects every hit, a
    window of -1 s admits every one); a missing parameter becomes 0, a stray one is kept."""

    CLIENT = _UncheckedClient


class _StoreThenCheckClient(MemoryRateLimitClient):
    """``configure`` makes the shared limiter from the parameters, then checks them."""

    def configure(self, algorithm: str, **params: Any) -> None:
        self._limiter = self._shared.attach(Params(algorithm, **params))
        check_params(algorithm, self._offered, **params)


class RefusedConfigureSticks(Bad):
    """Refuses bad parameters, but only after they were stored: the limiter keeps them, and a
    correct ``configure`` afterwards is refused as a second, different configuration."""

    CLIENT = _StoreThenCheckClient


# ------------------------------------------------------------------ real time
#
# The same kind of mistakes in limiters without an injectable clock: the
# suite runs them in real time, where only the worst-case schedules of the
# bound derivations (full bursts near window ends at several phases, refill
# in fractions of a token) show them.


class RealTime(Bad):
    """No injectable clock: run in real time (``ctx.clock`` is the real one)."""

    EXTRA = frozenset({"cost"})


class OffByOneRealTime(RealTime):
    """Compares the count before adding with ``<=``, in real time: N + 1 (and b + 1)."""

    OFFERS = ("sliding-log", "fixed-window", "token-bucket")

    def __init__(self, params: Params, clock: Any) -> None:
        super().__init__(params, clock)
        self.params = Params(
            params.algorithm, params.limit + 1, params.window, params.rate, params.burst + 1
        )


def _floor(self: Bad, previous: int, elapsed: float) -> float:
    # The mistake: the previous window's weight rounded down to whole units.
    return math.floor(previous * (1 - elapsed))


class SWCFloor(Bad):
    """Sliding window counter that rounds the weighted previous count down (``floor``)."""

    OFFERS = ("sliding-window-counter",)
    weighted = _floor


class SWCFloorRealTime(RealTime):
    """The same ``floor`` of the weighted count, in real time."""

    OFFERS = ("sliding-window-counter",)
    weighted = _floor


class RefillTruncatedRealTime(RealTime):
    """Token bucket adding floor((now - last) r) tokens and moving last to now: fractions lost."""

    OFFERS = ("token-bucket",)

    def token_bucket(self, key: str, now: float, cost: int) -> bool:
        p = self.params
        tokens, last = self._states.get(key, (float(p.burst), now))
        tokens = min(float(p.burst), tokens + math.floor((now - last) * p.rate))
        if tokens < cost:
            self._states[key] = (tokens, now)
            return False
        self._states[key] = (tokens - cost, now)
        return True


class LateReturnRealTime(RealTime):
    """Sliding log that keeps entries 0.15 s past W (a "grace" constant): quota back late.

    Late by less than the 0.25 s margin the liveness clause allows, so only
    the timed return (RL-19, tight verdict on the median) sees it.
    """

    OFFERS = ("sliding-log",)
    GRACE = 0.15

    def sliding_log(self, key: str, now: float, cost: int) -> bool:
        p = self.params
        log: deque[float] = self._states.setdefault(key, deque())
        while log and log[0] <= now - p.window - self.GRACE:
            log.popleft()
        if len(log) + cost > p.limit:
            return False
        log.extend([now] * cost)
        return True


class RedisRetrying:
    """The Redis reference on a connection that retries (redis-py ``Retry(NoBackoff(), 3)``).

    A hit whose reply is lost is sent again on a new connection: the server
    runs the script twice, and one request spends its cost twice.
    """

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        from distconform.reference.ratelimit.redis import RedisRateLimitClient

        def client() -> Any:
            if not ctx.redis_url:
                raise RuntimeError("this limiter needs a Redis URL: pass --redis-url")
            r = redis_client(ctx.redis_url, decode_responses=True, retry=Retry(NoBackoff(), 3))
            return RedisRateLimitClient(r, ctx.namespace)

        return Implementation(
            client=client,
            # The sliding log only: RL-20 needs no other, and each algorithm
            # costs the self-test two runs of client processes.
            capabilities=frozenset({"sliding-log", "cost", "distributed"}),
            needs=frozenset({"redis"}),
            description="known-bad: RedisRetrying",
        )


class RacyRedisLog:
    """A Redis sliding log in three commands, no script: ZREMRANGEBYSCORE, ZCARD, then ZADD.

    Between one client's ZCARD and its ZADD another's ZCARD sees the same
    count: both admit the last place (an unsynchronised read-modify-write).
    """

    def __init__(self, url: str | None, namespace: str) -> None:
        if not url:
            raise RuntimeError("this limiter needs a Redis URL: pass --redis-url")
        self._redis = redis_client(url)
        self._ns = namespace
        self._params: Params | None = None

    def configure(self, algorithm: str, **params: Any) -> None:
        self._params = check_params(algorithm, ("sliding-log",), **params)

    def hit(self, key: str, cost: int = 1) -> bool:
        p = self._params
        assert p is not None, "configure first"
        log, seq = f"{self._ns}racy:{key}", f"{self._ns}racy-seq:{key}"
        now = time.time()
        self._redis.zremrangebyscore(log, "-inf", now - p.window)
        if self._redis.zcard(log) + cost > p.limit:
            return False
        # The client's work between its read and its write (in a real service
        # another round trip): 1 ms. Without it the race was caught 20 of 20
        # times alone, but escaped once under the self-test's parallel load.
        time.sleep(0.001)
        for _ in range(cost):
            self._redis.zadd(log, {str(self._redis.incr(seq)): now})
        self._redis.expire(log, 60)
        self._redis.expire(seq, 60)
        return True

    def close(self) -> None:
        self._redis.close()

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=lambda: cls(ctx.redis_url, ctx.namespace),
            capabilities={"sliding-log", "distributed", "cost"},
            needs={"redis"},
            description="known-bad: RacyRedisLog",
        )


class SeedLimiter:
    """Seed questions 11 and 22, line for line: INCR, EXPIRE only if the reply == "1"; no check.

    Go's ``result == "1"`` compares an int64 with a string; ported, an integer
    reply never equals the string, so the counter never gets its expiry. And
    ``Allow`` returns nil (allowed) whatever the count.
    """

    CHECKS_LIMIT: ClassVar[bool] = False

    def __init__(self, url: str | None, namespace: str) -> None:
        if not url:
            raise RuntimeError("the seed limiter needs a Redis URL: pass --redis-url")
        self._redis = redis_client(url)
        self._ns = namespace
        self._params: Params | None = None

    def configure(self, algorithm: str, **params: Any) -> None:
        self._params = check_params(algorithm, ("fixed-window",), **params)

    def hit(self, key: str, cost: int = 1) -> bool:
        assert self._params is not None, "configure first"
        result = self._redis.incr(self._ns + key)
        if result == "1":
            self._redis.expire(self._ns + key, math.ceil(self._params.window))
        if self.CHECKS_LIMIT:
            return bool(result <= self._params.limit)
        return True

    def close(self) -> None:
        self._redis.close()

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=lambda: cls(ctx.redis_url, ctx.namespace),
            capabilities={"fixed-window", "distributed"},
            needs={"redis"},
            description=f"known-bad: {cls.__name__}",
        )


class SeedRejecting(SeedLimiter):
    """The seed's limiter with the missing check added: it rejects past N, and then forever."""

    CHECKS_LIMIT = True


#: The admitting end of the client-stamped logs below: add the request, scored
#: with its stamp, under a fresh member.
_LOG_ADD = """
redis.call('ZADD', KEYS[1], ARGV[1], redis.call('INCR', KEYS[2]))
redis.call('EXPIRE', KEYS[1], 60)
redis.call('EXPIRE', KEYS[2], 60)
return 1
"""
CLIENT_CLOCK_LOG = (
    """
-- Sliding log on the client's clock.
-- KEYS[1] log    KEYS[2] member counter
-- ARGV[1] now (client seconds)    ARGV[2] limit    ARGV[3] window (seconds)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[3]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
end"""
    + _LOG_ADD
)


class ClientClockLog:
    """A Redis sliding log scored with the client's clock: a client ahead sees old entries gone."""

    SCRIPT = CLIENT_CLOCK_LOG
    CAPABILITIES = frozenset({"sliding-log", "distributed", "injectable-clock"})

    def __init__(self, url: str | None, ctx: Context) -> None:
        if not url:
            raise RuntimeError("this limiter needs a Redis URL: pass --redis-url")
        self._redis = redis_client(url)
        self._ctx = ctx
        self._script = self._redis.register_script(self.SCRIPT)
        self._params: Params | None = None

    def configure(self, algorithm: str, **params: Any) -> None:
        self._params = check_params(algorithm, ("sliding-log",), **params)

    def hit(self, key: str, cost: int = 1) -> bool:
        assert self._params is not None, "configure first"
        ns = self._ctx.namespace
        args = [repr(self._now()), self._params.limit, repr(self._params.window)]
        return bool(self._script(keys=[f"{ns}log:{key}", f"{ns}seq:{key}"], args=args))

    def _now(self) -> float:
        return self._ctx.clock.now()

    def close(self) -> None:
        self._redis.close()

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=lambda: cls(ctx.redis_url, ctx),
            capabilities=cls.CAPABILITIES,
            needs={"redis"},
            description=f"known-bad: {cls.__name__}",
        )


class ClientWallClockLog(ClientClockLog):
    """The same sliding log scored with the client's wall clock, ``time.time()``, as libraries do.

    It has no injectable clock, so only a really skewed process clock
    (libfaketime, RL-9) shows the mistake.
    """

    CAPABILITIES = frozenset({"sliding-log", "distributed"})

    def _now(self) -> float:
        return time.time()


#: The sliding log of ``CountsToOwnStamp``: as CLIENT_CLOCK_LOG, but counting
#: the entries stamped from now - W up to the caller's own stamp, no later.
COUNTS_TO_OWN_STAMP = (
    """
-- KEYS[1] log    KEYS[2] member counter
-- ARGV[1] now (client seconds)    ARGV[2] limit    ARGV[3] window (seconds)
local now = tonumber(ARGV[1])
if redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[3]), now) >= tonumber(ARGV[2]) then
    return 0
end"""
    + _LOG_ADD
)


class CountsToOwnStamp(ClientWallClockLog):
    """A sliding log that counts the entries in [now - W, now], ``now`` being the client's stamp.

    The window looks right on paper, but a request stamped at t and decided
    later (a slow link, a paused process) does not see the places taken in
    between by requests stamped after t: it is admitted beyond the quota.
    pyrate-limiter's Redis bucket counts this way.
    """

    SCRIPT = COUNTS_TO_OWN_STAMP


def _spec(cls: type) -> str:
    return f"{__name__}:{cls.__name__}.factory"


KNOWN_BAD = [
    KnownBad(
        "seed", "ratelimit", _spec(SeedLimiter), ("RL-2", "RL-3", "RL-8"),
        "seed questions 11 and 22: INCR with no check never rejects, and EXPIRE is set only "
        "when the integer reply equals the string \"1\", so never",
    ),
    KnownBad(
        "seed-rejecting", "ratelimit", _spec(SeedRejecting), ("RL-6",),
        "the seed with a limit check: its counter has no expiry, so once past N the key is "
        "rejected forever",
    ),
    KnownBad(
        "fixed-as-sliding-log", "ratelimit", _spec(FixedAsSlidingLog), ("RL-1",),
        "a fixed window declared as a sliding log admits N on each side of a boundary",
    ),
    KnownBad(
        "off-by-one", "ratelimit", _spec(OffByOne), ("RL-1", "RL-2", "RL-3", "RL-5"),
        "count <= N checked before adding: one unit more than the limit (or burst)",
    ),
    KnownBad(
        "limit-one-short", "ratelimit", _spec(LimitOneShort), ("RL-6",),
        "count >= N - 1 rejects: the full quota never comes back",
    ),
    KnownBad(
        "refill-twice", "ratelimit", _spec(RefillTwice), ("RL-5",),
        "a token refill twice too fast (a unit mistake) lets through b + 2 r d",
    ),
    KnownBad(
        "ignores-key", "ratelimit", _spec(IgnoresKey), ("RL-7",),
        "one counter for every key: one client's traffic spends everyone's quota",
    ),
    KnownBad(
        "ignores-cost", "ratelimit", _spec(IgnoresCost), ("RL-10",),
        "a weighted request counted as one unit",
    ),
    KnownBad(
        "logs-rejected", "ratelimit", _spec(LogsRejected), ("RL-11",),
        "ZADD before ZCARD: rejected requests fill the log although the implementation "
        "declares they consume nothing",
    ),
    KnownBad(
        "boundary-inclusive", "ratelimit", _spec(BoundaryInclusive), ("RL-12",),
        "trimming with < keeps an entry exactly W old: the quota returns a tick late",
    ),
    KnownBad(
        "swc-ignores-previous", "ratelimit", _spec(SWCIgnoresPrevious), ("RL-4",),
        "a sliding window counter without the previous window's weight is a fixed window: "
        "2N across a boundary",
    ),
    KnownBad(
        "local-but-distributed", "ratelimit", _spec(LocalButDistributed), ("RL-8",),
        "counts kept in the process while claiming to share them: every process has N",
    ),
    KnownBad(
        "client-clock-log", "ratelimit", _spec(ClientClockLog), ("RL-9",),
        "a sliding log scored with each client's clock: a client whose clock runs ahead "
        "sees the others' entries as expired",
    ),
    KnownBad(
        "client-wall-clock-log", "ratelimit", _spec(ClientWallClockLog), ("RL-9",),
        "the same log scored with time.time(): processes whose wall clocks disagree by more "
        "than W each see the others' entries as expired or not yet due",
    ),
    KnownBad(
        "counts-to-own-stamp", "ratelimit", _spec(CountsToOwnStamp), ("RL-8",),
        "a sliding log that counts entries stamped up to the caller's own stamp: a request "
        "decided after later-stamped ones took the last places is admitted beyond them",
    ),
    KnownBad(
        "peek-consumes", "ratelimit", _spec(PeekConsumes), ("RL-14",),
        "peek implemented with hit: asking whether a request fits spends the quota",
    ),
    KnownBad(
        "peek-off-by-one", "ratelimit", _spec(PeekOffByOne), ("RL-14",),
        "peek says a hit fits when one unit is missing; the hit after it is rejected",
    ),
    KnownBad(
        "remaining-one-more", "ratelimit", _spec(RemainingOneMore), ("RL-15",),
        "remaining reports a unit that is not there: a caller that trusts it is rejected",
    ),
    KnownBad(
        "remaining-one-short", "ratelimit", _spec(RemainingOneShort), ("RL-15",),
        "remaining hides a unit that is there: callers hold back work the limiter would admit",
    ),
    KnownBad(
        "reset-early", "ratelimit", _spec(ResetEarly), ("RL-16",),
        "reset_after half the true wait: a client that retries then is rejected again",
    ),
    KnownBad(
        "reset-late", "ratelimit", _spec(ResetLate), ("RL-16",),
        "reset_after half a window too long: the quota is back before the reported time",
    ),
    KnownBad(
        "clear-nothing", "ratelimit", _spec(ClearNothing), ("RL-17",),
        "clear deletes a key name hit never uses: the quota stays spent",
    ),
    KnownBad(
        "clear-everything", "ratelimit", _spec(ClearEverything), ("RL-17",),
        "clear empties the whole store: one key's reset gives every key its quota back",
    ),
    KnownBad(
        "negative-cost-refunds", "ratelimit", _spec(NegativeCostRefunds), ("RL-18",),
        "no check of the cost: hit(key, -N) adds -N (INCRBY) and gives the quota back",
    ),
    KnownBad(
        "partial-over-limit", "ratelimit", _spec(PartialOverLimit), ("RL-10",),
        "a request that does not fit takes what is left and is still rejected: admitted in part",
    ),
    KnownBad(
        "swc-floor", "ratelimit", _spec(SWCFloor), ("RL-4",),
        "the weighted previous count rounded down: 2N in an interval shorter than W",
    ),
    KnownBad(
        "swc-floor-real-time", "ratelimit", _spec(SWCFloorRealTime), ("RL-4",),
        "the same floor without an injectable clock: only the worst-case real-time schedule "
        "(full bursts in the last tenth of two consecutive windows) shows it",
    ),
    KnownBad(
        "refill-truncated-real-time", "ratelimit", _spec(RefillTruncatedRealTime), ("RL-13",),
        "refill truncated to whole tokens with the timestamp moved on: hits every 0.75 / r s "
        "never get a token",
    ),
    KnownBad(
        "late-return-real-time", "ratelimit", _spec(LateReturnRealTime), ("RL-19",),
        "entries kept 0.15 s past W: the quota comes back late, by less than the liveness "
        "margin, so only the timed return sees it",
    ),
    KnownBad(
        "redis-retrying", "ratelimit", _spec(RedisRetrying), ("RL-20",),
        "redis-py retries on a cut connection: a hit whose reply was lost runs twice on the "
        "server and spends its cost twice",
    ),
    KnownBad(
        "racy-redis-log", "ratelimit", _spec(RacyRedisLog), ("RL-8",),
        "ZCARD then ZADD in separate commands: concurrent clients read the same count and "
        "both take the last place",
    ),
    KnownBad(
        "off-by-one-real-time", "ratelimit", _spec(OffByOneRealTime),
        ("RL-1", "RL-2", "RL-3", "RL-5"),
        "count <= N checked before adding, in real time: bursts admit N + 1 (and b + 1)",
    ),
    KnownBad(
        "unchecked-configure", "ratelimit", _spec(UncheckedConfigure), ("RL-21",),
        "configure takes a limit of -1, a window of -1 s, a missing or a stray parameter "
        "without a word, as limits 5.8 does: a limiter that rejects or admits everything",
    ),
    KnownBad(
        "refused-configure-sticks", "ratelimit", _spec(RefusedConfigureSticks), ("RL-21",),
        "bad parameters are stored before they are checked: refused, yet the shared limiter "
        "keeps them and refuses the correct configure that follows",
    ),
]  # fmt: skip

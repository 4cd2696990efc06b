"""Redis rate limiter: the four algorithms as atomic Lua scripts on the server's clock.

Scope: one Redis server, any number of clients in any number of processes
(capability ``distributed``). Each decision is one script: it reads the
server's ``TIME``, so the bound does not depend on the clients' clocks, and
no other client's command comes between the check and the update. Times are
whole microseconds (a double holds them exactly until the year 2255).

Keys, under ``ctx.namespace`` (``{ns}rl:<algorithm>:<key>``):

==========================  ======  =========================================
sliding log                 zset    one member per admitted unit, scored by time
  ``...:seq``               string  counter that makes those members unique
fixed window                string  count of the window ``floor(now / W)``
  (suffix ``:<index>``)
sliding window counter      string  counts of this and the previous window
  (suffix ``:<index>``)
token bucket                hash    ``tokens``, ``ts`` (time of last update)
==========================  ======  =========================================

Every key expires once it can no longer matter, so an idle key costs nothing.
Declared difference from the memory reference: fixed windows (and the
sliding window counter's) are aligned on the server's ``TIME`` (epoch), the
memory reference's on ``ctx.clock`` (monotonic), so the same arrivals meet
other boundaries; the sliding log and the token bucket decide alike
(tests/test_ratelimit_differential.py).
Non-goals: clusters, replicas, durability across a restart.
"""

from __future__ import annotations

from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.errors import BackendUnavailable
from distconform.reference.ratelimit.memory import ALGORITHMS, Params, check_params

__all__ = ["SCRIPTS", "RedisRateLimitClient", "factory"]

SLIDING_LOG = """
-- Sliding log: admit when fewer than N units were admitted in (now - W, now].
-- KEYS[1]  the log (zset: member -> time in us)    KEYS[2]  member counter
-- ARGV[1]  limit N    ARGV[2]  window W in us    ARGV[3]  cost
-- returns  1 admitted, 0 rejected (a rejection changes nothing)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- An entry exactly W old is outside the window: remove scores <= now - W.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) + cost > limit then
    return 0
end
local ttl = math.ceil(window / 1000) + 1000
for _ = 1, cost do
    redis.call('ZADD', KEYS[1], now, redis.call('INCR', KEYS[2]))
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
"""

FIXED_WINDOW = """
-- Fixed window: admit when the aligned window [kW, (k+1)W) has room.
-- KEYS[1]  prefix of the window counters
-- ARGV[1]  limit N    ARGV[2]  window W in us    ARGV[3]  cost
-- returns  1 admitted, 0 rejected (a rejection changes nothing)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local key = KEYS[1] .. ':' .. math.floor(now / window)
local count = tonumber(redis.call('GET', key) or '0')
if count + cost > limit then
    return 0
end
redis.call('INCRBY', key, cost)
-- The counter is set with its expiry in this script, so it can never lose it.
redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
return 1
"""

SLIDING_WINDOW_COUNTER = """
-- Sliding window counter: admit when prev * (1 - f) + current + cost <= N,
-- f the elapsed fraction of the aligned window [kW, (k+1)W).
-- KEYS[1]  prefix of the window counters
-- ARGV[1]  limit N    ARGV[2]  window W in us    ARGV[3]  cost
-- returns  1 admitted, 0 rejected (a rejection changes nothing)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local index = math.floor(now / window)
local key = KEYS[1] .. ':' .. index
local previous = tonumber(redis.call('GET', KEYS[1] .. ':' .. (index - 1)) or '0')
local current = tonumber(redis.call('GET', key) or '0')
local elapsed = (now - index * window) / window
if previous * (1 - elapsed) + current + cost > limit then
    return 0
end
redis.call('INCRBY', key, cost)
-- Read as the previous window during the next one: keep it for two windows.
redis.call('PEXPIRE', key, 2 * math.ceil(window / 1000) + 1000)
return 1
"""

TOKEN_BUCKET = """
-- Token bucket: b tokens, refilled at r per second; admit when cost tokens are there.
-- KEYS[1]  the bucket (hash: tokens, ts in us)
-- ARGV[1]  rate r per second    ARGV[2]  burst b    ARGV[3]  cost
-- returns  1 admitted, 0 rejected (a rejection takes no token)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(state[1]), tonumber(state[2])
if tokens == nil then
    tokens, ts = burst, now
end
tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
local admitted = 0
if tokens >= cost then
    tokens = tokens - cost
    admitted = 1
end
-- %.17g keeps every bit of the double; tostring would round to 14 digits.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', now)
-- Once full again the bucket is the same as no bucket: let it go.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return admitted
"""

SCRIPTS = {
    "sliding-log": SLIDING_LOG,
    "fixed-window": FIXED_WINDOW,
    "sliding-window-counter": SLIDING_WINDOW_COUNTER,
    "token-bucket": TOKEN_BUCKET,
}


class RedisRateLimitClient:
    """A rate limiter client over one Redis connection."""

    def __init__(self, redis: Any, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace
        self._params: Params | None = None
        self._script: Any = None

    def configure(self, algorithm: str, **params: Any) -> None:
        self._params = check_params(algorithm, ALGORITHMS, **params)
        self._script = self._redis.register_script(SCRIPTS[algorithm])

    def hit(self, key: str, cost: int = 1) -> bool:
        p = self._params
        if p is None:
            raise RuntimeError("call configure(algorithm, ...) before hit")
        if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
            raise ValueError(f"cost must be an int of at least 1, got {cost!r}")
        base = f"{self._namespace}rl:{p.algorithm}:{key}"
        if p.algorithm == "token-bucket":
            return bool(self._script(keys=[base], args=[repr(p.rate), p.burst, cost]))
        window_us = round(p.window * 1_000_000)
        keys = (
            [base, f"{self._namespace}rl:sliding-log-seq:{key}"]
            if p.algorithm == "sliding-log"
            else [base]
        )
        return bool(self._script(keys=keys, args=[p.limit, window_us, cost]))

    def close(self) -> None:
        self._redis.close()


def _connect(url: str | None) -> Any:
    if not url:
        raise BackendUnavailable("the Redis rate limiter needs a Redis URL: pass --redis-url")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: a retried hit could be admitted twice.
    return redis_client(url, decode_responses=True, retry=Retry(NoBackoff(), 0))


def factory(ctx: Context) -> Implementation:
    """The Redis reference rate limiter for ``ctx``; connects only when a client is made."""
    return Implementation(
        client=lambda: RedisRateLimitClient(_connect(ctx.redis_url), ctx.namespace),
        capabilities=frozenset({*ALGORITHMS, "cost", "distributed"}),
        needs=frozenset({"redis"}),
        package="distconform",
        description="Redis reference (one Lua script per decision, server TIME)",
    )

"""Adapters for third-party rate limiters: ``limits`` and ``pyrate-limiter``.

Each adapter declares the algorithm the library's documentation claims for
the strategy or algorithm it wraps, and maps ``hit(key, cost)`` onto the
library's non-blocking call with the library's defaults. Registered names
(one per algorithm and storage; ``-redis`` is the same on ``redis://``):

- ``limits-fixed-window[-redis]``: ``FixedWindowRateLimiter`` ("fixed window").
  Its ``hit`` is ``INCRBY``, then compare: a rejected hit still counts, so it
  declares ``rejected-consumes``.
- ``limits-moving-window[-redis]``: ``MovingWindowRateLimiter`` (documented as
  a log of hits: a sliding log).
- ``limits-sliding-window-counter[-redis]``: ``SlidingWindowCounterRateLimiter``.
  Declared difference between the two storages: ``memory://`` aligns the
  windows on multiples of W of ``time.time()``; the Redis script anchors them
  at the key's first hit (the counters' TTLs), so the same arrivals meet
  other boundaries (tests/test_ratelimit_differential.py shows it). Both
  round the weighted count down (``floor``): 2N within less than W (RL-4).

  Every ``limits`` name: ``storage_from_string(uri)`` (``key_prefix`` = the
  test's namespace on Redis), ``RateLimitItemPerSecond(N, W)``, and the
  strategy's ``hit(item, key, cost=)``, ``test(item, key, cost=)`` (peek),
  ``get_window_stats(item, key)`` (``.remaining``; ``.reset_time`` minus
  ``time.time()`` for reset-after) and ``clear(item, key)``; it declares
  ``peek``, ``remaining``, ``reset-after`` and ``clear``. No deviation from
  the defaults besides the key prefix.
- ``pyrate-limiter``: the documented default, ``Limiter(bucket)``: one bucket
  for every name (keys share one quota).
- ``pyrate-limiter-per-key``: the recommended per-key ``BucketFactory``, on
  ``ctx.clock`` (``injectable-clock``).
- ``pyrate-limiter-redis``: per key on ``RedisBucket`` / ``RedisStateStore``.

``limits`` counts windows in whole seconds and reads ``time.time()`` with
no way to pass a clock, so it does not declare ``injectable-clock``. Each
pyrate function's docstring lists its calls and deviations.

``configure``: the values go to the library as the suite gave them, the way
a user passes their own; the library alone decides whether to take them
(RL-21 judges the library, not this file). What the adapter itself does, as
the translation from the suite's names to the library's objects:

- it refuses an algorithm it does not offer (ValueError) and a missing or
  unknown parameter NAME (TypeError, as a Python call with a missing or
  unexpected keyword does): the library has no such names, they are the
  suite's, so there is nothing of the library's to pass them to. It does
  not look at the values.
- a whole float (W = 1.0, r = 5.0) becomes the int the library's signature
  names (``RateLimitItemPerSecond(amount: int, multiples: int)``, pyrate's
  ``Rate(limit: int, ...)``); every other value (0, -1, 2.5, NaN) goes as it
  came. Nothing is refused or rounded on the way.

Measured on the libraries themselves (limits 5.8.0, pyrate-limiter 4.5.1):
``RateLimitItemPerSecond`` takes a limit of 0, -1 or 2.5 (2 admitted) and a
window of 0, -1 or 0.5 and refuses only a NaN window (ValueError, from
``int()``); pyrate's ``Rate`` refuses a limit, burst or interval of 0 and a
negative limit or burst with AssertionError (gone under ``python -O``),
takes a negative interval, a limit or burst of 2.5 and a rate of -1 or NaN
(NaN raises ValueError at the first ``try_acquire``).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from distconform.api import Clock, Context, Implementation
from distconform.reference.ratelimit.memory import OBSERVERS, WINDOWED
from distconform.thirdparty import _require

__all__ = [
    "limits_fixed_window",
    "limits_fixed_window_redis",
    "limits_moving_window",
    "limits_moving_window_redis",
    "limits_sliding_window_counter",
    "limits_sliding_window_counter_redis",
    "pyrate_limiter",
    "pyrate_limiter_per_key",
    "pyrate_limiter_redis",
]

_LIMITS_STRATEGIES = {
    "fixed-window": "FixedWindowRateLimiter",
    "sliding-log": "MovingWindowRateLimiter",
    "sliding-window-counter": "SlidingWindowCounterRateLimiter",
}


def _check_names(algorithm: str, offered: tuple[str, ...], params: dict[str, Any]) -> None:
    """The adapter's own translation: an algorithm it offers, exactly its parameter names.

    Values are not looked at: they go to the library as they came.
    """
    if algorithm not in offered:
        raise ValueError(
            f"algorithm {algorithm!r} is not offered here; choose one of {', '.join(offered)}"
        )
    wanted = ("limit", "window") if algorithm in WINDOWED else ("rate", "burst")
    if sorted(params) != sorted(wanted):
        raise TypeError(
            f"{algorithm} takes {' and '.join(wanted)}, got {', '.join(sorted(params)) or 'none'}"
        )


def _whole(value: Any) -> Any:
    """A whole float as the int the libraries' signatures name; any other value as it came."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _configuration(algorithm: str, params: dict[str, Any]) -> tuple[Any, ...]:
    """What two clients must agree on to share one limiter: the algorithm and its values."""
    return (algorithm, *sorted(params.items()))


class _Once:
    """The first configure's object, shared by every client of one implementation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.params: tuple[Any, ...] | None = None
        self.value: Any = None

    def get(self, params: tuple[Any, ...], make: Any) -> Any:
        with self._lock:
            if self.params is None:
                self.value, self.params = make(), params
            elif self.params != params:
                raise ValueError(f"already configured as {self.params}, not {params}")
            return self.value


class LimitsClient:
    """A ``limits`` strategy over one storage (``memory://`` shared, or a Redis URL)."""

    def __init__(self, algorithm: str, uri: str, namespace: str, shared: _Once | None) -> None:
        self._algorithm, self._uri, self._ns, self._shared = algorithm, uri, namespace, shared
        self._limiter: Any = None
        self._item: Any = None
        self._storage: Any = None

    def configure(self, algorithm: str, **params: Any) -> None:
        limits = _require("limits", "limits")
        _check_names(algorithm, (self._algorithm,), params)
        item = limits.RateLimitItemPerSecond(_whole(params["limit"]), _whole(params["window"]))

        def make() -> Any:
            options = {} if self._uri == "memory://" else {"key_prefix": f"{self._ns}limits"}
            return limits.storage.storage_from_string(self._uri, **options)

        if self._shared is not None:
            self._storage = self._shared.get(_configuration(algorithm, params), make)
        else:
            self._storage = make()
        strategy = getattr(limits.strategies, _LIMITS_STRATEGIES[self._algorithm])
        self._item, self._limiter = item, strategy(self._storage)

    def hit(self, key: str, cost: int = 1) -> bool:
        return bool(self._limiter.hit(self._item, key, cost=cost))

    def peek(self, key: str, cost: int = 1) -> bool:
        return bool(self._limiter.test(self._item, key, cost=cost))

    def remaining(self, key: str) -> int:
        return int(self._limiter.get_window_stats(self._item, key).remaining)

    def reset_after(self, key: str) -> float:
        # WindowStats.reset_time is an epoch time (time.time()).
        reset = self._limiter.get_window_stats(self._item, key).reset_time
        return max(0.0, float(reset) - time.time())

    def clear(self, key: str) -> None:
        self._limiter.clear(self._item, key)

    def close(self) -> None:
        if self._shared is None and self._storage is not None:
            pool = getattr(getattr(self._storage, "storage", None), "connection_pool", None)
            if pool is not None:
                pool.disconnect()


def _limits(ctx: Context, algorithm: str, redis: bool) -> Implementation:
    caps = {algorithm, "cost", *OBSERVERS}
    if algorithm == "fixed-window":
        caps.add("rejected-consumes")
    if redis:
        caps.add("distributed")
        return Implementation(
            client=lambda: LimitsClient(algorithm, ctx.redis_url or "", ctx.namespace, None),
            capabilities=frozenset(caps),
            needs=frozenset({"redis"}),
            package="limits",
            description=f"limits {_LIMITS_STRATEGIES[algorithm]} on redis://",
        )
    shared = _Once()
    return Implementation(
        client=lambda: LimitsClient(algorithm, "memory://", ctx.namespace, shared),
        capabilities=frozenset(caps),
        package="limits",
        description=f"limits {_LIMITS_STRATEGIES[algorithm]} on memory://",
    )


def limits_fixed_window(ctx: Context) -> Implementation:
    return _limits(ctx, "fixed-window", redis=False)


def limits_fixed_window_redis(ctx: Context) -> Implementation:
    return _limits(ctx, "fixed-window", redis=True)


def limits_moving_window(ctx: Context) -> Implementation:
    return _limits(ctx, "sliding-log", redis=False)


def limits_moving_window_redis(ctx: Context) -> Implementation:
    return _limits(ctx, "sliding-log", redis=True)


def limits_sliding_window_counter(ctx: Context) -> Implementation:
    return _limits(ctx, "sliding-window-counter", redis=False)


def limits_sliding_window_counter_redis(ctx: Context) -> Implementation:
    return _limits(ctx, "sliding-window-counter", redis=True)


# ------------------------------------------------------------------ pyrate-limiter

_PYRATE_ALGORITHMS = ("sliding-log", "fixed-window", "token-bucket")


def _pyrate_rates(pl: Any, algorithm: str, params: dict[str, Any]) -> list[Any]:
    """``[Rate(N, Duration.SECOND * W)]``, or ``[Rate(r, Duration.SECOND, burst=b)]``.

    As a user with W in seconds writes it: ``Duration.SECOND * W`` is pyrate's
    own conversion (``int(1000 * W)``: it raises ValueError for a NaN W). The
    values go as they came (:func:`_whole`); ``Rate`` decides what it takes.
    """
    if algorithm == "token-bucket":
        rate, burst = _whole(params["rate"]), _whole(params["burst"])
        return [pl.Rate(rate, pl.Duration.SECOND, burst=burst)]
    return [pl.Rate(_whole(params["limit"]), pl.Duration.SECOND * params["window"])]


def _ms_clock(pl: Any, clock: Clock) -> Any:
    """``ctx.clock`` as a pyrate clock: whole milliseconds, floored as MonotonicClock does."""

    class ContextClock(pl.AbstractClock):  # type: ignore[misc]
        def now(self) -> int:
            return math.floor(clock.now() * 1000)

    return ContextClock()


def _pyrate_default(algorithm: str, params: dict[str, Any]) -> Any:
    """The limiter as pyrate's README and ``limiter_factory`` build it: one bucket for all names.

    ``Limiter(InMemoryBucket(rates))`` (= ``create_inmemory_limiter``; the
    bucket's default algorithm is SlidingWindowLog), ``InMemoryBucket(rates,
    algorithm=FixedWindow())``, or ``create_token_bucket_limiter``'s
    ``StateBucket([rate], algorithm=TokenBucket())``. ``Limiter`` wraps the
    bucket in a ``SingleBucketFactory``: every ``name`` goes to that bucket.
    """
    pl = _require("pyrate_limiter", "pyrate-limiter")
    rates = _pyrate_rates(pl, algorithm, params)
    if algorithm == "token-bucket":
        bucket = pl.StateBucket(rates, algorithm=pl.TokenBucket())
    elif algorithm == "fixed-window":
        bucket = pl.InMemoryBucket(rates, algorithm=pl.FixedWindow())
    else:
        bucket = pl.InMemoryBucket(rates)
    return pl.Limiter(bucket), None


def _pyrate_per_key(
    algorithm: str,
    params: dict[str, Any],
    redis_url: str | None,
    namespace: str,
    clock: Clock | None,
) -> Any:
    """A pyrate ``Limiter`` whose factory makes one bucket per item name (key)."""
    pl = _require("pyrate_limiter", "pyrate-limiter")
    rates = _pyrate_rates(pl, algorithm, params)
    redis = None
    if redis_url is not None:
        import redis as redis_py

        redis = redis_py.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    ticks = _ms_clock(pl, clock) if clock is not None else None

    def make_bucket(name: str) -> Any:
        if algorithm == "token-bucket":
            store = (
                pl.RedisStateStore(redis, f"{namespace}pyrate-state:{name}")
                if redis is not None
                else None
            )
            return pl.StateBucket(rates, algorithm=pl.TokenBucket(), store=store, clock=ticks)
        log = pl.SlidingWindowLog() if algorithm == "sliding-log" else pl.FixedWindow()
        if redis is not None:
            return pl.RedisBucket.init(rates, redis, f"{namespace}pyrate:{name}", log)
        bucket = pl.InMemoryBucket(rates, algorithm=log)
        if ticks is not None:
            # InMemoryBucket takes no clock argument; its clock is the
            # ``_clock`` attribute every bucket reads (AbstractBucket.now()).
            bucket._clock = ticks
        return bucket

    class PerKey(pl.BucketFactory):  # type: ignore[misc,name-defined]
        """One bucket per item name, made on first use."""

        def __init__(self) -> None:
            self.buckets: dict[str, Any] = {}
            self.lock = threading.Lock()

        def bucket(self, name: str) -> Any:
            with self.lock:
                if name not in self.buckets:
                    b = make_bucket(name)
                    if algorithm != "token-bucket":
                        # Log buckets are trimmed by the factory's leaker, as
                        # BucketFactory.create does for the buckets it makes.
                        self.schedule_leak(b)
                    self.buckets[name] = b
                return self.buckets[name]

        def wrap_item(self, name: str, weight: int = 1) -> Any:
            return pl.RateItem(name, self.bucket(name).now(), weight=weight)

        def get(self, item: Any) -> Any:
            return self.bucket(item.name)

    limiter = pl.Limiter(PerKey())
    return limiter, redis


class PyrateClient:
    """pyrate-limiter's ``Limiter.try_acquire(key, weight, blocking=False)``."""

    def __init__(self, make: Any, shared: _Once | None) -> None:
        self._make, self._shared = make, shared
        self._limiter: Any = None
        self._redis: Any = None

    def configure(self, algorithm: str, **params: Any) -> None:
        _check_names(algorithm, _PYRATE_ALGORITHMS, params)
        if self._shared is not None:
            self._limiter, self._redis = self._shared.get(
                _configuration(algorithm, params), lambda: self._make(algorithm, params)
            )
        else:
            self._limiter, self._redis = self._make(algorithm, params)

    def hit(self, key: str, cost: int = 1) -> bool:
        return bool(self._limiter.try_acquire(key, cost, blocking=False))

    def close(self) -> None:
        if self._shared is None and self._limiter is not None:
            # The Redis connection is left to the garbage collector: pyrate's
            # leaker thread may be in the middle of a pass over the buckets,
            # and it stops only after its next sleep (up to 10 s).
            self._limiter.close()


def _pyrate_in_memory(make: Any, description: str, extra: frozenset[str]) -> Implementation:
    shared = _Once()

    def impl_close() -> None:
        if shared.value is not None:
            shared.value[0].close()

    return Implementation(
        client=lambda: PyrateClient(make, shared),
        capabilities=frozenset({*_PYRATE_ALGORITHMS, "cost"}) | extra,
        package="pyrate-limiter",
        close=impl_close,
        description=description,
    )


def pyrate_limiter(ctx: Context) -> Implementation:
    """pyrate-limiter as its README shows it: ``Limiter(bucket)``, one bucket for every name.

    Calls: ``Rate(N, Duration.SECOND * W)`` or ``Rate(r, Duration.SECOND,
    burst=b)`` with the suite's values as they came (module docstring),
    ``InMemoryBucket`` / ``StateBucket(algorithm=TokenBucket())``,
    ``Limiter(bucket)``, ``try_acquire(key, cost, blocking=False)``, ``close``.
    Deviation: ``blocking=False`` (the default blocks until the item fits;
    the contract has no queueing). Not a deviation, a property of the default:
    ``try_acquire(name)`` routes every name to the one bucket, so keys share
    one quota (RL-7 fails); ``pyrate-limiter-per-key`` is the recommended
    configuration. The clock is the bucket's default (MonotonicClock).
    """
    return _pyrate_in_memory(
        _pyrate_default,
        "pyrate-limiter Limiter(bucket), documented default: one bucket for all names",
        frozenset(),
    )


def pyrate_limiter_per_key(ctx: Context) -> Implementation:
    """pyrate-limiter with a ``BucketFactory`` that makes one in-memory bucket per name.

    Calls: ``Rate`` as ``pyrate-limiter`` makes it, ``InMemoryBucket(rates,
    algorithm=SlidingWindowLog() | FixedWindow())`` or ``StateBucket(rates,
    algorithm=TokenBucket(), clock=...)`` per key,
    ``BucketFactory.schedule_leak`` for the log buckets (as
    ``BucketFactory.create`` does), ``Limiter(factory)``,
    ``try_acquire(key, cost, blocking=False)``, ``close``. Deviations: a
    per-name factory (pyrate's documented way to limit per key; the default
    shares one bucket), ``blocking=False``, and the clock: ``ctx.clock`` in
    whole milliseconds (floored, like MonotonicClock), passed as
    ``StateBucket(clock=)`` and set as the ``_clock`` attribute of the
    InMemoryBucket, which takes no clock argument. Declares
    ``injectable-clock``: the suite runs it on a fake clock.
    """
    return _pyrate_in_memory(
        lambda a, p: _pyrate_per_key(a, p, None, ctx.namespace, ctx.clock),
        "pyrate-limiter Limiter, one in-memory bucket per key (BucketFactory), ctx.clock",
        frozenset({"injectable-clock"}),
    )


def pyrate_limiter_redis(ctx: Context) -> Implementation:
    """pyrate-limiter per key on Redis: ``RedisBucket.init`` / ``StateBucket(RedisStateStore)``.

    Calls as ``pyrate-limiter-per-key`` with ``RedisBucket.init(rates, redis,
    "<ns>pyrate:<key>", algorithm)`` and ``RedisStateStore(redis,
    "<ns>pyrate-state:<key>")``; the clock is the library's default
    (``RedisBucket.now()`` is ``time.time()`` in ms, WallClock for
    RedisStateStore) read on the client. Deviations: per-key factory,
    ``blocking=False``, ``socket_timeout=5`` on the connection (every network
    call has a timeout). Declared difference from ``pyrate-limiter-per-key``:
    FixedWindow aligns windows on its timestamps, the wall clock here and
    ``ctx.clock`` (monotonic) there, so their boundaries fall elsewhere.
    """
    return Implementation(
        client=lambda: PyrateClient(
            lambda a, p: _pyrate_per_key(a, p, ctx.redis_url or "", ctx.namespace, None), None
        ),
        capabilities=frozenset({*_PYRATE_ALGORITHMS, "cost", "distributed"}),
        needs=frozenset({"redis"}),
        package="pyrate-limiter",
        description="pyrate-limiter Limiter, RedisBucket / RedisStateStore per key, non-blocking",
    )

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
- ``pyrate-limiter[-redis]``: ``Limiter`` with ``try_acquire(name, weight,
  blocking=False)``, one bucket per key (a ``BucketFactory`` that routes by
  name, as its documentation shows for per-key limits): ``SlidingWindowLog``
  and ``FixedWindow`` on ``InMemoryBucket`` / ``RedisBucket``, and
  ``TokenBucket`` on a ``StateBucket`` (in memory / ``RedisStateStore``).

``limits`` counts windows in whole seconds: it refuses any other W.
Neither library takes an injected clock everywhere, so neither declares
``injectable-clock``: both read the *client's* clock for their Redis
sliding logs, which RL-9 cannot put to the test here.
"""

from __future__ import annotations

import threading
from typing import Any

from distconform.api import Context, Implementation
from distconform.reference.ratelimit.memory import Params, check_params
from distconform.thirdparty import _require

__all__ = [
    "limits_fixed_window",
    "limits_fixed_window_redis",
    "limits_moving_window",
    "limits_moving_window_redis",
    "limits_sliding_window_counter",
    "limits_sliding_window_counter_redis",
    "pyrate_limiter",
    "pyrate_limiter_redis",
]

_LIMITS_STRATEGIES = {
    "fixed-window": "FixedWindowRateLimiter",
    "sliding-log": "MovingWindowRateLimiter",
    "sliding-window-counter": "SlidingWindowCounterRateLimiter",
}


class _Once:
    """The first configure's object, shared by every client of one implementation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.params: Params | None = None
        self.value: Any = None

    def get(self, params: Params, make: Any) -> Any:
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
        p = check_params(algorithm, (self._algorithm,), **params)
        if p.window != int(p.window):
            raise ValueError(f"limits counts windows in whole seconds, not {p.window}")
        self._item = limits.RateLimitItemPerSecond(p.limit, int(p.window))

        def make() -> Any:
            options = {} if self._uri == "memory://" else {"key_prefix": f"{self._ns}limits"}
            return limits.storage.storage_from_string(self._uri, **options)

        self._storage = self._shared.get(p, make) if self._shared is not None else make()
        strategy = getattr(limits.strategies, _LIMITS_STRATEGIES[self._algorithm])
        self._limiter = strategy(self._storage)

    def hit(self, key: str, cost: int = 1) -> bool:
        return bool(self._limiter.hit(self._item, key, cost=cost))

    def close(self) -> None:
        if self._shared is None and self._storage is not None:
            pool = getattr(getattr(self._storage, "storage", None), "connection_pool", None)
            if pool is not None:
                pool.disconnect()


def _limits(ctx: Context, algorithm: str, redis: bool) -> Implementation:
    caps = {algorithm, "cost"}
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


def _pyrate_limiter(p: Params, redis_url: str | None, namespace: str) -> Any:
    """A pyrate ``Limiter`` whose factory makes one bucket per item name (key)."""
    pl = _require("pyrate_limiter", "pyrate-limiter")
    if p.algorithm == "token-bucket":
        if p.rate != int(p.rate):
            raise ValueError(f"this adapter expresses r as a whole number per second, not {p.rate}")
        rates = [pl.Rate(int(p.rate), 1000, burst=p.burst)]
    else:
        rates = [pl.Rate(p.limit, round(p.window * 1000))]
    redis = None
    if redis_url is not None:
        import redis as redis_py

        redis = redis_py.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)

    def make_bucket(name: str) -> Any:
        if p.algorithm == "token-bucket":
            store = (
                pl.RedisStateStore(redis, f"{namespace}pyrate-state:{name}")
                if redis is not None
                else None
            )
            return pl.StateBucket(rates, algorithm=pl.TokenBucket(), store=store)
        algorithm = pl.SlidingWindowLog() if p.algorithm == "sliding-log" else pl.FixedWindow()
        if redis is not None:
            return pl.RedisBucket.init(rates, redis, f"{namespace}pyrate:{name}", algorithm)
        return pl.InMemoryBucket(rates, algorithm=algorithm)

    class PerKey(pl.BucketFactory):  # type: ignore[misc,name-defined]
        """One bucket per item name, made on first use."""

        def __init__(self) -> None:
            self.buckets: dict[str, Any] = {}
            self.lock = threading.Lock()

        def bucket(self, name: str) -> Any:
            with self.lock:
                if name not in self.buckets:
                    b = make_bucket(name)
                    if p.algorithm != "token-bucket":
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

    def __init__(self, redis_url: str | None, namespace: str, shared: _Once | None) -> None:
        self._url, self._ns, self._shared = redis_url, namespace, shared
        self._limiter: Any = None
        self._redis: Any = None

    def configure(self, algorithm: str, **params: Any) -> None:
        p = check_params(algorithm, _PYRATE_ALGORITHMS, **params)
        if self._shared is not None:
            self._limiter, self._redis = self._shared.get(
                p, lambda: _pyrate_limiter(p, None, self._ns)
            )
        else:
            self._limiter, self._redis = _pyrate_limiter(p, self._url, self._ns)

    def hit(self, key: str, cost: int = 1) -> bool:
        return bool(self._limiter.try_acquire(key, cost, blocking=False))

    def close(self) -> None:
        if self._shared is None and self._limiter is not None:
            # The Redis connection is left to the garbage collector: pyrate's
            # leaker thread may be in the middle of a pass over the buckets,
            # and it stops only after its next sleep (up to 10 s).
            self._limiter.close()


def pyrate_limiter(ctx: Context) -> Implementation:
    shared = _Once()

    def impl_close() -> None:
        if shared.value is not None:
            shared.value[0].close()

    return Implementation(
        client=lambda: PyrateClient(None, ctx.namespace, shared),
        capabilities=frozenset({*_PYRATE_ALGORITHMS, "cost"}),
        package="pyrate-limiter",
        close=impl_close,
        description="pyrate-limiter Limiter, in-memory buckets, non-blocking",
    )


def pyrate_limiter_redis(ctx: Context) -> Implementation:
    return Implementation(
        client=lambda: PyrateClient(ctx.redis_url or "", ctx.namespace, None),
        capabilities=frozenset({*_PYRATE_ALGORITHMS, "cost", "distributed"}),
        needs=frozenset({"redis"}),
        package="pyrate-limiter",
        description="pyrate-limiter Limiter, RedisBucket / RedisStateStore, non-blocking",
    )

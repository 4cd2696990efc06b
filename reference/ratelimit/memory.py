"""In-memory rate limiter: the four algorithms of spec/ratelimit.md on an injectable clock.

One :class:`MemoryRateLimiter` (per-key state in a dict, under one lock) is
the limiter; every client of one implementation is a view of it, so that the
suite can drive several clients at one shared quota. Time comes from
``ctx.clock`` (capability ``injectable-clock``): the property tests run it on
a fake clock, where every boundary is exact.

It is the model the Redis reference and the third parties are compared with:
each algorithm is a few lines, written for reading, not for speed.
"""

from __future__ import annotations

import copy
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from distconform.api import Clock, Context, Implementation

__all__ = [
    "ALGORITHMS",
    "OBSERVERS",
    "WINDOWED",
    "MemoryRateLimitClient",
    "MemoryRateLimiter",
    "Params",
    "SharedLimiter",
    "check_params",
    "factory",
]

#: The algorithm names ``configure`` takes; each is also a capability.
ALGORITHMS = ("sliding-log", "fixed-window", "sliding-window-counter", "token-bucket")
#: Optional calls that read or reset a key's quota (spec: Observers); each is a capability.
OBSERVERS = ("peek", "remaining", "reset-after", "clear")
#: Algorithms configured by a limit N per window W (the others: rate r, burst b).
WINDOWED = ("sliding-log", "fixed-window", "sliding-window-counter")


@dataclass(frozen=True)
class Params:
    """An algorithm and its parameters: limit N per window W, or rate r with burst b."""

    algorithm: str
    limit: int = 0
    window: float = 0.0
    rate: float = 0.0
    burst: int = 0


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{name} must be a finite number above 0, got {value}")
    return float(value)


def check_params(algorithm: str, offered: tuple[str, ...], **params: Any) -> Params:
    """Validate ``configure``'s arguments: an offered algorithm and exactly its parameters."""
    if algorithm not in offered:
        raise ValueError(
            f"algorithm {algorithm!r} is not offered here; choose one of {', '.join(offered)}"
        )
    wanted = ("limit", "window") if algorithm in WINDOWED else ("rate", "burst")
    if sorted(params) != sorted(wanted):
        raise TypeError(
            f"{algorithm} takes {' and '.join(wanted)}, got {', '.join(sorted(params)) or 'none'}"
        )
    if algorithm in WINDOWED:
        return Params(
            algorithm,
            limit=_positive_int("limit", params["limit"]),
            window=_positive_number("window", params["window"]),
        )
    return Params(
        algorithm,
        rate=_positive_number("rate", params["rate"]),
        burst=_positive_int("burst", params["burst"]),
    )


class MemoryRateLimiter:
    """Rate limiter of one algorithm: per-key state in a dict, under one lock.

    Conventions (spec/ratelimit.md): an event exactly W old is outside the
    window; fixed windows are ``[kW, (k+1)W)`` on the clock; a rejected
    request consumes nothing; a request of cost c is admitted or rejected
    whole.
    """

    def __init__(self, params: Params, clock: Clock) -> None:
        self.params = params
        self.clock = clock
        self._states: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._admit = {
            "sliding-log": self.sliding_log,
            "fixed-window": self.fixed_window,
            "sliding-window-counter": self.sliding_window_counter,
            "token-bucket": self.token_bucket,
        }[params.algorithm]

    def hit(self, key: str, cost: int = 1) -> bool:
        cost = _positive_int("cost", cost)
        with self._lock:
            return self._admit(key, self.clock.now(), cost)

    def peek(self, key: str, cost: int = 1) -> bool:
        """What ``hit(key, cost)`` would answer now, leaving every state as it was."""
        return self._would_admit(key, _positive_int("cost", cost))

    def _would_admit(self, key: str, cost: int) -> bool:
        with self._lock:
            saved = copy.deepcopy(self._states.get(key))
            try:
                return self._admit(key, self.clock.now(), cost)
            finally:
                if saved is None:
                    self._states.pop(key, None)
                else:
                    self._states[key] = saved

    def remaining(self, key: str) -> int:
        """The most units one hit would be admitted now: the largest cost ``peek`` admits."""
        quota = self.params.burst if self.params.algorithm == "token-bucket" else self.params.limit
        fits = 0
        for cost in range(1, quota + 1):
            if not self._would_admit(key, cost):
                break
            fits = cost
        return fits

    def reset_after(self, key: str) -> float:
        """Seconds from now until a hit of one unit is admitted, if the key is left alone."""
        with self._lock:
            now = self.clock.now()
            state = copy.deepcopy(self._states.get(key))
            p = self.params
            if state is None:
                return 0.0
            if p.algorithm == "sliding-log":
                log = [t for t in state if t > now - p.window]
                # A full log holds exactly N entries (a hit never admits past
                # N): the oldest leaving frees one place.
                return 0.0 if len(log) < p.limit else log[0] + p.window - now
            if p.algorithm == "token-bucket":
                tokens, last = state
                tokens = min(float(p.burst), tokens + (now - last) * p.rate)
                return 0.0 if tokens >= 1 else (1 - tokens) / p.rate
            index = self.window_index(now)
            if p.algorithm == "fixed-window":
                start, count = state
                if start != index or count + 1 <= p.limit:
                    return 0.0
                return (index + 1) * p.window - now
            start, previous, current = state
            if start == index - 1:
                previous, current = current, 0
            elif start != index:
                previous, current = 0, 0
            elapsed = now / p.window - index
            if previous * (1 - elapsed) + current + 1 <= p.limit:
                return 0.0
            if current + 1 <= p.limit:
                # Later in this window: previous * (1 - f) <= N - current - 1.
                # The check above failed on the previous window's weight alone,
                # so previous > 0 here.
                f = 1 - (p.limit - current - 1) / previous
                return (index + f) * p.window - now
            # Here current + 1 > N, and a window never admits past N: current = N.
            # In the next window it weighs as the previous one, N * (1 - f) + 1 <= N
            # from f = 1 / N on.
            return (index + 1 + 1 / p.limit) * p.window - now

    def clear(self, key: str) -> None:
        """Forget everything about ``key``: its full quota is back."""
        with self._lock:
            self._states.pop(key, None)

    def sliding_log(self, key: str, now: float, cost: int) -> bool:
        """Admit when the log of the last W seconds has room for ``cost`` more entries."""
        p = self.params
        log: deque[float] = self._states.setdefault(key, deque())
        while log and log[0] <= now - p.window:
            log.popleft()
        if len(log) + cost > p.limit:
            return False
        log.extend([now] * cost)
        return True

    def window_index(self, now: float) -> int:
        return math.floor(now / self.params.window)

    def fixed_window(self, key: str, now: float, cost: int) -> bool:
        """Admit when the count of the current aligned window has room."""
        index = self.window_index(now)
        start, count = self._states.get(key, (index, 0))
        if start != index:
            count = 0
        if count + cost > self.params.limit:
            return False
        self._states[key] = (index, count + cost)
        return True

    def sliding_window_counter(self, key: str, now: float, cost: int) -> bool:
        """Admit when prev * (1 - f) + current + cost <= N, f the elapsed part of this window."""
        p = self.params
        index = self.window_index(now)
        start, previous, current = self._states.get(key, (index, 0, 0))
        if start == index - 1:
            previous, current = current, 0
        elif start != index:
            previous, current = 0, 0
        elapsed = now / p.window - index
        if self.weighted(previous, elapsed) + current + cost > p.limit:
            self._states[key] = (index, previous, current)
            return False
        self._states[key] = (index, previous, current + cost)
        return True

    def weighted(self, previous: int, elapsed: float) -> float:
        """The previous window's count as it weighs at fraction ``elapsed`` of this one."""
        return previous * (1 - elapsed)

    def token_bucket(self, key: str, now: float, cost: int) -> bool:
        """Admit when the bucket (b tokens, refilled at r per second) holds ``cost`` tokens."""
        p = self.params
        tokens, last = self._states.get(key, (float(p.burst), now))
        tokens = min(float(p.burst), tokens + (now - last) * p.rate)
        if tokens < cost:
            self._states[key] = (tokens, now)
            return False
        self._states[key] = (tokens - cost, now)
        return True


class SharedLimiter:
    """Where the one limiter of an implementation lives; the first configure makes it."""

    def __init__(self, clock: Clock, limiter: type[MemoryRateLimiter] = MemoryRateLimiter) -> None:
        self._clock = clock
        self._class = limiter
        self._limiter: MemoryRateLimiter | None = None
        self._params: Params | None = None
        self._lock = threading.Lock()

    def attach(self, params: Params) -> MemoryRateLimiter:
        with self._lock:
            if self._limiter is None:
                self._limiter, self._params = self._class(params, self._clock), params
            elif self._params != params:
                raise ValueError(
                    f"this limiter is already configured as {self._params}; every "
                    f"client of a shared limiter must configure the same, not {params}"
                )
            return self._limiter


class MemoryRateLimitClient:
    """One view of the implementation's :class:`MemoryRateLimiter`."""

    def __init__(self, shared: SharedLimiter, offered: tuple[str, ...] = ALGORITHMS) -> None:
        self._shared = shared
        self._offered = offered
        self._limiter: MemoryRateLimiter | None = None

    def configure(self, algorithm: str, **params: Any) -> None:
        self._limiter = self._shared.attach(check_params(algorithm, self._offered, **params))

    def _configured(self) -> MemoryRateLimiter:
        if self._limiter is None:
            raise RuntimeError("call configure(algorithm, ...) before hit")
        return self._limiter

    def hit(self, key: str, cost: int = 1) -> bool:
        return self._configured().hit(key, cost)

    def peek(self, key: str, cost: int = 1) -> bool:
        return self._configured().peek(key, cost)

    def remaining(self, key: str) -> int:
        return self._configured().remaining(key)

    def reset_after(self, key: str) -> float:
        return self._configured().reset_after(key)

    def clear(self, key: str) -> None:
        self._configured().clear(key)


def factory(ctx: Context) -> Implementation:
    shared = SharedLimiter(ctx.clock)
    return Implementation(
        client=lambda: MemoryRateLimitClient(shared),
        capabilities=frozenset({*ALGORITHMS, *OBSERVERS, "cost", "injectable-clock"}),
        package="distconform",
        description="in-memory reference (all four algorithms, injectable clock, one lock)",
    )

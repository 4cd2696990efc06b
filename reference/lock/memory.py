"""In-memory lock: process-local, exact, with an injectable clock.

One :class:`MemoryLockService` holds every lock's state under one mutex;
clients are views of it. It is the model the other references are checked
against in ``properties/``: simple enough to be obviously right.
"""

from __future__ import annotations

import math
import secrets
import threading
from dataclasses import dataclass

from distconform.api import Clock, Context, Implementation, RealClock

__all__ = ["MemoryLockClient", "MemoryLockService", "factory"]

#: How often a blocking acquire looks again. Waiters are woken on release, so
#: this only bounds how late they notice an expiry.
_POLL = 0.005


@dataclass(frozen=True)
class Grant:
    name: str
    owner: str
    token: int


class MemoryLockService:
    """The shared state: name -> (owner, expires_at); name -> last fencing token."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or RealClock()
        self._held: dict[str, tuple[str, float]] = {}
        self._tokens: dict[str, int] = {}
        self._cond = threading.Condition()

    def _free(self, name: str, now: float) -> bool:
        held = self._held.get(name)
        return held is None or held[1] <= now

    def try_acquire(self, name: str, ttl: float | None) -> Grant | None:
        with self._cond:
            now = self.clock.now()
            if not self._free(name, now):
                return None
            owner = secrets.token_hex(16)
            # A grant without a TTL never runs out: +inf compares after every instant.
            self._held[name] = (owner, math.inf if ttl is None else now + ttl)
            self._tokens[name] = self._tokens.get(name, 0) + 1
            return Grant(name, owner, self._tokens[name])

    def _holds(self, grant: Grant, now: float) -> bool:
        held = self._held.get(grant.name)
        return held is not None and held[0] == grant.owner and held[1] > now

    def release(self, grant: Grant) -> bool:
        with self._cond:
            if not self._holds(grant, self.clock.now()):
                return False
            del self._held[grant.name]
            self._cond.notify_all()
            return True

    def owned(self, grant: Grant) -> bool:
        with self._cond:
            return self._holds(grant, self.clock.now())

    def remaining(self, grant: Grant) -> float | None:
        with self._cond:
            now = self.clock.now()
            if not self._holds(grant, now):
                return 0.0
            expires_at = self._held[grant.name][1]
            return None if math.isinf(expires_at) else expires_at - now

    def extend(self, grant: Grant, ttl: float) -> bool:
        with self._cond:
            now = self.clock.now()
            if not self._holds(grant, now):
                return False
            self._held[grant.name] = (grant.owner, now + ttl)
            return True

    def wait(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait(timeout=seconds)


def _check(ttl: float | None, timeout: float) -> None:
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds or None, got {ttl!r}")
    if not timeout >= 0:  # NaN too: a deadline of NaN is never reached
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")


class MemoryLockClient:
    """One participant of a :class:`MemoryLockService`."""

    def __init__(self, service: MemoryLockService) -> None:
        self._service = service

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> Grant | None:
        """The grant, or None; ``ttl=None`` asks for a grant that lasts until released."""
        _check(ttl, timeout)
        clock = self._service.clock
        deadline = clock.now() + timeout
        while True:
            grant = self._service.try_acquire(name, ttl)
            if grant is not None:
                return grant
            left = deadline - clock.now()
            if left <= 0:
                return None
            if isinstance(clock, RealClock):
                self._service.wait(min(_POLL, left))
            else:
                clock.sleep(min(_POLL, left))

    def release(self, handle: Grant) -> bool:
        return self._service.release(handle)

    def extend(self, handle: Grant, ttl: float) -> bool:
        _check(ttl, 0)
        return self._service.extend(handle, ttl)

    def owned(self, handle: Grant) -> bool:
        """True while the handle's grant holds its lock."""
        return self._service.owned(handle)

    def remaining(self, handle: Grant) -> float | None:
        """Seconds left in the handle's grant; 0 when it holds nothing; None without a TTL."""
        return self._service.remaining(handle)

    def token(self, handle: Grant) -> int:
        return handle.token


def factory(ctx: Context) -> Implementation:
    service = MemoryLockService(ctx.clock)
    return Implementation(
        client=lambda: MemoryLockClient(service),
        capabilities={"extend", "fencing", "injectable-clock", "no-ttl", "owned", "remaining"},
        package="distconform",
        description="in-memory reference (process-local, exact)",
    )

"""In-memory session store: process-local, exact, thread-safe, on ``ctx.clock``.

One :class:`SessionStore` (a dict of id -> :class:`Record` under one lock)
holds the sessions; every client of one implementation is a view of it, as
several web workers share one store. It is the model the Redis reference
and the third parties are compared with: simple enough to be obviously
right.

Ids are 32 bytes from :mod:`secrets` (the OS CSPRNG), 43 URL-safe
characters: 256 bits, twice SESSION-1's floor. A session is live while
``now < last_use + idle`` and ``now < created + absolute`` (dead *at* either
boundary, SESSION-6 and SESSION-7); a dead record is dropped when it is met.
Each ``save`` merges its changes under the lock, so overlapping saves lose
nothing (SESSION-10).
"""

from __future__ import annotations

import math
import secrets
import threading
from dataclasses import dataclass, field

from distconform.api import Clock, Context, Implementation

__all__ = ["MemorySessionClient", "Record", "SessionStore", "check_timeouts", "factory", "new_id"]

#: Bytes of CSPRNG output per id: 256 bits, so SESSION-1's 128 holds with room.
ID_BYTES = 32


def new_id() -> str:
    """A fresh session id from the OS CSPRNG (SESSION-1, SESSION-2)."""
    return secrets.token_urlsafe(ID_BYTES)


def check_timeouts(idle: object, absolute: object) -> tuple[float, float]:
    """``(idle, absolute)`` as floats if both are finite numbers above 0; else Type/ValueError."""
    out = []
    for name, value in (("idle", idle), ("absolute", absolute)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number of seconds, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number of seconds above 0, got {value!r}")
        out.append(float(value))
    return out[0], out[1]


@dataclass
class Record:
    """One session: its user (None: anonymous), data, and the instants that bound its life."""

    user: str | None
    created: float
    last_use: float
    data: dict[str, str] = field(default_factory=dict)


class SessionStore:
    """The sessions of one implementation, shared by all its clients."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.sessions: dict[str, Record] = {}
        self.timeouts: tuple[float, float] | None = None

    def configure(self, idle: float, absolute: float) -> None:
        with self.lock:
            if self.timeouts not in (None, (idle, absolute)):
                raise ValueError(
                    f"this store is configured with (idle, absolute) = {self.timeouts}; "
                    f"every client must configure the same, got {(idle, absolute)}"
                )
            self.timeouts = (idle, absolute)

    def live(self, sid: str, now: float) -> Record | None:
        """The record of ``sid`` if it is live at ``now``; a dead one is dropped. Hold the lock."""
        rec = self.sessions.get(sid)
        if rec is None or self.timeouts is None:
            return None
        idle, absolute = self.timeouts
        if now >= rec.last_use + idle or now >= rec.created + absolute:
            del self.sessions[sid]
            return None
        return rec

    def start(self, user: str | None, data: dict[str, str], now: float) -> str:
        """Store a new session; return its id. Hold the lock."""
        sid = new_id()
        self.sessions[sid] = Record(user, now, now, dict(data))
        return sid


class MemorySessionClient:
    """A view of one :class:`SessionStore`."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store
        self._configured = False

    def configure(self, idle: float, absolute: float) -> None:
        self._store.configure(*check_timeouts(idle, absolute))
        self._configured = True

    def _now(self) -> float:
        if not self._configured:
            raise RuntimeError("call configure(idle, absolute) first")
        return self._store.clock.now()

    def create(self, user: str | None = None) -> str:
        now = self._now()
        with self._store.lock:
            return self._store.start(user, {}, now)

    def load(self, sid: str) -> dict[str, str] | None:
        now = self._now()
        with self._store.lock:
            rec = self._store.live(sid, now)
            if rec is None:
                return None
            rec.last_use = now
            return dict(rec.data)

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        now = self._now()
        with self._store.lock:
            rec = self._store.live(sid, now)
            if rec is None:
                return False
            rec.data.update(changes)
            rec.last_use = now
            return True

    def login(self, sid: str, user: str) -> str:
        now = self._now()
        with self._store.lock:
            rec = self._store.live(sid, now)
            data = {} if rec is None else rec.data
            self._store.sessions.pop(sid, None)
            return self._store.start(user, data, now)

    def revoke(self, sid: str) -> None:
        with self._store.lock:
            self._store.sessions.pop(sid, None)

    def revoke_user(self, user: str) -> None:
        with self._store.lock:
            for sid in [s for s, r in self._store.sessions.items() if r.user == user]:
                del self._store.sessions[sid]


def factory(ctx: Context) -> Implementation:
    """The in-memory reference: one store per implementation, on ``ctx.clock``."""
    store = SessionStore(ctx.clock)
    return Implementation(
        client=lambda: MemorySessionClient(store),
        capabilities=frozenset({"injectable-clock"}),
        package="distconform",
        description="in-memory reference (one dict under a lock, ctx.clock)",
    )

"""What an adapter receives and returns.

An adapter is a factory ``module:callable``. The suite calls it with a
:class:`Context` and gets back an :class:`Implementation`: a way to make
independent clients, plus the capabilities the implementation declares.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Clock",
    "Context",
    "FakeClock",
    "Implementation",
    "RealClock",
    "new_namespace",
]


def new_namespace() -> str:
    """A key/table prefix no one else uses: ``dc_`` and 12 random hex digits."""
    return f"dc_{uuid.uuid4().hex[:12]}_"


@runtime_checkable
class Clock(Protocol):
    """The time source an implementation may accept (capability ``injectable-clock``)."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall time: ``time.monotonic`` and ``time.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "RealClock()"


class FakeClock:
    """A clock that moves only when told to; ``sleep`` advances it at once."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance({seconds})")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now})"


@dataclass(frozen=True)
class Context:
    """Everything an adapter may use to build its implementation.

    ``namespace`` is unique to one test: every key, table or name the
    implementation creates must start with it, so that the suite can remove
    exactly what the test made and nothing else.
    """

    namespace: str
    redis_url: str | None = None
    mysql_url: str | None = None
    clock: Clock = field(default_factory=RealClock)
    #: Extra backend URLs a test provides (for example several Redis masters).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The part of the context that crosses into a child process."""
        return {
            "namespace": self.namespace,
            "redis_url": self.redis_url,
            "mysql_url": self.mysql_url,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Context:
        return cls(
            namespace=data["namespace"],
            redis_url=data.get("redis_url"),
            mysql_url=data.get("mysql_url"),
            extra=dict(data.get("extra") or {}),
        )


@dataclass(frozen=True)
class Implementation:
    """An implementation under test, as an adapter returns it.

    ``client`` makes a new, independent client each call (its own connection
    for a server-backed implementation). ``capabilities`` are the optional
    abilities it declares (``fencing``, ``extend``, ``distributed``,
    ``injectable-clock`` ...); clauses that need an undeclared one are
    reported not applicable. ``needs`` names the backends it requires
    (``"redis"``, ``"mysql"``), so that a run without them skips it with a
    reason. ``package`` is the distribution whose version the report shows.

    ``notes`` maps a clause id to a note the report shows beside that clause's
    verdict, in every output: an adapter that knows why a clause fails says
    whether the library or the adapter is at fault (``{"LOCK-7": "library:
    release() ignores the owner; upstream issue #123"}``, ``{"LRU-4": "adapter:
    no way to read recency without touching it"}``).
    """

    client: Callable[[], Any]
    capabilities: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    package: str | None = None
    close: Callable[[], None] | None = None
    #: A one-line description shown in reports.
    description: str = ""
    #: Clause id -> a note shown beside that clause's verdict (whose fault a failure is).
    notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept any iterable of names, store frozensets; notes as a dict of its own.
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))
        object.__setattr__(self, "needs", frozenset(self.needs))
        object.__setattr__(self, "notes", dict(self.notes))

"""In-memory two-phase commit participants, and the ``twopc/memory`` reference.

A :class:`MemoryParticipant` keeps unprepared work in the object and prepared
work and committed values in a store shared by every participant of the same
(namespace, name): the store is its "disk". ``close()`` is a crash: the
object's unprepared work is lost, the store keeps the prepared work, and a new
participant of the same name sees it in ``in_doubt()``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from distconform.api import Context, Implementation
from distconform.reference.twopc.coordinator import Coordinator, MemoryJournal

#: Seconds the votes may take (capability ``prepare-timeout``): long beside a
#: healthy prepare (microseconds here, milliseconds on MariaDB), short enough
#: that the timeout tests stay a few seconds each.
PREPARE_TIMEOUT = 2.0

__all__ = ["PREPARE_TIMEOUT", "MemoryParticipant", "MemoryTwoPC", "ProtocolError", "factory"]


class ProtocolError(RuntimeError):
    """A call the protocol forbids, such as commit before prepare."""


@dataclass
class _Store:
    committed: dict[str, int] = field(default_factory=dict)
    prepared: dict[str, dict[str, int]] = field(default_factory=dict)
    mutex: threading.Lock = field(default_factory=threading.Lock)


class MemoryParticipant:
    """One participant: ``write`` adds deltas to integer keys inside a transaction."""

    _stores: dict[tuple[str, str], _Store] = {}
    _stores_mutex = threading.Lock()

    def __init__(self, name: str, namespace: str = "") -> None:
        self.name = name
        self.namespace = namespace
        with self._stores_mutex:
            self._store = self._stores.setdefault((namespace, name), _Store())
        self._active: dict[str, dict[str, int]] = {}

    def write(self, txid: str, key: str, delta: int) -> None:
        with self._store.mutex:
            if txid in self._store.prepared:
                raise ProtocolError(f"{self.name}: {txid!r} is prepared; it takes no more writes")
            work = self._active.setdefault(txid, {})
            work[key] = work.get(key, 0) + delta

    def prepare(self, txid: str) -> bool:
        with self._store.mutex:
            if txid in self._store.prepared:
                return True
            if txid not in self._active:
                return False  # its work was lost (a crash) or aborted: vote no
            self._store.prepared[txid] = self._active.pop(txid)
            return True

    def commit(self, txid: str) -> None:
        with self._store.mutex:
            if txid in self._active:
                raise ProtocolError(f"{self.name}: commit of {txid!r} before it was prepared")
            work = self._store.prepared.pop(txid, None)
            for key, delta in (work or {}).items():
                self._store.committed[key] = self._store.committed.get(key, 0) + delta

    def abort(self, txid: str) -> None:
        with self._store.mutex:
            self._active.pop(txid, None)
            self._store.prepared.pop(txid, None)

    def in_doubt(self) -> list[str]:
        with self._store.mutex:
            return sorted(self._store.prepared)

    def read(self, key: str) -> int:
        with self._store.mutex:
            return self._store.committed.get(key, 0)

    def close(self) -> None:
        with self._store.mutex:
            self._active.clear()

    @classmethod
    def forget(cls, namespace: str) -> None:
        """Drop every store of ``namespace`` (test cleanup)."""
        with cls._stores_mutex:
            for key in [k for k in cls._stores if k[0] == namespace]:
                del cls._stores[key]


class MemoryTwoPC(Coordinator):
    """The reference coordinator over an in-process log, offering memory participants."""

    def __init__(self, namespace: str, prepare_timeout: float | None = PREPARE_TIMEOUT) -> None:
        super().__init__(MemoryJournal(namespace), prepare_timeout=prepare_timeout)
        self.namespace = namespace

    def participant(self, name: str) -> MemoryParticipant:
        return MemoryParticipant(name, self.namespace)


def _forget(namespace: str) -> None:
    MemoryParticipant.forget(namespace)
    MemoryJournal.forget(namespace)


def factory(ctx: Context) -> Implementation:
    return Implementation(
        client=lambda: MemoryTwoPC(ctx.namespace),
        capabilities={"participants", "prepare-timeout", "outcome"},
        close=lambda: _forget(ctx.namespace),
        package="distconform",
        description="reference coordinator, decision log in process, memory participants",
    )

"""Small adapters the harness's own tests point the suite at (importable via PYTHONPATH=tests)."""

from __future__ import annotations

import time
from typing import Any

from distconform.api import Context, Implementation
from distconform.reference.lock import memory


def no_methods(ctx: Context) -> Implementation:
    return Implementation(client=lambda: object())


def claims_extend(ctx: Context) -> Implementation:
    """Declares ``extend`` but its client has no such method."""

    class Client:
        def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> Any:
            return None

        def release(self, handle: Any) -> bool:
            return False

    return Implementation(client=Client, capabilities={"extend"})


def not_an_implementation(ctx: Context) -> dict[str, Any]:
    return {"client": None}


def no_fencing(ctx: Context) -> Implementation:
    """The memory reference, declaring neither fencing nor extend."""
    service = memory.MemoryLockService(ctx.clock)
    return Implementation(client=lambda: memory.MemoryLockClient(service))


class _Hanging(memory.MemoryLockClient):
    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> Any:
        if name == "res":
            time.sleep(3600)  # a lost reply with no timeout of its own
        return super().acquire(name, ttl, timeout)


def hanging(ctx: Context) -> Implementation:
    """Acquire of the lock named ``res`` never returns."""
    service = memory.MemoryLockService(ctx.clock)
    return Implementation(client=lambda: _Hanging(service))


class _StarvedParticipant:
    """A memory participant on a starved machine: every prepare answers 1 s late."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def prepare(self, txid: str) -> bool:
        time.sleep(1.0)
        return bool(self._inner.prepare(txid))


def starved_participants(ctx: Context) -> Implementation:
    """The memory two-phase-commit reference; its participants' votes come 1 s late."""
    from distconform.reference.twopc import memory as twopc

    built = twopc.factory(ctx)

    def client() -> Any:
        coordinator = built.client()
        own = coordinator.participant
        coordinator.participant = lambda name: _StarvedParticipant(own(name))
        return coordinator

    return Implementation(client=client, capabilities=built.capabilities, close=built.close)


def report_parent_and_env(client: Any, chan: Any, name: str) -> None:
    """A role (distconform.workers) that sends its parent's pid and the variable ``name``."""
    import os

    chan.send((os.getppid(), os.environ.get(name)))

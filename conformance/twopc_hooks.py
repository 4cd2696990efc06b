"""Fault hooks for two-phase commit tests: participants wrapped so a test can break them.

A :class:`Hooked` participant runs a plan: at a chosen call (``prepare``,
``commit`` or ``abort``), before or after the real call, it votes no, fails,
times out, loses its reply, crashes the participant (``close()`` and a fresh
one from ``reopen``) or crashes the coordinator (raises :class:`Crash`). Each
planned fault fires once. Every call is written to a shared :class:`Trace`,
which also records isolation violations as they happen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ACTIONS", "Crash", "Hooked", "ParticipantFailure", "Trace"]

#: before/after a call: what a planned fault does.
ACTIONS = (
    "no",  # prepare, before: the participant aborts its work and votes no
    "error",  # before: the call raises ParticipantFailure and does nothing
    "timeout",  # before: the call raises TimeoutError and does nothing
    "lost-reply",  # after: the call took effect, then ConnectionError
    "crash-participant",  # close() and reopen; before: nothing done, after: done
    "crash-coordinator",  # raise Crash (a BaseException): the coordinator dies here
)


class Crash(BaseException):
    """The coordinator process dies here: nothing after this point runs."""


class ParticipantFailure(RuntimeError):
    """An injected participant error."""


@dataclass
class Trace:
    """Every call the coordinator made, and every isolation violation seen."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    #: When set, called at each prepare to check that no participant exposes
    #: the transaction's writes yet (it reads committed state).
    exposed: Callable[[str], list[str]] | None = None
    mutex: threading.Lock = field(default_factory=threading.Lock)

    def add(self, who: str, op: str, txid: str) -> None:
        with self.mutex:
            if op == "prepare":
                early = [w for w, o, t in self.calls if o == "commit" and t == txid]
                if early:
                    self.violations.append(
                        f"{', '.join(sorted(set(early)))} told to commit {txid!r} before "
                        f"{who} voted"
                    )
            self.calls.append((who, op, txid))
        if op == "prepare" and self.exposed is not None:
            seen = self.exposed(txid)
            if seen:
                with self.mutex:
                    self.violations.append(
                        f"{', '.join(seen)} exposed {txid!r}'s writes before {who} voted"
                    )


class Hooked:
    """A participant with planned faults; ``inner`` is replaced when it crashes."""

    def __init__(
        self,
        inner: Any,
        reopen: Callable[[], Any],
        trace: Trace,
        plan: dict[tuple[str, str], str] | None = None,
    ) -> None:
        self.inner = inner
        self.name: str = inner.name
        self.reopen = reopen
        self.trace = trace
        self.plan: dict[tuple[str, str], str] = dict(plan or {})
        self.crashes = 0

    def crash(self) -> None:
        """The participant crashes and restarts: unprepared work is lost."""
        self.inner.close()
        self.inner = self.reopen()
        self.crashes += 1

    def _fault(self, op: str, when: str, txid: str) -> bool | None:
        action = self.plan.pop((op, when), None)
        if action is None:
            return None
        if action == "crash-coordinator":
            raise Crash(f"coordinator crash at {self.name}.{op} ({when})")
        if action == "no" and op == "prepare" and when == "before":
            self.inner.abort(txid)
            return False
        if action == "error":
            raise ParticipantFailure(f"injected failure at {self.name}.{op}")
        if action == "timeout":
            raise TimeoutError(f"injected timeout at {self.name}.{op}")
        if action == "lost-reply":
            raise ConnectionError(f"injected lost reply from {self.name}.{op}")
        if action == "crash-participant":
            self.crash()
            raise ConnectionError(f"{self.name} crashed at {op} ({when})")
        raise ValueError(f"unknown fault {action!r} at ({op}, {when})")

    def _call(self, op: str, txid: str) -> Any:
        self.trace.add(self.name, op, txid)
        early = self._fault(op, "before", txid)
        if early is not None:
            return early
        result = getattr(self.inner, op)(txid)
        self._fault(op, "after", txid)
        return result

    def prepare(self, txid: str) -> bool:
        vote: bool = self._call("prepare", txid)
        return vote

    def commit(self, txid: str) -> None:
        self._call("commit", txid)

    def abort(self, txid: str) -> None:
        self._call("abort", txid)

    def in_doubt(self) -> list[str]:
        return list(self.inner.in_doubt())

    # The suite's own calls: no faults, not traced.
    def write(self, txid: str, key: str, delta: int) -> None:
        self.inner.write(txid, key, delta)

    def read(self, key: str) -> int:
        return int(self.inner.read(key))

    def close(self) -> None:
        self.inner.close()

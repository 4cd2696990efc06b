"""Fault hooks for two-phase commit tests: participants wrapped so a test can break them.

A :class:`Hooked` participant runs a plan: at a chosen call (``prepare``,
``commit`` or ``abort``), before or after the real call, it votes no, fails,
times out, loses its reply, crashes the participant (``close()`` and a fresh
one from ``reopen``) or crashes the coordinator (raises :class:`Crash`), or is slow (``slow:S``
before the call: the call starts S seconds late; ``slow-reply:S`` after it:
the call took effect, its answer comes S seconds late). Each planned fault
fires once, except ``errors:N`` (the next N calls fail) and ``down`` (every
call fails until the plan is cleared); both break the participant's
connections as a crash does. Every call is written to a shared
:class:`Trace`, with the calls that returned (acknowledged), which also
records isolation violations as they happen. :meth:`Hooked.wait_idle` waits
until no call is in flight (a slow call outlives the run that gave up on it),
so that probes see the state the late call left.
"""

from __future__ import annotations

import random
import threading
import time
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
    "lost-reply-first",  # after: lost-reply at the first participant of the trace to get here
    "crash-participant",  # close() and reopen; before: nothing done, after: done
    "crash-coordinator",  # raise Crash (a BaseException): the coordinator dies here
    "slow:S",  # before: sleep S seconds, then make the call
    "slow-reply:S",  # after: the call took effect; sleep S seconds, then answer
    "run:NAME",  # before or after: call trace.actions[NAME]() (a fault proxy's hold, say)
    "run-first:NAME",  # the same, at the first participant of the trace to get here only
    # The next two break the participant's connections as crash-participant does
    # (a real unreachable server leaves no live connection holding its branch):
    "errors:N",  # before: the next N calls find the connection broken: nothing done
    "down",  # before: every call finds it broken, until disarmed (the plan cleared)
)


class Crash(BaseException):
    """The coordinator process dies here: nothing after this point runs."""


class ParticipantFailure(RuntimeError):
    """An injected participant error."""


@dataclass
class Trace:
    """Every call the coordinator made, and every isolation violation seen."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    #: The calls that returned without raising: (participant, op, txid) -> the
    #: ``time.monotonic()`` at which the call returned.
    acks: dict[tuple[str, str, str], float] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    #: (participant, txid) -> the vote prepare returned (absent: it raised or was not asked).
    votes: dict[tuple[str, str], bool] = field(default_factory=dict)
    #: When set, called at each prepare to check that no participant exposes
    #: the transaction's writes yet (it reads committed state).
    exposed: Callable[[str], list[str]] | None = None
    mutex: threading.Lock = field(default_factory=threading.Lock)
    #: Set when a planned coordinator crash fired: the process is dead, so every
    #: later coordinator call raises Crash too (a library that catches
    #: BaseException and rolls back cannot act after its own death). Cleared by
    #: the test before recovery.
    dead: bool = False
    #: Set when a "lost-reply-first" fired: the others planned are spent.
    first_fired: bool = False
    #: name -> what a "run:NAME" fault calls.
    actions: dict[str, Callable[[], None]] = field(default_factory=dict)

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
        #: When > 0, every coordinator call first sleeps a random 0..jitter seconds,
        #: so that concurrent transactions interleave between their steps.
        self.jitter = 0.0
        self._in_flight = 0
        self._idle = threading.Condition()

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
            self.trace.dead = True
            raise Crash(f"coordinator crash at {self.name}.{op} ({when})")
        if action == "no" and op == "prepare" and when == "before":
            self.inner.abort(txid)
            return False
        if action == "error":
            raise ParticipantFailure(f"injected failure at {self.name}.{op}")
        if action == "down" and when == "before":
            self.plan[(op, when)] = action  # still down at the next call
            self.crash()
            raise ConnectionError(f"{self.name} is down ({op}): its connection broke")
        if action == "timeout":
            raise TimeoutError(f"injected timeout at {self.name}.{op}")
        if action == "lost-reply":
            raise ConnectionError(f"injected lost reply from {self.name}.{op}")
        if action == "lost-reply-first":
            with self.trace.mutex:
                first, self.trace.first_fired = not self.trace.first_fired, True
            if first:
                raise ConnectionError(f"injected lost reply from {self.name}.{op}")
            return None
        if action == "crash-participant":
            self.crash()
            raise ConnectionError(f"{self.name} crashed at {op} ({when})")
        kind, _, arg = action.partition(":")
        if kind == "errors" and when == "before":
            if int(arg) > 1:
                self.plan[(op, when)] = f"errors:{int(arg) - 1}"
            self.crash()
            raise ConnectionError(f"{self.name}.{op}: connection broke ({arg} to go)")
        if kind == "run-first":
            with self.trace.mutex:
                first, self.trace.first_fired = not self.trace.first_fired, True
            if first:
                self.trace.actions[arg]()
            return None
        if kind == "run":
            self.trace.actions[arg]()
            return None
        seconds = arg
        if (kind, when) in (("slow", "before"), ("slow-reply", "after")):
            time.sleep(float(seconds))
            return None
        raise ValueError(f"unknown fault {action!r} at ({op}, {when})")

    def _call(self, op: str, txid: str) -> Any:
        if self.trace.dead:
            raise Crash(f"{self.name}.{op}({txid!r}) called after the coordinator crashed")
        self.trace.add(self.name, op, txid)
        with self._idle:
            self._in_flight += 1
        try:
            if self.jitter > 0:
                time.sleep(random.uniform(0, self.jitter))
            early = self._fault(op, "before", txid)
            if early is None:
                result = getattr(self.inner, op)(txid)
                self._fault(op, "after", txid)
            else:
                result = early  # a planned no vote: the call returned
            with self.trace.mutex:
                self.trace.acks[(self.name, op, txid)] = time.monotonic()
            return result
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no coordinator call is in flight here; False if one still is."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def prepare(self, txid: str) -> bool:
        vote: bool = self._call("prepare", txid)
        with self.trace.mutex:
            self.trace.votes[(self.name, txid)] = vote
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

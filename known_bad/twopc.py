"""Known-bad two-phase commit coordinators: real mistakes, each small enough to read in a minute.

``SeedCoordinator`` is seed question 28 of ``000_e2600301e6e42737.txt`` (Go),
ported line for line, with its ``main`` as ``run``: ``Begin`` prepares and
returns at the first error, leaving the rest prepared; the vote itself is
never looked at; ``main`` calls ``Commit`` whatever ``Begin`` returned, then
``Rollback``; nothing is logged, so there is nothing to recover from. The
others are the reference coordinator with one mistake each, run over the
suite's memory participants (``NonIdempotentCommit`` brings its own).

Every class is its own adapter: ``distconform.known_bad.twopc:Name.factory``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from distconform.api import Context, Implementation
from distconform.known_bad import KnownBad
from distconform.reference.twopc.coordinator import COMMIT, DONE, Coordinator, MemoryJournal
from distconform.reference.twopc.memory import MemoryParticipant

__all__ = ["KNOWN_BAD"]


class SeedCoordinator:
    """Seed question 28's TwoPhaseCommitTransaction, driven as its main() drives it."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        voted: set[str] = set()

        def begin() -> Exception | None:
            for p in participants:
                try:
                    p.prepare(txid)  # the Go Prepare returns only an error: no vote
                except Exception as exc:
                    return exc  # stops here: the ones already prepared stay prepared
            return None

        def commit() -> Exception | None:
            for p in participants:
                if p.name not in voted:
                    try:
                        p.commit(txid)
                    except Exception as exc:
                        return exc
                    voted.add(p.name)
            return None

        def rollback() -> Exception | None:
            for p in participants:
                if p.name not in voted:
                    try:
                        p.abort(txid)
                    except Exception as exc:
                        return exc
                    voted.add(p.name)
            return None

        # main(): each error is printed, and the next step runs anyway.
        err = begin()
        err = commit() or err
        err = rollback() or err
        return err is None

    def recover(self, participants: Sequence[Any]) -> dict[str, bool]:
        return {}  # the seed keeps no log and has no recovery

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=lambda: cls(ctx.namespace), description="known-bad: seed question 28"
        )


class _Mistake(Coordinator):
    """The reference coordinator over an in-process log, with one mistake in a subclass."""

    CAPABILITIES: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, namespace: str) -> None:
        super().__init__(MemoryJournal(f"{namespace}{type(self).__name__}"))
        self.namespace = namespace

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=lambda: cls(ctx.namespace),
            capabilities=cls.CAPABILITIES,
            description=f"known-bad: {cls.__name__}",
        )


class CommitBeforeAllVotes(_Mistake):
    """A botched last-resource optimisation: commits the others before the last one votes.

    The real optimisation prepares every participant but the last, asks the
    last to commit in one phase, and commits the others only if it did. This
    one commits the others first, then asks the last: a no from the last
    cannot undo them. Otherwise it is the reference (retries, log, recovery).
    """

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        *head, last = participants
        for p in head:
            try:
                vote = p.prepare(txid)
            except Exception:
                vote = False
            if vote is not True:
                self._finish(txid, participants, False)
                return False
        self.journal.record(txid, COMMIT)
        self._finish(txid, head, True)
        try:
            vote = last.prepare(txid)
        except Exception:
            vote = False
        self._finish(txid, [last], vote is True)
        return vote is True


class UnloggedDecision(_Mistake):
    """Logs the commit decision after phase two instead of before it."""

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        commit = True
        for p in participants:
            try:
                vote = p.prepare(txid)
            except Exception:
                vote = False
            if vote is not True:
                commit = False
                break
        for p in participants:
            (p.commit if commit else p.abort)(txid)
        if commit:
            self.journal.record(txid, COMMIT)
            self.journal.record(txid, DONE)
        return commit


class NoRecovery(_Mistake):
    """Tries phase two once per participant and has a recover() that does nothing."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.retries = 1

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        try:
            return super().run(txid, participants)
        except Exception:
            return True  # "someone else will clean up"

    def recover(self, participants: Sequence[Any]) -> dict[str, bool]:
        return {}


class DoubleApplyParticipant(MemoryParticipant):
    """A participant whose commit applies the prepared work and keeps it prepared."""

    def commit(self, txid: str) -> None:
        with self._store.mutex:
            work = self._store.prepared.get(txid)  # get, not pop: a retry applies it again
            for key, delta in (work or {}).items():
                self._store.committed[key] = self._store.committed.get(key, 0) + delta
            if txid in self._active:
                raise RuntimeError(f"commit of {txid!r} before it was prepared")


class NonIdempotentCommit(_Mistake):
    """The reference coordinator over participants whose commit is not idempotent."""

    CAPABILITIES = frozenset({"participants"})

    def participant(self, name: str) -> DoubleApplyParticipant:
        return DoubleApplyParticipant(name, f"{self.namespace}bad")


KNOWN_BAD = [
    KnownBad(
        "seed-2pc",
        "twopc",
        "distconform.known_bad.twopc:SeedCoordinator.factory",
        ("TWOPC-1", "TWOPC-2", "TWOPC-3", "TWOPC-5", "TWOPC-6", "TWOPC-8"),
        "seed question 28: Begin returns at the first prepare error and leaves the others "
        "prepared, the votes are never read, main() commits whatever Begin returned and then "
        "rolls back the rest, and with no log a crash leaves branches in doubt for ever",
    ),
    KnownBad(
        "commit-before-all-votes",
        "twopc",
        "distconform.known_bad.twopc:CommitBeforeAllVotes.factory",
        ("TWOPC-1", "TWOPC-2", "TWOPC-3", "TWOPC-4"),
        "the participants committed before the last vote cannot be undone when the last "
        "participant votes no or fails",
    ),
    KnownBad(
        "unlogged-decision",
        "twopc",
        "distconform.known_bad.twopc:UnloggedDecision.factory",
        ("TWOPC-6",),
        "a crash between the first commit and the log write leaves recovery with no "
        "decision: presumed abort rolls back the rest of a transaction already committed",
    ),
    KnownBad(
        "no-recovery",
        "twopc",
        "distconform.known_bad.twopc:NoRecovery.factory",
        ("TWOPC-5", "TWOPC-8"),
        "a participant down during phase two stays prepared, holding its locks, for ever",
    ),
    KnownBad(
        "non-idempotent-commit",
        "twopc",
        "distconform.known_bad.twopc:NonIdempotentCommit.factory",
        ("TWOPC-7",),
        "a retried commit after a lost reply applies the transaction's writes twice",
    ),
]

"""Known-bad two-phase commit coordinators: real mistakes, each small enough to read in a minute.

``SeedCoordinator`` is seed question 28 of ``000_e2600301e6e42737.txt`` (Go),
ported line for line, with its ``main`` as ``run``: ``Begin`` prepares and
returns at the first error, leaving the rest prepared; the vote itself is
never looked at; ``main`` calls ``Commit`` whatever ``Begin`` returned, then
``Rollback``; nothing is logged, so there is nothing to recover from. The
others are the reference coordinator with one mistake each, run over the
suite's memory participants (``NonIdempotentCommit`` and
``LostWorkVotesYes`` bring their own).

Every class is its own adapter: ``distconform.known_bad.twopc:Name.factory``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from distconform.api import Context, Implementation
from distconform.known_bad import KnownBad
from distconform.reference.twopc.coordinator import (
    ABORT,
    COMMIT,
    DONE,
    Coordinator,
    MemoryJournal,
    Participant,
    PhaseTwoIncomplete,
)
from distconform.reference.twopc.memory import MemoryParticipant

__all__ = ["KNOWN_BAD"]


def _vote(p: Any, txid: str) -> bool:
    """p's vote as the reference reads it: an error or a timeout is a no."""
    try:
        return p.prepare(txid) is True
    except Exception:
        return False


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
    #: The declared prepare timeout of those that declare ``prepare-timeout``.
    PREPARE_TIMEOUT: ClassVar[float | None] = None

    def __init__(self, namespace: str) -> None:
        super().__init__(
            MemoryJournal(f"{namespace}{type(self).__name__}"),
            prepare_timeout=self.PREPARE_TIMEOUT,
        )
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
            vote = _vote(p, txid)
            if vote is not True:
                self._finish(txid, participants, False)
                return False
        self.journal.record(txid, COMMIT)
        self._finish(txid, head, True)
        vote = _vote(last, txid)
        self._finish(txid, [last], vote is True)
        return vote is True


class UnloggedDecision(_Mistake):
    """Logs the commit decision after phase two instead of before it."""

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        commit = True
        for p in participants:
            vote = _vote(p, txid)
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


class AbortOnlyPrepared(_Mistake):
    """After a no vote, tells only the participants that voted yes to abort.

    "Nothing to undo where nothing was prepared": the participants after the
    refusal were never asked to prepare, so they are left with their work (and,
    on a database, its row locks) until their connection happens to close.
    """

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        prepared: list[Any] = []
        for p in participants:
            vote = _vote(p, txid)
            if vote is not True:
                self.journal.record(txid, ABORT)
                self._finish(txid, prepared, False)  # the ones after p are left out
                return False
            prepared.append(p)
        self.journal.record(txid, COMMIT)
        self._finish(txid, participants, True)
        return True


class EagerPrepareTimeout(_Mistake):
    """Declares a prepare timeout of 2 s but gives up on the votes after 1 s (a halved unit)."""

    CAPABILITIES = frozenset({"prepare-timeout"})
    PREPARE_TIMEOUT = 2.0

    def _prepare(self, p: Participant, txid: str, deadline: float | None) -> bool:
        assert self.prepare_timeout is not None and deadline is not None
        return super()._prepare(p, txid, deadline - self.prepare_timeout / 2)


class IgnoredPrepareTimeout(_Mistake):
    """Declares a prepare timeout of 2 s but waits for every vote however long it takes."""

    CAPABILITIES = frozenset({"prepare-timeout"})
    PREPARE_TIMEOUT = 2.0

    def _prepare(self, p: Participant, txid: str, deadline: float | None) -> bool:
        return super()._prepare(p, txid, None)


class PerVoteTimeout(_Mistake):
    """Declares a prepare timeout of 2 s and gives each vote 2 s from when it is asked.

    The timeout is meant to bound the whole phase one, from run's start: with
    this one, a vote asked late in the window waits up to a full T more, and
    n slow participants hold every branch's locks for n times T.
    """

    CAPABILITIES = frozenset({"prepare-timeout"})
    PREPARE_TIMEOUT = 2.0

    def _prepare(self, p: Participant, txid: str, deadline: float | None) -> bool:
        assert self.prepare_timeout is not None
        return super()._prepare(p, txid, time.monotonic() + self.prepare_timeout)


class TimeoutSparesTheLate(_Mistake):
    """On a prepare timeout, aborts only the participants that answered.

    The one that did not answer "has not prepared, so there is nothing to
    abort": but its prepare is only late, and when it arrives the branch is
    prepared with no one left to end it.
    """

    CAPABILITIES = frozenset({"prepare-timeout"})
    PREPARE_TIMEOUT = 2.0

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        assert self.prepare_timeout is not None
        deadline = time.monotonic() + self.prepare_timeout
        answered: list[Any] = []
        for p in participants:
            box: list[bool | BaseException] = []

            def ask(p: Any = p, box: list[bool | BaseException] = box) -> None:
                try:
                    box.append(p.prepare(txid) is True)
                except Exception:
                    box.append(False)
                except BaseException as exc:  # the coordinator dies: run() re-raises it
                    box.append(exc)

            th = threading.Thread(target=ask, daemon=True)
            th.start()
            th.join(max(0.0, deadline - time.monotonic()))
            if not box:
                self.journal.record(txid, ABORT)
                self._finish(txid, answered, False)  # the late one is left out
                return False
            if isinstance(box[0], BaseException):
                raise box[0]
            answered.append(p)
            if box[0] is not True:
                self.journal.record(txid, ABORT)
                self._finish(txid, participants, False)
                return False
        self.journal.record(txid, COMMIT)
        self._finish(txid, participants, True)
        return True


class OutcomeFromDone(_Mistake):
    """outcome reports a commit only once phase two is done, not once it is decided.

    After a crash between the decision and the last commit it says None, so a
    client that lost the reply to run concludes its committed transfer failed
    and does it again.
    """

    CAPABILITIES = frozenset({"outcome"})

    def outcome(self, txid: str) -> bool | None:
        state = self.journal.states().get(txid)
        if state == DONE:
            return True
        return False if state == ABORT else None


class OutcomePresumesAbort(_Mistake):
    """outcome answers False for every transaction without a commit record.

    Presumed abort is right for recovery (the coordinator is gone), wrong for a
    live one: a transaction still collecting votes is reported aborted, then
    commits.
    """

    CAPABILITIES = frozenset({"outcome"})

    def outcome(self, txid: str) -> bool | None:
        return self.journal.states().get(txid) in (COMMIT, DONE)


class SharedTxidState(_Mistake):
    """Keeps the transaction it is running on the coordinator object, not in run's locals.

    Right as long as one thread uses the coordinator; with two threads, one
    run's prepares and decision land on the other's transaction.
    """

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        self.current = txid
        commit = True
        for p in participants:
            vote = _vote(p, self.current)
            if vote is not True:
                commit = False
                break
        self.journal.record(self.current, COMMIT if commit else ABORT)
        self._finish(self.current, participants, commit)
        return commit


class SilentPhaseTwo(_Mistake):
    """Returns the decision even when phase two did not reach every participant.

    "The decision is logged, so recovery will finish it": but recovery here is
    the caller's call, and a caller told the transaction ended has no reason to
    make it; the unreached participants keep the transaction prepared.
    """

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        try:
            return super().run(txid, participants)
        except PhaseTwoIncomplete:
            commit = self.journal.states().get(txid) in (COMMIT, DONE)
            return commit


class _NotingFailures:
    """A participant seen through a list that every failed commit or abort is added to."""

    def __init__(self, inner: Any, failed: list[str]) -> None:
        self.inner, self.failed, self.name = inner, failed, inner.name

    def commit(self, txid: str) -> None:
        self._call(self.inner.commit, txid)

    def abort(self, txid: str) -> None:
        self._call(self.inner.abort, txid)

    def _call(self, op: Any, txid: str) -> None:
        try:
            op(txid)
        except Exception:
            self.failed.append(self.name)
            raise


class AlarmAfterRetry(_Mistake):
    """Counts every failed phase-two attempt as a failure, even one a retry got through.

    The retries are the reference's; the report is not: run raises "phase two
    incomplete" when any attempt failed, after every participant acknowledged,
    and a caller that retries its operation on an error applies a committed
    transfer twice.
    """

    def _finish(self, txid: str, participants: Sequence[Participant], commit: bool) -> None:
        failed: list[str] = []
        seen: Any = [_NotingFailures(p, failed) for p in participants]
        super()._finish(txid, seen, commit)
        if failed:  # should be: only a participant whose last attempt failed
            raise PhaseTwoIncomplete(f"transaction {txid!r}: {', '.join(failed)} failed")


class RecoverReportsTheLog(_Mistake):
    """recover finishes, and reports, every transaction of its log, those long ended too.

    Phase two is idempotent, so finishing them again changes nothing at the
    participants; but the answer names every transaction that ever ran, so a
    caller that acts on what recovery finished (tells the user, runs the
    follow-up) acts again on each one.
    """

    def recover(self, participants: Sequence[Participant]) -> dict[str, bool]:
        states = self.journal.states()
        txids = set(states)
        for p in participants:
            txids.update(p.in_doubt())
        out: dict[str, bool] = {}
        for txid in sorted(txids):
            commit = states.get(txid) in (COMMIT, DONE)
            self._finish(txid, participants, commit)
            out[txid] = commit
        return out


class LostWorkParticipant(MemoryParticipant):
    """A participant that votes yes for a transaction whose unprepared work it lost."""

    def prepare(self, txid: str) -> bool:
        with self._store.mutex:
            work = self._active.pop(txid, {})  # nothing after a crash: prepares nothing
            self._store.prepared.setdefault(txid, work)
            return True


class LostWorkVotesYes(_Mistake):
    """The reference coordinator over participants that vote yes after losing their work.

    "No error, so yes": after a restart the participant has no trace of the
    transaction, prepares an empty branch and votes yes; the others commit the
    writes, it commits nothing.
    """

    CAPABILITIES = frozenset({"participants"})

    def participant(self, name: str) -> LostWorkParticipant:
        return LostWorkParticipant(name, f"{self.namespace}lostwork")


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
    KnownBad(
        "abort-only-prepared",
        "twopc",
        "distconform.known_bad.twopc:AbortOnlyPrepared.factory",
        ("TWOPC-9",),
        "the participants after a no vote were never asked to prepare and are never told to "
        "abort: their work and row locks stay until their connections close",
    ),
    KnownBad(
        "eager-prepare-timeout",
        "twopc",
        "distconform.known_bad.twopc:EagerPrepareTimeout.factory",
        ("TWOPC-10",),
        "declares a 2 s prepare timeout and aborts after 1 s: a yes at 1.4 s is thrown away",
    ),
    KnownBad(
        "ignored-prepare-timeout",
        "twopc",
        "distconform.known_bad.twopc:IgnoredPrepareTimeout.factory",
        ("TWOPC-10",),
        "declares a 2 s prepare timeout and waits for a vote 3.5 s late, then commits",
    ),
    KnownBad(
        "per-vote-timeout",
        "twopc",
        "distconform.known_bad.twopc:PerVoteTimeout.factory",
        ("TWOPC-10",),
        "each vote gets the whole prepare timeout from when it is asked: a vote asked at "
        "0.8 T that never comes holds the transaction until 1.8 T",
    ),
    KnownBad(
        "timeout-spares-the-late",
        "twopc",
        "distconform.known_bad.twopc:TimeoutSparesTheLate.factory",
        ("TWOPC-11",),
        "a prepare that arrives after the timeout prepares a branch no one will ever end",
    ),
    KnownBad(
        "outcome-from-done",
        "twopc",
        "distconform.known_bad.twopc:OutcomeFromDone.factory",
        ("TWOPC-12",),
        "outcome says None for a transaction whose commit was decided before a crash",
    ),
    KnownBad(
        "outcome-presumes-abort",
        "twopc",
        "distconform.known_bad.twopc:OutcomePresumesAbort.factory",
        ("TWOPC-12",),
        "outcome says False for a transaction still collecting votes, which then commits",
    ),
    KnownBad(
        "shared-txid-state",
        "twopc",
        "distconform.known_bad.twopc:SharedTxidState.factory",
        ("TWOPC-13",),
        "two threads on one coordinator: one run's prepares and decision land on the "
        "other's transaction",
    ),
    KnownBad(
        "silent-phase-two",
        "twopc",
        "distconform.known_bad.twopc:SilentPhaseTwo.factory",
        ("TWOPC-14",),
        "run returns the decision while unreached participants still hold the transaction "
        "prepared: the caller has no reason to call recover",
    ),
    KnownBad(
        "alarm-after-retry",
        "twopc",
        "distconform.known_bad.twopc:AlarmAfterRetry.factory",
        ("TWOPC-14",),
        "run raises after a retry got every phase-two call through: the caller reads an "
        "unknown outcome and retries a committed operation",
    ),
    KnownBad(
        "recover-reports-the-log",
        "twopc",
        "distconform.known_bad.twopc:RecoverReportsTheLog.factory",
        ("TWOPC-15",),
        "recover answers every transaction its log ever held, ended ones included: the "
        "caller acts again on each",
    ),
    KnownBad(
        "lost-work-votes-yes",
        "twopc",
        "distconform.known_bad.twopc:LostWorkVotesYes.factory",
        ("TWOPC-1",),
        "a participant restarted after losing its unprepared work votes yes: the others "
        "commit the writes, it commits nothing",
    ),
]

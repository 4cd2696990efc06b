"""The reference two-phase commit coordinator: presumed abort, durable decision log.

Phase one asks every participant to prepare and stops at the first vote that
is not a plain yes (False, an error, a timeout). A commit decision is written
to the journal, durably, before any participant hears it; an abort is not
logged (presumed abort: recovery aborts every in-doubt transaction with no
logged commit). Phase two tells every participant, retrying a few times, and
logs ``done`` once all acknowledged. What it could not finish, ``recover``
finishes.

With a ``prepare_timeout`` T, the votes must all be in T seconds after ``run``
started: each prepare runs on a thread of its own and the coordinator waits
for it at most until that deadline; a late vote counts as no, the transaction
aborts everywhere, and a yes that still arrives later is answered with an
abort (a late prepare must not leave the branch holding its locks).

An abort is recorded too, after the decision and not durably needed
(presumed abort), so that ``outcome`` can tell "aborted" from "not decided
yet": without a record it answers None, never False.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "ABORT",
    "COMMIT",
    "DONE",
    "Coordinator",
    "FileJournal",
    "Journal",
    "MemoryJournal",
    "Participant",
    "PhaseTwoIncomplete",
]

COMMIT = "commit"
DONE = "done"
ABORT = "abort"


class Participant(Protocol):
    """One resource manager, as the coordinator sees it."""

    name: str

    def prepare(self, txid: str) -> bool: ...
    def commit(self, txid: str) -> None: ...
    def abort(self, txid: str) -> None: ...
    def in_doubt(self) -> list[str]: ...


class Journal(Protocol):
    """The decision log: ``record`` is durable when it returns."""

    def record(self, txid: str, state: str) -> None: ...
    def states(self) -> dict[str, str]: ...


class PhaseTwoIncomplete(RuntimeError):
    """Phase two did not reach every participant: call ``recover`` once they are back."""


class MemoryJournal:
    """A decision log in this process, one per ``key``: outlives coordinators, not the process."""

    _logs: dict[str, dict[str, str]] = {}
    _mutex = threading.Lock()

    def __init__(self, key: str) -> None:
        with self._mutex:
            self._log = self._logs.setdefault(key, {})

    def record(self, txid: str, state: str) -> None:
        with self._mutex:
            self._log[txid] = state

    def states(self) -> dict[str, str]:
        with self._mutex:
            return dict(self._log)

    @classmethod
    def forget(cls, key: str) -> None:
        """Drop the log of ``key`` (test cleanup)."""
        with cls._mutex:
            cls._logs.pop(key, None)


class FileJournal:
    """An append-only file of JSON lines, fsynced per record: survives a crash of the machine."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mutex = threading.Lock()

    def record(self, txid: str, state: str) -> None:
        line = json.dumps({"txid": txid, "state": state}) + "\n"
        with self._mutex:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                end = os.lseek(fd, 0, os.SEEK_END)
                if end and os.pread(fd, 1, end - 1) != b"\n":
                    # A crash tore the last record: ours starts a line of its own,
                    # or states() would read both as one torn line and drop ours.
                    line = "\n" + line
                os.write(fd, line.encode())
                os.fsync(fd)  # the decision must be on disk before phase two
            finally:
                os.close(fd)

    def states(self) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    # A crash mid-append leaves a torn last line: it was never durable.
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    out[rec["txid"]] = rec["state"]
        except FileNotFoundError:
            pass
        return out


class Coordinator:
    """A two-phase commit coordinator over ``journal`` (presumed abort)."""

    def __init__(
        self,
        journal: Journal,
        retries: int = 3,
        backoff: float = 0.05,
        prepare_timeout: float | None = None,
    ) -> None:
        self.journal = journal
        self.retries = retries
        self.backoff = backoff
        self.prepare_timeout = prepare_timeout

    def run(self, txid: str, participants: Sequence[Participant]) -> bool:
        """Prepare everywhere, decide, log a commit, finish; True when committed."""
        if not participants:
            raise ValueError("a transaction needs at least one participant")
        deadline = None if self.prepare_timeout is None else time.monotonic() + self.prepare_timeout
        commit = True
        for p in participants:
            try:
                vote = self._prepare(p, txid, deadline)
            except Exception:  # an error or a timeout is a no: never guess a yes
                vote = False
            if vote is not True:
                commit = False
                break  # the rest are aborted below, prepared or not
        if commit:
            self.journal.record(txid, COMMIT)
        else:
            self.journal.record(txid, ABORT)  # for outcome(); presumed abort needs no record
        self._finish(txid, participants, commit)
        return commit

    def _prepare(self, p: Participant, txid: str, deadline: float | None) -> bool:
        """p's vote; with a deadline, False once it passes (a late yes is then aborted)."""
        if deadline is None:
            return p.prepare(txid)
        answered = threading.Event()
        box: list[bool | BaseException] = []
        lock = threading.Lock()
        state = {"gave_up": False}

        def ask() -> None:
            answer: bool | BaseException
            try:
                answer = p.prepare(txid) is True
            except Exception:
                answer = False
            except BaseException as exc:  # the process is dying: hand it to run()
                answer = exc
            with lock:
                box.append(answer)
                late = state["gave_up"]
            answered.set()
            if late and answer is True:
                # The coordinator already decided abort: take the late yes back.
                try:
                    p.abort(txid)
                except Exception:
                    pass  # still prepared: recover() aborts it (no commit logged)

        threading.Thread(target=ask, name=f"prepare-{txid}", daemon=True).start()
        answered.wait(max(0.0, deadline - time.monotonic()))
        with lock:
            if not box:
                state["gave_up"] = True
                return False
            answer = box[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def outcome(self, txid: str) -> bool | None:
        """True once a commit is logged, False once an abort is, None before either."""
        state = self.journal.states().get(txid)
        if state in (COMMIT, DONE):
            return True
        return False if state == ABORT else None

    def recover(self, participants: Sequence[Participant]) -> dict[str, bool]:
        """Finish every transaction in doubt at a participant or left unfinished in the log."""
        states = self.journal.states()
        txids = {t for t, s in states.items() if s == COMMIT}
        for p in participants:
            txids.update(p.in_doubt())
        out: dict[str, bool] = {}
        for txid in sorted(txids):
            commit = states.get(txid) in (COMMIT, DONE)
            if not commit:
                self.journal.record(txid, ABORT)
            self._finish(txid, participants, commit)
            out[txid] = commit
        return out

    def _finish(self, txid: str, participants: Sequence[Participant], commit: bool) -> None:
        failed: list[str] = []
        for p in participants:
            for attempt in range(self.retries):
                try:
                    # Participants treat an ended txid as done, so a retry
                    # after a lost reply is harmless.
                    (p.commit if commit else p.abort)(txid)
                    break
                except Exception:
                    if attempt + 1 == self.retries:
                        failed.append(p.name)
                    else:
                        time.sleep(self.backoff * (attempt + 1))
        if failed:
            raise PhaseTwoIncomplete(
                f"transaction {txid!r} decided {'commit' if commit else 'abort'}, but "
                f"{', '.join(failed)} did not acknowledge: call recover() once they are back"
            )
        if commit:
            self.journal.record(txid, DONE)

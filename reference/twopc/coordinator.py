"""The reference two-phase commit coordinator: presumed abort, durable decision log.

Phase one asks every participant to prepare and stops at the first vote that
is not a plain yes (False, an error, a timeout). A commit decision is written
to the journal, durably, before any participant hears it; an abort is not
logged (presumed abort: recovery aborts every in-doubt transaction with no
logged commit). Phase two tells every participant, retrying a few times, and
logs ``done`` once all acknowledged. What it could not finish, ``recover``
finishes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from typing import Protocol

__all__ = [
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
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
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

    def __init__(self, journal: Journal, retries: int = 3, backoff: float = 0.05) -> None:
        self.journal = journal
        self.retries = retries
        self.backoff = backoff

    def run(self, txid: str, participants: Sequence[Participant]) -> bool:
        """Prepare everywhere, decide, log a commit, finish; True when committed."""
        if not participants:
            raise ValueError("a transaction needs at least one participant")
        commit = True
        for p in participants:
            try:
                vote = p.prepare(txid)
            except Exception:  # an error or a timeout is a no: never guess a yes
                vote = False
            if vote is not True:
                commit = False
                break  # the rest are aborted below, prepared or not
        if commit:
            self.journal.record(txid, COMMIT)
        self._finish(txid, participants, commit)
        return commit

    def recover(self, participants: Sequence[Participant]) -> dict[str, bool]:
        """Finish every transaction in doubt at a participant or left unfinished in the log."""
        states = self.journal.states()
        txids = {t for t, s in states.items() if s == COMMIT}
        for p in participants:
            txids.update(p.in_doubt())
        out: dict[str, bool] = {}
        for txid in sorted(txids):
            commit = states.get(txid) in (COMMIT, DONE)
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

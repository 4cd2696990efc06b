"""Property test for two-phase commit (spec/twopc.md): random votes and crash points.

Hypothesis draws a schedule: 1 to 4 memory participants, each one's vote
(yes, no, error, timeout), and up to two faults, each at a participant's
prepare, commit or abort, before or after the real call: a coordinator crash,
a participant crash or a lost reply. The coordinator under test runs the
transaction; if it crashed or raised, a new client recovers. Then the
transaction must have one outcome everywhere (TWOPC-1), commit only if every
vote was yes and agree with what run returned (TWOPC-2, TWOPC-3), never have
been committed before every vote (TWOPC-4), be applied at most once (TWOPC-7),
and be in doubt nowhere (TWOPC-8); and run must have raised exactly when, as
it ended, some participant that had to hear the outcome had not acknowledged
it (TWOPC-14: a raise when a retry got through is a false alarm).

The participants are always the suite's memory participants, so that each
example costs microseconds at the participants. ``test_the_property_has_teeth``
runs the same property against the seed's coordinator and expects a
counterexample.

The other tests check parts of the reference that no implementation's verdict
reaches: its FileJournal, its phase-two retry schedule (on a fake clock), its
abort of a yes that lands after the prepare timeout, and the memory
participants' cleanup.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distconform.conformance.twopc_hooks import Crash, Hooked, Trace
from distconform.reference.twopc import coordinator as coordinator_module
from distconform.reference.twopc.coordinator import (
    COMMIT,
    DONE,
    Coordinator,
    FileJournal,
    MemoryJournal,
    PhaseTwoIncomplete,
)
from distconform.reference.twopc.memory import MemoryParticipant

MECHANISM = "twopc"
clause = pytest.mark.clause

VOTES = ("yes", "yes", "yes", "no", "error", "timeout")
FAULTS = ("crash-coordinator", "crash-participant", "lost-reply")

_example = itertools.count()


@dataclass(frozen=True)
class Schedule:
    votes: tuple[str, ...]
    #: (participant index, op, when, action)
    faults: tuple[tuple[int, str, str, str], ...]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    n = draw(st.integers(1, 4))
    votes = tuple(draw(st.sampled_from(VOTES)) for _ in range(n))
    fault = st.tuples(
        st.integers(0, n - 1),
        st.sampled_from(("prepare", "commit", "abort")),
        st.sampled_from(("before", "after")),
        st.sampled_from(FAULTS),
    )
    faults = tuple(draw(st.lists(fault, max_size=2, unique_by=lambda f: f[:3])))
    return Schedule(votes, faults)


def check(make: Callable[[], Any], namespace: str, s: Schedule) -> None:
    """Run one schedule against coordinators from ``make``; assert the properties."""
    k = next(_example)
    trace = Trace()
    parts = []
    for i, vote in enumerate(s.votes):
        name = f"e{k}p{i}"
        plan: dict[tuple[str, str], str] = {}
        if vote != "yes":
            plan[("prepare", "before")] = vote
        for idx, op, when, action in s.faults:
            if idx == i:
                plan.setdefault((op, when), action)
        parts.append(
            Hooked(
                MemoryParticipant(name, namespace),
                lambda name=name: MemoryParticipant(name, namespace),
                trace,
                plan,
            )
        )
    txid, key = f"x{k}", f"k{k}"
    for p in parts:
        p.write(txid, key, 1)
    outcome: bool | None = None
    raised = False
    coordinator = make()
    try:
        outcome = coordinator.run(txid, parts)
    except Crash:
        pass
    except Exception:
        raised = True
    finally:
        getattr(coordinator, "close", lambda: None)()
    acked = set(trace.acks)  # before recovery adds its own
    for p in parts:
        p.plan = {}
    trace.dead = False
    if outcome is None:
        recovery = make()
        try:
            recovery.recover(parts)
        finally:
            getattr(recovery, "close", lambda: None)()
    vals = [p.read(key) for p in parts]
    assert all(v in (0, 1) for v in vals), f"TWOPC-7: a participant applied twice: {vals}"
    assert len(set(vals)) == 1, f"TWOPC-1: committed at some participants only: {vals}"
    committed = vals[0] == 1
    if committed:
        assert all(v == "yes" for v in s.votes), f"TWOPC-2/3: committed despite votes {s.votes}"
    if outcome is not None:
        assert outcome == committed, f"TWOPC-2: run returned {outcome}, values {vals}"
    assert not trace.violations, f"TWOPC-4: {trace.violations}"
    left = {p.name: p.in_doubt() for p in parts if p.in_doubt()}
    assert not left, f"TWOPC-8: in doubt after recovery: {left}"
    if outcome is not None or raised:
        op = "commit" if committed else "abort"
        untold = [
            p.name
            for p in parts
            if (op == "commit" or trace.votes.get((p.name, txid)) is not False)
            and (p.name, op, txid) not in acked
        ]
        assert raised == bool(untold), (
            f"TWOPC-14: run {'raised' if raised else f'returned {outcome}'} with "
            f"{untold or 'every participant'} {'un' if untold else ''}acknowledged ({op})"
        )


@clause("TWOPC-1", "TWOPC-2", "TWOPC-3", "TWOPC-4", "TWOPC-6", "TWOPC-7", "TWOPC-8", "TWOPC-14")
def test_random_schedules_keep_atomicity(impl: Any) -> None:
    """Random votes and crash points: every property holds after run (and recover)."""
    ns = impl.ctx.namespace

    @settings(database=None)
    @given(schedules())
    def prop(s: Schedule) -> None:
        check(impl.impl.client, ns, s)

    try:
        prop()
    finally:
        MemoryParticipant.forget(ns)


def test_the_file_journal_keeps_the_property(tmp_path: Path) -> None:
    """The coordinator over a FileJournal (the fault tests' durable log) keeps every property.

    Each coordinator, the recovering one too, opens the log file anew, as a
    restarted process does: a decision survives only if it reached the file.
    Not an implementation's verdict (no ``impl``): the reference's own log.
    """
    ns = "dc_propfilejournal_"
    path = str(tmp_path / "decisions.jsonl")

    @settings(database=None, max_examples=60)
    @given(schedules())
    def prop(s: Schedule) -> None:
        check(lambda: Coordinator(FileJournal(path), backoff=0.0), ns, s)

    try:
        prop()
    finally:
        MemoryParticipant.forget(ns)


@pytest.mark.parametrize("torn", ['{"txid": "c", "sta', "\0" * 8], ids=["half-a-record", "zeros"])
def test_the_file_journal_survives_a_torn_record(tmp_path: Path, torn: str) -> None:
    """A crash mid-append tears the last line: readers skip it, and later records are kept.

    The torn tail is half a record, or zeros (a machine crash can leave the
    file's new size on disk without its data). The restarted coordinator
    appends its next decisions after it: the first must start a line of its
    own, or the reader takes the two for one torn line and loses a logged
    commit (recovery would then presume abort).
    """
    path = tmp_path / "decisions.jsonl"
    assert FileJournal(str(path)).states() == {}, "a log never written to is not empty"
    first = FileJournal(str(path))
    first.record("a", COMMIT)
    first.record("b", COMMIT)
    first.record("a", DONE)
    whole = path.read_text(encoding="utf-8")
    assert whole.count("\n") == 3 and whole.endswith("\n"), f"not one line a record: {whole!r}"
    with open(path, "a", encoding="utf-8") as f:  # the crash: no newline after it
        f.write(torn)
    assert FileJournal(str(path)).states() == {"a": DONE, "b": COMMIT}
    restarted = FileJournal(str(path))
    restarted.record("d", COMMIT)
    restarted.record("e", COMMIT)
    got = FileJournal(str(path)).states()
    assert got == {"a": DONE, "b": COMMIT, "d": COMMIT, "e": COMMIT}, (
        f"records after a torn line were lost: the log reads {got}"
    )
    tail = path.read_text(encoding="utf-8").removeprefix(whole)
    assert tail == (
        f'{torn}\n{{"txid": "d", "state": "{COMMIT}"}}\n{{"txid": "e", "state": "{COMMIT}"}}\n'
    ), f"after the torn line, the log reads {tail!r}"


def test_the_file_journal_is_private(tmp_path: Path) -> None:
    """The log file is created readable and writable by its owner only (0o600, less the umask)."""
    path = tmp_path / "decisions.jsonl"
    FileJournal(str(path)).record("a", COMMIT)
    umask = os.umask(0)
    os.umask(umask)
    mode = path.stat().st_mode & 0o777
    assert mode == 0o600 & ~umask, f"the decision log was created with mode {mode:o}"


def test_phase_two_retries_with_a_growing_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference's phase two: one call per acknowledged participant, three calls at most.

    The coordinator module's clock is replaced: its sleeps are recorded, not
    slept. A participant whose first two commits fail (its connection broken)
    is called three times, with a sleep of one and then two backoffs between;
    the one that answers at once is called once. When every call fails, the
    retries are the same and run raises PhaseTwoIncomplete, with no sleep after
    the last attempt.
    """
    sleeps: list[float] = []
    monkeypatch.setattr(
        coordinator_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleeps.append)
    )
    ns = "dc_propretries00_"
    trace = Trace()

    def hooked(name: str, plan: dict[tuple[str, str], str]) -> Hooked:
        return Hooked(MemoryParticipant(name, ns), lambda: MemoryParticipant(name, ns), trace, plan)

    try:
        coordinator = Coordinator(MemoryJournal(ns))  # the defaults: 3 calls, backoff 0.05 s
        for txid, fault, raises in (("t1", "errors:2", False), ("t2", "down", True)):
            parts = [hooked("steady", {}), hooked("flaky", {("commit", "before"): fault})]
            for p in parts:
                p.write(txid, "k", 1)
            sleeps.clear()
            if raises:
                with pytest.raises(PhaseTwoIncomplete, match="decided commit, but flaky did"):
                    coordinator.run(txid, parts)
            else:
                assert coordinator.run(txid, parts) is True
            commits = [who for who, op, t in trace.calls if op == "commit" and t == txid]
            assert commits == ["steady", "flaky", "flaky", "flaky"], (
                f"{txid} ({fault} at flaky): commit calls {commits}"
            )
            assert sleeps == pytest.approx([0.05, 0.1]), f"{txid} ({fault}): slept {sleeps}"
    finally:
        MemoryParticipant.forget(ns)
        MemoryJournal.forget(ns)


class _Voter:
    """A participant whose prepare returns ``vote`` as it is, and which records phase two."""

    def __init__(self, name: str, vote: Any) -> None:
        self.name = name
        self.vote = vote
        self.told: list[str] = []

    def prepare(self, txid: str) -> Any:
        return self.vote

    def commit(self, txid: str) -> None:
        self.told.append("commit")

    def abort(self, txid: str) -> None:
        self.told.append("abort")

    def in_doubt(self) -> list[str]:
        return []


@pytest.mark.parametrize("timeout", [None, 5.0], ids=["no-timeout", "timeout"])
@pytest.mark.parametrize("vote", [None, 1, "yes"])
def test_only_a_plain_true_is_a_yes(timeout: float | None, vote: Any) -> None:
    """The reference reads a vote that is not True (a prepare that forgot to return) as a no.

    Not a guess at a yes: a prepare returning None may have done nothing. The
    transaction aborts at both participants and run returns False, with or
    without a prepare timeout (a vote then comes back through a thread).
    """
    ns = "dc_propvote00000_"
    parts = [_Voter("yes", True), _Voter("odd", vote)]
    try:
        got = Coordinator(MemoryJournal(ns), prepare_timeout=timeout).run("t1", parts)
        assert got is False, f"a vote of {vote!r} was read as a yes: run returned {got!r}"
        assert [p.told for p in parts] == [["abort"], ["abort"]], (
            f"a vote of {vote!r}: phase two told {[p.told for p in parts]}"
        )
    finally:
        MemoryJournal.forget(ns)


def test_outcome_through_a_file_journal(tmp_path: Path) -> None:
    """A coordinator over a FileJournal written by another one (a restarted process): outcome.

    True for a commit, False for an abort, None for a txid never run: the
    states are read back from the file, as strings equal to, not the same
    objects as, the coordinator's own constants.
    """
    path = str(tmp_path / "decisions.jsonl")
    assert Coordinator(FileJournal(path)).run("c", [_Voter("p0", True)]) is True
    assert Coordinator(FileJournal(path)).run("a", [_Voter("p0", False)]) is False
    fresh = Coordinator(FileJournal(path))
    seen = {t: fresh.outcome(t) for t in ("c", "a", "never-run")}
    assert seen == {"c": True, "a": False, "never-run": None}, f"outcome read back: {seen}"


class _Dying(BaseException):
    """The participant's call ends in the death of the calling process (as a Crash does)."""


class _InFlightPrepare:
    """A participant whose prepare is held in flight, as a slow ``XA PREPARE`` is at MariaDB.

    While the prepare is in flight an abort is a no-op (MariaDB answers
    ``XAER_NOTA``: the branch is still attached to the preparing connection),
    and then the prepare lands: the branch is prepared after the abort, or
    (``dies``) the call raises a BaseException instead of answering.
    """

    name = "inflight"

    def __init__(self, dies: bool) -> None:
        self.dies = dies
        self.release = threading.Event()
        self.thread: threading.Thread | None = None
        self.prepared: set[str] = set()
        self.mutex = threading.Lock()

    def prepare(self, txid: str) -> bool:
        self.thread = threading.current_thread()
        self.release.wait(10)
        if self.dies:
            raise _Dying(f"died preparing {txid!r}")
        with self.mutex:
            self.prepared.add(txid)
        return True

    def commit(self, txid: str) -> None:
        raise AssertionError(f"commit of {txid!r}, whose vote came after the deadline")

    def abort(self, txid: str) -> None:
        with self.mutex:
            self.prepared.discard(txid)

    def in_doubt(self) -> list[str]:
        with self.mutex:
            return sorted(self.prepared)


@pytest.mark.parametrize("landing", ["yes", "dies"])
def test_a_prepare_that_lands_after_the_deadline(
    monkeypatch: pytest.MonkeyPatch, landing: str
) -> None:
    """What a prepare brings after run gave up: a yes is aborted (TWOPC-11), a death dropped.

    The abort of phase two reached the participant while its prepare was
    still in flight, where it is a no-op (MariaDB's ``XAER_NOTA``); the memory
    participants never show this (their calls are atomic), hence this
    participant. A BaseException that arrives then has no run left to hand it
    to: the prepare's thread drops it and raises nothing of its own. The
    prepare is released only after run returned, so the order is fixed; the
    deadline is 50 ms of real time.
    """
    ns = "dc_propinflight0_"
    escaped: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda a: escaped.append(repr(a.exc_value)))
    late = _InFlightPrepare(dies=landing == "dies")
    try:
        coordinator = Coordinator(MemoryJournal(ns), prepare_timeout=0.05)
        assert coordinator.run("t1", [late]) is False
        assert late.thread is not None, "the coordinator never asked the participant to prepare"
        late.release.set()
        # The late prepare then returns at once: 10 s only bounds a broken run.
        late.thread.join(10)
        assert not late.thread.is_alive(), "the late prepare's thread did not end in 10 s"
        assert late.in_doubt() == [], f"the late {landing} left t1 prepared"
        assert not escaped, f"the late {landing}: its thread raised {escaped}"
    finally:
        late.release.set()
        MemoryJournal.forget(ns)


def test_forget_drops_the_namespace_only() -> None:
    """forget(ns) drops the stores of every participant of ns (given an equal string), no other."""
    below, ns, above = "dc_propforget00_", "dc_propforget01_", "dc_propforget02_"
    for space in (below, ns, above):
        p = MemoryParticipant("p", space)
        p.write("t1", "k", 1)
        assert p.prepare("t1") is True
    MemoryParticipant.forget("".join(["dc_propforget", "01_"]))  # equal, not the same object
    try:
        assert MemoryParticipant("p", ns).in_doubt() == [], "forget left the namespace's store"
        for other in (below, above):
            assert MemoryParticipant("p", other).in_doubt() == ["t1"], f"forget dropped {other}"
    finally:
        for space in (below, ns, above):
            MemoryParticipant.forget(space)


def test_the_property_has_teeth() -> None:
    """The seed's coordinator (question 28) is caught by the same property."""
    from distconform.known_bad.twopc import SeedCoordinator

    ns = "dc_propteeth000_"

    @settings(database=None, max_examples=200, report_multiple_bugs=False)
    @given(schedules())
    def prop(s: Schedule) -> None:
        check(lambda: SeedCoordinator(ns), ns, s)

    with pytest.raises(AssertionError, match="TWOPC"):
        prop()
    MemoryParticipant.forget(ns)

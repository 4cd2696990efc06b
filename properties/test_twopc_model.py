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
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distconform.conformance.twopc_hooks import Crash, Hooked, Trace
from distconform.reference.twopc.coordinator import COMMIT, DONE, Coordinator, FileJournal
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


def test_the_file_journal_ignores_a_torn_last_line(tmp_path: Path) -> None:
    """A crash mid-append leaves a torn last line: a new reader keeps every whole record."""
    path = tmp_path / "decisions.jsonl"
    assert FileJournal(str(path)).states() == {}, "a log never written to is not empty"
    first = FileJournal(str(path))
    first.record("a", COMMIT)
    first.record("b", COMMIT)
    first.record("a", DONE)
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"txid": "c", "sta')  # the crash: half a line, no newline
    assert FileJournal(str(path)).states() == {"a": DONE, "b": COMMIT}


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

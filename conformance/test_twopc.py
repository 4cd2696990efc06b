"""Conformance tests for two-phase commit: spec/twopc.md.

The implementation under test is the coordinator (``impl``). Its participants
are its own (capability ``participants``) or the suite's memory participants,
each wrapped in :class:`~distconform.conformance.twopc_hooks.Hooked` so that a
test can make it vote no, fail, time out, lose a reply or crash, or crash the
coordinator at a chosen call. Each transaction ``t`` adds 1 to key ``k<t>`` at
every participant: the transaction committed at a participant exactly when
that key reads 1 there (2 would be a commit applied twice).

After a coordinator crash the suite calls ``recover`` on a new client of the
same implementation, with the same participants (faults disarmed).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from distconform.conformance.support import expect
from distconform.conformance.twopc_hooks import Crash, Hooked, Trace

MECHANISM = "twopc"
clause = pytest.mark.clause

Plan = dict[tuple[str, str], str]


class Bench:
    """Participants (hooked), the trace, and helpers to run and inspect transactions."""

    def __init__(self, impl: Any, n: int) -> None:
        self.impl = impl
        self.trace = Trace()
        self.coordinator = impl.client("coordinator")
        own = impl.has("participants")
        raw = impl.impl.client() if own else None  # the unguarded participant source

        def opener(name: str) -> Any:
            if raw is not None:
                return lambda: raw.participant(name)
            from distconform.reference.twopc.memory import MemoryParticipant

            ns = impl.ctx.namespace
            return lambda: MemoryParticipant(name, ns)

        self.parts = [Hooked(opener(f"p{i}")(), opener(f"p{i}"), self.trace) for i in range(n)]
        self._raw = raw

    def arm(self, plans: dict[int, Plan]) -> None:
        for i, plan in plans.items():
            self.parts[i].plan = dict(plan)

    def disarm(self) -> None:
        for p in self.parts:
            p.plan = {}

    def stage(self, txid: str) -> None:
        for p in self.parts:
            p.write(txid, f"k{txid}", 1)

    def values(self, txid: str) -> list[int]:
        return [p.read(f"k{txid}") for p in self.parts]

    def doubt(self) -> dict[str, list[str]]:
        return {p.name: p.in_doubt() for p in self.parts}

    def run(self, txid: str, plans: dict[int, Plan] | None = None) -> tuple[str, Any]:
        """Stage and run ``txid``; ('returned', bool) | ('raised', exc) | ('crashed', Crash)."""
        self.stage(txid)
        self.arm(plans or {})
        try:
            return "returned", self.coordinator.run(txid, self.parts)
        except Crash as exc:
            return "crashed", exc
        except Exception as exc:
            return "raised", exc
        finally:
            self.disarm()

    def recover(self) -> dict[str, bool]:
        """A new coordinator client recovers, with every participant reachable."""
        fresh = self.impl.client("recovery")
        return dict(fresh.recover(self.parts))

    def close(self) -> None:
        # Leave no prepared branch behind: it would hold locks on a shared server.
        for p in self.parts:
            try:
                for txid in p.in_doubt():
                    p.inner.abort(txid)
                p.close()
            except Exception:
                pass
        close = getattr(self._raw, "close", None)
        if callable(close):
            close()

    def assert_atomic(self, txid: str, context: str) -> list[int]:
        vals = self.values(txid)
        assert all(v in (0, 1) for v in vals), (
            f"{context}: a participant applied {txid!r} more than once: values {vals}"
        )
        assert len(set(vals)) == 1, (
            f"{context}: {txid!r} committed at "
            f"{[p.name for p, v in zip(self.parts, vals, strict=True) if v]} but not at "
            f"{[p.name for p, v in zip(self.parts, vals, strict=True) if not v]}"
        )
        return vals

    def assert_ended(self, context: str) -> None:
        left = {n: t for n, t in self.doubt().items() if t}
        assert not left, f"{context}: transactions still in doubt: {left}"


@pytest.fixture
def bench(impl: Any) -> Iterator[Any]:
    made: list[Bench] = []

    def make(n: int = 2) -> Bench:
        b = Bench(impl, n)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


# ------------------------------------------------------------------ no failures


@clause("TWOPC-1", "TWOPC-8")
def test_commits_everywhere_without_failures(bench: Any) -> None:
    """Three transactions over three participants all commit; nothing is left in doubt."""
    b = bench(3)
    for t in ("t1", "t2", "t3"):
        how, result = b.run(t)
        assert (how, result) == ("returned", True), (
            f"run({t!r}) with every vote yes and no failure gave {how} {result!r}"
        )
        assert b.values(t) == [1, 1, 1], f"{t!r} not committed everywhere: {b.values(t)}"
    b.assert_ended("after three transactions without failures")


@clause("TWOPC-8")
def test_concurrent_transactions_all_end(bench: Any) -> None:
    """Four threads run five transactions each on the same participants: all commit and end."""
    b = bench(2)
    errors: list[str] = []

    def worker(w: int) -> None:
        for i in range(5):
            t = f"c{w}x{i}"
            how, result = b.run(t)
            if (how, result) != ("returned", True):
                errors.append(f"{t}: {how} {result!r}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads), "concurrent runs did not end in 120 s"
    assert not errors, f"concurrent transactions did not commit: {errors}"
    b.assert_ended("after 20 concurrent transactions")


# ------------------------------------------------------------- votes and errors


@pytest.mark.parametrize("who", [0, 1], ids=["first-votes-no", "last-votes-no"])
@clause("TWOPC-2", "TWOPC-1")
def test_a_no_vote_aborts_everywhere(bench: Any, who: int) -> None:
    """A no vote aborts the transaction at every participant, the prepared ones too."""
    b = bench(2)
    how, result = b.run("t1", {who: {("prepare", "before"): "no"}})
    if how != "returned":
        b.recover()
    assert b.values("t1") == [0, 0], (
        f"p{who} voted no, yet t1 committed at {b.values('t1')} (values per participant)"
    )
    assert (how, result) == ("returned", False), f"run after a no vote gave {how} {result!r}"
    b.assert_ended(f"after p{who} voted no")


@pytest.mark.parametrize("who", [1, 2], ids=["middle", "last"])
@pytest.mark.parametrize("fault", ["error", "timeout"])
@clause("TWOPC-3", "TWOPC-1")
def test_a_failed_prepare_aborts_everywhere(bench: Any, fault: str, who: int) -> None:
    """A prepare that raises (error or timeout) aborts everywhere, and run returns False."""
    b = bench(3)
    how, result = b.run("t1", {who: {("prepare", "before"): fault}})
    if how != "returned":
        b.recover()
    assert b.values("t1") == [0, 0, 0], (
        f"p{who}'s prepare raised ({fault}), yet t1 committed at {b.values('t1')}"
    )
    assert (how, result) == ("returned", False), (
        f"run after a prepare {fault} at p{who} gave {how} {result!r}"
    )
    b.assert_ended(f"after a prepare {fault} at p{who}")


# --------------------------------------------------------------------- isolation


@pytest.mark.parametrize("last_vote", ["yes", "no"])
@clause("TWOPC-4")
def test_nothing_is_committed_before_every_vote(bench: Any, last_vote: str) -> None:
    """At every prepare, no participant was told to commit and none exposes the writes."""
    b = bench(3)

    def exposed(txid: str) -> list[str]:
        return [p.name for p in b.parts if p.read(f"k{txid}") != 0]

    b.trace.exposed = exposed
    plan = {2: {("prepare", "before"): "no"}} if last_vote == "no" else {}
    how, _ = b.run("t1", plan)
    b.trace.exposed = None
    if how != "returned":
        b.recover()
    assert not b.trace.violations, "; ".join(b.trace.violations)


# ------------------------------------------------------------ participant crashes


#: Where p1 (of three) crashes and restarts: its plan, and how the transaction must end
#: (None: either way, the same everywhere). The coordinator is not told: it sees
#: a ConnectionError from the call, or a participant that lost its unprepared work.
PARTICIPANT_CRASHES: dict[str, tuple[dict[int, Plan], bool | None]] = {
    "before-its-prepare": ({1: {("prepare", "before"): "crash-participant"}}, False),
    "after-its-yes-vote": ({1: {("prepare", "after"): "crash-participant"}}, None),
    "before-applying-commit": ({1: {("commit", "before"): "crash-participant"}}, True),
    "after-applying-commit": ({1: {("commit", "after"): "crash-participant"}}, True),
    "before-applying-abort": (
        {1: {("abort", "before"): "crash-participant"}, 2: {("prepare", "before"): "no"}},
        False,
    ),
}


@pytest.mark.parametrize("point", list(PARTICIPANT_CRASHES))
@clause("TWOPC-5", "TWOPC-1", "TWOPC-8")
def test_participant_crash_and_restart(bench: Any, point: str) -> None:
    """p1 crashes at ``point`` and restarts at once: the transaction ends the same everywhere."""
    plans, want = PARTICIPANT_CRASHES[point]
    b = bench(3)
    how, result = b.run("t1", plans)
    expect(b.parts[1].crashes == 1, f"p1 was never called at {point}, so it did not crash")
    if how != "returned":
        b.recover()
    vals = b.assert_atomic("t1", f"p1 crashed {point}, restarted, and recovery ran")
    if want is not None:
        assert vals == [int(want)] * 3, (
            f"p1 crashed {point} and restarted; t1 should have "
            f"{'committed' if want else 'aborted'}, but reads {vals} (values per participant)"
        )
    if how == "returned":
        assert result == bool(vals[0]), f"run returned {result!r}, but t1 reads {vals}"
    b.assert_ended(f"p1 crashed {point}, then restarted")


@clause("TWOPC-5")
def test_prepared_work_survives_a_participant_restart(bench: Any) -> None:
    """A participant keeps a prepared branch across close and reopen (its own, when it has them)."""
    b = bench(1)
    p = b.parts[0]
    p.write("t1", "kt1", 1)
    expect(p.inner.prepare("t1") is True, "p0 did not vote yes")
    p.crash()
    assert "t1" in p.in_doubt(), "a prepared transaction is missing from in_doubt() after a restart"
    assert p.read("kt1") == 0, "a prepared, undecided write is visible after a restart"
    p.inner.commit("t1")
    assert p.read("kt1") == 1, "commit after a restart did not apply the prepared write"
    assert "t1" not in p.in_doubt(), "a committed transaction is still in doubt"


# ----------------------------------------------------------- coordinator crashes

#: Where the coordinator dies: participant index -> its plan, over 3 participants.
CRASH_POINTS: dict[str, dict[int, Plan]] = {
    "before-any-prepare": {0: {("prepare", "before"): "crash-coordinator"}},
    "after-some-prepares": {1: {("prepare", "before"): "crash-coordinator"}},
    "after-every-vote": {2: {("prepare", "after"): "crash-coordinator"}},
    "after-the-decision": {0: {("commit", "before"): "crash-coordinator"}},
    "after-some-commits": {1: {("commit", "before"): "crash-coordinator"}},
    "after-all-but-one-commit": {2: {("commit", "before"): "crash-coordinator"}},
    "during-abort": {
        2: {("prepare", "before"): "no"},
        1: {("abort", "before"): "crash-coordinator"},
    },
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
@clause("TWOPC-6", "TWOPC-1", "TWOPC-8")
def test_coordinator_crash_then_recovery(bench: Any, point: str) -> None:
    """The coordinator dies at ``point``; a new one recovers: one outcome, none in doubt."""
    b = bench(3)
    how, _ = b.run("t1", CRASH_POINTS[point])
    expect(how == "crashed", f"the coordinator never reached the crash point {point}")
    committed_somewhere = any(b.values("t1"))
    b.recover()
    vals = b.assert_atomic("t1", f"coordinator crashed {point}, then recovered")
    if committed_somewhere:
        assert vals == [1, 1, 1], (
            f"coordinator crashed {point} with t1 committed at a participant; recovery left {vals}"
        )
    b.assert_ended(f"coordinator crashed {point}, then one recovery")


@clause("TWOPC-6", "TWOPC-1")
def test_recovery_finishes_the_crashed_and_spares_the_rest(bench: Any) -> None:
    """Two crashed transactions and one committed one: recovery ends each the right way."""
    b = bench(2)
    assert b.run("ok") == ("returned", True), "a transaction without failures did not commit"
    how1, _ = b.run("a", {1: {("commit", "before"): "crash-coordinator"}})
    how2, _ = b.run("b", {1: {("prepare", "before"): "crash-coordinator"}})
    expect(how1 == how2 == "crashed", "the coordinator did not reach both crash points")
    b.recover()
    assert b.values("ok") == [1, 1], f"recovery undid a committed transaction: {b.values('ok')}"
    assert b.assert_atomic("a", "crash after the first commit") == [1, 1], (
        "a was committed at p0 before the crash: recovery must commit it at p1"
    )
    b.assert_atomic("b", "crash after the first prepare")
    b.assert_ended("after one recovery of two crashed transactions")


# -------------------------------------------------------------------- idempotence


@pytest.mark.parametrize("op", ["commit", "abort"])
@clause("TWOPC-7")
def test_a_lost_reply_in_phase_two_is_harmless(bench: Any, op: str) -> None:
    """p0 applies phase two but its reply is lost: the retry (or recovery) changes nothing."""
    b = bench(3)
    plans: dict[int, Plan] = {0: {(op, "after"): "lost-reply"}}
    if op == "abort":
        plans[1] = {("prepare", "before"): "no"}  # p0 is prepared when it hears abort
    how, _ = b.run("t1", plans)
    if how != "returned":
        b.recover()
    vals = b.values("t1")
    assert all(v in (0, 1) for v in vals), (
        f"p0's reply to {op} was lost; after the retry t1 reads {vals}: applied twice"
    )
    want = [1, 1, 1] if op == "commit" else [0, 0, 0]
    assert vals == want, f"p0's reply to {op} was lost; after the retry t1 reads {vals}"
    b.assert_ended(f"after a lost {op} reply")


@clause("TWOPC-7")
def test_recovery_after_the_end_changes_nothing(bench: Any) -> None:
    """recover twice after a committed and an aborted transaction: values stay put."""
    b = bench(3)
    expect(b.run("c") == ("returned", True), "a transaction without failures did not commit")
    expect(
        b.run("a", {1: {("prepare", "before"): "no"}}) == ("returned", False),
        "a transaction with a no vote did not return False",
    )
    expect(
        b.values("c") == [1, 1, 1] and b.values("a") == [0, 0, 0],
        f"before any recovery: c reads {b.values('c')}, a reads {b.values('a')}",
    )
    for _ in range(2):
        b.recover()
        assert b.values("c") == [1, 1, 1] and b.values("a") == [0, 0, 0], (
            f"recover after the end changed values: c {b.values('c')}, a {b.values('a')}"
        )


@clause("TWOPC-7")
def test_participant_phase_two_twice(bench: Any) -> None:
    """A participant (its own, when it has them): commit twice and abort twice are harmless."""
    b = bench(1)
    p = b.parts[0].inner
    for t, op in (("t1", "commit"), ("t2", "abort")):
        p.write(t, f"k{t}", 1)
        expect(p.prepare(t) is True, f"{t} did not prepare")
        getattr(p, op)(t)
        getattr(p, op)(t)
    assert p.read("kt1") == 1, f"a repeated commit changed the value to {p.read('kt1')}"
    assert p.read("kt2") == 0, f"a repeated abort changed the value to {p.read('kt2')}"

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

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from distconform.conformance.support import expect
from distconform.conformance.twopc_hooks import Crash, Hooked, Trace
from distconform.plugin import NOT_APPLICABLE

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
        self.trace.dead = self.trace.first_fired = False

    def stage(self, txid: str) -> None:
        for p in self.parts:
            p.write(txid, f"k{txid}", 1)

    def values(self, txid: str) -> list[int]:
        return [p.read(f"k{txid}") for p in self.parts]

    def doubt(self) -> dict[str, list[str]]:
        return {p.name: p.in_doubt() for p in self.parts}

    def run(
        self, txid: str, plans: dict[int, Plan] | None = None, *, stage: bool = True
    ) -> tuple[str, Any]:
        """Stage and run ``txid``; ('returned', bool) | ('raised', exc) | ('crashed', Crash)."""
        if stage:
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
        """A new coordinator client recovers, with every participant reachable.

        A recover that raises has not finished the transactions (TWOPC-8): the
        test fails here, with the state the raise left (probed) in the message.
        """
        fresh = self.impl.client("recovery")
        try:
            return dict(fresh.recover(self.parts))
        except Exception as exc:
            for p in self.parts:
                p.wait_idle(30)
            left = {n: t for n, t in self.doubt().items() if t}
            raise AssertionError(
                f"recover raised {type(exc).__name__}: {str(exc).splitlines()[0][:200]} with "
                f"every participant reachable; left in doubt: {left or 'nothing'}"
            ) from exc

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

    def end_four_ways(self) -> None:
        """c commits and a aborts (p1 votes no), run returning; d and e end in a crash.

        The coordinator crashes at p1's commit of d (p0 committed: the commit
        was decided) and at p1's prepare of e (p0 prepared, nothing decided).
        """
        expect(self.run("c") == ("returned", True), "a transaction without failures did not commit")
        expect(
            self.run("a", {1: {("prepare", "before"): "no"}}) == ("returned", False),
            "a transaction with a no vote did not return False",
        )
        how_d, _ = self.run("d", {1: {("commit", "before"): "crash-coordinator"}})
        how_e, _ = self.run("e", {1: {("prepare", "before"): "crash-coordinator"}})
        expect(how_d == how_e == "crashed", "the coordinator did not reach both crash points")

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

    def unacknowledged(self, txid: str, op: str) -> list[str]:
        """Participants that had to hear ``op`` for ``txid`` and never acknowledged it.

        Every participant must hear a commit; an abort, every one that did not
        vote no (TWOPC-9). Acknowledged: a call returned without raising.
        """
        return [
            p.name
            for p in self.parts
            if (op == "commit" or self.trace.votes.get((p.name, txid)) is not False)
            and (p.name, op, txid) not in self.trace.acks
        ]

    def assert_ended(self, context: str) -> None:
        left = {n: t for n, t in self.doubt().items() if t}
        assert not left, f"{context}: transactions still in doubt: {left}"

    def probe(
        self,
        context: str,
        txids: tuple[str, ...] = ("t1",),
        *,
        want: bool | None = None,
        returned: bool | None = None,
    ) -> None:
        """The state a run (and any recovery) left, checked after every error, refusal or crash.

        Waits for calls still in flight (a slow prepare outlives a run that gave
        up on it), then: each transaction applied at most once and the same way
        at every participant (``want``: which way), nothing prepared at any
        participant (XA RECOVER of this test's xids, for MariaDB participants),
        and, when ``run`` returned ``returned`` without a crash, every
        participant told the outcome: a participant that was neither told to
        abort nor voted no would keep the transaction's work and locks.
        """
        for p in self.parts:
            assert p.wait_idle(30), f"{context}: a call at {p.name} was still running after 30 s"
        for t in txids:
            vals = self.assert_atomic(t, context)
            if want is not None:
                assert vals == [int(want)] * len(vals), (
                    f"{context}: {t!r} should have {'committed' if want else 'aborted'} "
                    f"everywhere, but reads {vals} (values per participant)"
                )
        self.assert_ended(context)
        if returned is None:
            return
        op = "commit" if returned else "abort"
        for t in txids:
            untold = [
                p.name
                for p in self.parts
                if (p.name, op, t) not in self.trace.calls
                and not (not returned and self.trace.votes.get((p.name, t)) is False)
            ]
            assert not untold, (
                f"{context}: run returned {returned} for {t!r}, but "
                f"{', '.join(untold)} {'was' if len(untold) == 1 else 'were'} never told to "
                f"{op} (nor voted no): {'its' if len(untold) == 1 else 'their'} work and locks "
                "stay behind"
            )


@pytest.fixture
def bench(impl: Any) -> Iterator[Any]:
    made: list[Bench] = []

    def make(n: int = 2, subject: Any = None) -> Bench:
        b = Bench(subject if subject is not None else impl, n)
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


#: Concurrent runs on one client: threads x transactions each, and the most a
#: participant call is delayed (uniformly at random) so that the runs interleave
#: between their steps instead of one finishing before the next is scheduled.
THREADS, PER_THREAD, JITTER = 4, 8, 0.004


@clause("TWOPC-13", "TWOPC-8", "TWOPC-1")
def test_concurrent_transactions_on_one_client(bench: Any) -> None:
    """Four threads share one coordinator client, eight transactions each: all commit and end.

    Each thread drives the same client object on a thread of its own
    (``on_thread``), and every participant call first sleeps 0-4 ms, so that
    the 32 runs interleave at every step. Planted bug, measured: a coordinator
    that keeps the running transaction's id on the object (known-bad
    ``shared-txid-state``) was caught in 20 of 20 runs (memory participants).
    """
    b = bench(2)
    for p in b.parts:
        p.jitter = JITTER
    errors: list[str] = []
    txids = [f"c{w}x{i}" for w in range(THREADS) for i in range(PER_THREAD)]

    def worker(w: int) -> None:
        on_thread = getattr(b.coordinator, "on_thread", None)
        view = on_thread(w) if callable(on_thread) else b.coordinator
        for i in range(PER_THREAD):
            t = f"c{w}x{i}"
            b.stage(t)
            try:
                result = view.run(t, b.parts)
            except Exception as exc:
                errors.append(f"{t}: raised {exc!r}")
                continue
            if result is not True:
                errors.append(f"{t}: returned {result!r}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads), "concurrent runs did not end in 120 s"
    if errors:
        try:
            b.recover()  # so that the probe below sees what the errors left, once finished
        except Exception as exc:
            errors.append(f"then recover raised {exc!r}")
    try:
        b.probe(f"after {len(txids)} concurrent transactions on one client", tuple(txids))
    except AssertionError as exc:
        errors.append(str(exc).splitlines()[0])
    assert not errors, (
        f"{len(errors)} problems with {len(txids)} concurrent transactions on one client, "
        f"e.g. {errors[:3]} ... {errors[-1]}"
    )
    wrong = {t: b.values(t) for t in txids if b.values(t) != [1, 1]}
    assert not wrong, (
        f"concurrent transactions not committed everywhere: {dict(list(wrong.items())[:4])}"
    )


@pytest.mark.parametrize("fault", ["no", "error"])
@clause("TWOPC-9")
def test_an_abort_reaches_every_participant(bench: Any, fault: str) -> None:
    """The first of three participants refuses: the two never asked to prepare are told to abort."""
    b = bench(3)
    how, result = b.run("t1", {0: {("prepare", "before"): fault}})
    if how != "returned":
        b.recover()
    assert (how, result) == ("returned", False), (
        f"run after p0's prepare ({fault}) gave {how} {result!r}"
    )
    b.probe(f"after p0's prepare ({fault})", want=False, returned=False)


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
    b.probe(f"after p{who} voted no", want=False, returned=False)


@pytest.mark.parametrize("who", [1, 2], ids=["middle", "last"])
@pytest.mark.parametrize("fault", ["error", "timeout", "timeout-after-prepare"])
@clause("TWOPC-3", "TWOPC-1")
def test_a_failed_prepare_aborts_everywhere(bench: Any, fault: str, who: int) -> None:
    """A prepare that raises (error or timeout) aborts everywhere, and run returns False.

    ``timeout-after-prepare``: the participant prepared, then its answer timed
    out (a read timeout on the reply to ``XA PREPARE``): the coordinator cannot
    know it prepared, so it must tell it to abort, or the branch stays prepared.
    """
    b = bench(3)
    when = "after" if fault == "timeout-after-prepare" else "before"
    how, result = b.run("t1", {who: {("prepare", when): fault.removesuffix("-after-prepare")}})
    if how != "returned":
        b.recover()
    assert b.values("t1") == [0, 0, 0], (
        f"p{who}'s prepare raised ({fault}), yet t1 committed at {b.values('t1')}"
    )
    assert (how, result) == ("returned", False), (
        f"run after a prepare {fault} at p{who} gave {how} {result!r}"
    )
    b.probe(f"after a prepare {fault} at p{who}", want=False, returned=False)


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
    if last_vote == "no":
        b.probe("after the last participant voted no", want=False)


# ------------------------------------------------------------ participant crashes


#: Where p1 (of three) crashes and restarts: its plan, and how the transaction must end
#: (None: either way, the same everywhere). The coordinator is not told: it sees
#: a ConnectionError from the call, or a participant that lost its unprepared work.
PARTICIPANT_CRASHES: dict[str, tuple[dict[int, Plan], bool | None]] = {
    "before-its-prepare": ({1: {("prepare", "before"): "crash-participant"}}, False),
    "after-its-yes-vote": ({1: {("prepare", "after"): "crash-participant"}}, None),
    # Either way: a coordinator without a decision log (SQLAlchemy's Session) may
    # end it aborted everywhere when no participant had committed yet, which no
    # clause forbids (TWOPC-6 binds only once a participant committed).
    "before-applying-commit": ({1: {("commit", "before"): "crash-participant"}}, None),
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
    b.probe(f"p1 crashed {point}, then restarted", want=bool(vals[0]))


@clause("TWOPC-5")
def test_prepared_work_survives_a_participant_restart(bench: Any) -> None:
    """A participant keeps a prepared branch across close and reopen (its own, when it has them).

    Asked to prepare again after the restart (a coordinator retrying a
    prepare whose reply was lost), it votes yes again: its vote is durable.
    """
    b = bench(1)
    p = b.parts[0]
    p.write("t1", "kt1", 1)
    expect(p.inner.prepare("t1") is True, "p0 did not vote yes")
    p.crash()
    assert "t1" in p.in_doubt(), "a prepared transaction is missing from in_doubt() after a restart"
    assert p.read("kt1") == 0, "a prepared, undecided write is visible after a restart"
    again = p.inner.prepare("t1")
    assert again is True, f"p0 voted yes, restarted, and then voted {again!r} on t1"
    p.inner.commit("t1")
    assert p.read("kt1") == 1, "commit after a restart did not apply the prepared write"
    b.probe("after a restart and a commit of the prepared branch", want=True)


@clause("TWOPC-1")
def test_work_lost_before_prepare_is_committed_nowhere(bench: Any) -> None:
    """p1 crashes after the writes, before run starts: t1 must commit at no participant.

    The restarted p1 (a new participant object of the same name) lost its
    unprepared work (fault model): it must vote no, or fail its prepare, and
    the transaction then aborts at p0 and p2 too. A participant that votes yes
    with nothing prepared commits nothing while the others commit the writes
    (known-bad ``lost-work-votes-yes``). The other participant-crash tests
    crash inside run, where the coordinator sees the crash as an error.
    """
    b = bench(3)
    b.stage("t1")
    b.parts[1].crash()
    expect(b.parts[1].crashes == 1, "p1 did not restart")
    how, result = b.run("t1", stage=False)
    if how != "returned":
        b.recover()
    b.probe(
        "p1 lost its unprepared work in a crash before run",
        want=False,
        returned=False if how == "returned" else None,
    )
    assert (how, result) == ("returned", False), (
        f"p1 lost its work for t1 in a crash before run, yet run gave {how} {result!r}"
    )


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
    b.probe(f"coordinator crashed {point}, then one recovery")


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
    b.probe("after one recovery of two crashed transactions", ("ok", "a", "b"))


@clause("TWOPC-15")
def test_recover_reports_what_it_finished(bench: Any) -> None:
    """recover returns the crashed transactions with their ends, and none that had ended.

    'c' committed and 'a' aborted (p1 voted no), run returning: both are over
    before any recovery. 'd' crashed after its commit decision (p0 committed),
    'e' before any decision (p0 prepared): both are left in doubt.
    One recovery must answer d and e, each mapped to how it ended everywhere,
    and neither c nor a; a second recovery finds nothing to finish. A recovery
    that reports every transaction of its log (known-bad ``recover-reports-the-
    log``) has its caller act again on transactions that ended long ago.
    """
    b = bench(3)
    b.end_four_ways()
    left = {t for ts in b.doubt().values() for t in ts}
    expect({"d", "e"} <= left, f"d and e should be in doubt before recovery; in doubt: {left}")
    got = b.recover()
    again = b.recover()
    ended = sorted(t for t in ("c", "a") if t in got)
    assert not ended, (
        f"recover reported {', '.join(ended)}, which had ended (run returned) before any "
        f"crash: {got}"
    )
    missing = sorted(t for t in ("d", "e") if t not in got)
    assert not missing, f"recover finished {missing}, left in doubt by crashes, but says {got}"
    for t in ("d", "e"):
        vals = b.values(t)
        # A split end is TWOPC-1's and TWOPC-6's failure, found by their tests.
        if len(set(vals)) == 1:
            assert got[t] is bool(vals[0]), (
                f"recover reported {t!r} as {got[t]!r}, but it reads {vals} (values per "
                "participant)"
            )
    assert again == {}, f"a second recovery, with nothing in doubt, reported {again}"
    # d's single end is TWOPC-6's, judged by test_coordinator_crash_then_recovery.
    b.probe("after the recover report checks", ("c", "a", "e"))


# -------------------------------------------------------------------- idempotence


@pytest.mark.parametrize("op", ["commit", "abort"])
@clause("TWOPC-7")
def test_a_lost_reply_in_phase_two_is_harmless(bench: Any, op: str) -> None:
    """The first participant to apply phase two loses its reply: the retry changes nothing.

    For commit, the planned loss is on every participant and fires at the first
    one that applies it, whatever order the coordinator commits in.
    """
    b = bench(3)
    plans: dict[int, Plan] = {0: {(op, "after"): "lost-reply"}}
    if op == "commit":
        plans = {i: {(op, "after"): "lost-reply-first"} for i in range(3)}
    if op == "abort":
        plans[1] = {("prepare", "before"): "no"}  # p0 is prepared when it hears abort
    how, _ = b.run("t1", plans)
    if how != "returned":
        b.recover()
    vals = b.values("t1")
    assert all(v in (0, 1) for v in vals), (
        f"a reply to {op} was lost; after the retry t1 reads {vals}: applied twice"
    )
    want = [1, 1, 1] if op == "commit" else [0, 0, 0]
    assert vals == want, f"a reply to {op} was lost; after the retry t1 reads {vals}"
    b.probe(f"after a lost {op} reply", want=op == "commit")


#: How long the proxy holds the first reply to XA COMMIT before it cuts the connection:
#: the statement reaches the server at once (only replies are held) and commits in
#: milliseconds, so after 0.5 s it has been applied, and its reply never comes.
HOLD_BEFORE_CUT = 0.5


@clause("TWOPC-7", "TWOPC-1", "TWOPC-8")
def test_commit_applied_but_its_connection_cut(bench: Any, impl: Any) -> None:
    """Through a fault proxy: the first XA COMMIT is applied, its reply held, then cut.

    The coordinator cannot know whether p0 committed. After its retries (and, if
    run raised, one recovery) the transaction is committed everywhere and
    nothing is left prepared.
    """
    if not impl.has("participants") or "mysql" not in impl.impl.needs:
        pytest.skip(
            f"{NOT_APPLICABLE}: no participants of its own reaching MySQL through "
            "ctx.mysql_url, so no connection to cut (the hooks' lost-reply tests still apply)"
        )
    sub, proxy = impl.via_proxy("mysql")
    b = bench(3, subject=sub)

    def hold_then_cut() -> None:
        proxy.hold("reply")

        def cut() -> None:
            proxy.cut()
            proxy.reset()

        threading.Timer(HOLD_BEFORE_CUT, cut).start()

    b.trace.actions["hold-cut"] = hold_then_cut
    # At whichever participant the coordinator commits first.
    plans: dict[int, Plan] = {i: {("commit", "before"): "run-first:hold-cut"} for i in range(3)}
    how, result = b.run("t1", plans)
    if how != "returned":
        b.recover()
    b.probe("the first reply to XA COMMIT was held, then its connection cut", want=True)
    if how == "returned":
        assert result is True, f"run returned {result!r}, but t1 committed everywhere"


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
    b.probe("after two recoveries of ended transactions", ("c",), want=True)
    b.probe("after two recoveries of ended transactions", ("a",), want=False)


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
    b.probe("after commit twice and abort twice", ())


# ------------------------------------------------------- reporting phase two


@contextlib.contextmanager
def verdict_first(wrong: str | None) -> Iterator[None]:
    """Run the recovery and probes; if they fail after run already got it wrong, say that first.

    The probes still run after a wrong report (they find what it left); their
    failure then names the report too, so the verdict's message leads with it.
    """
    try:
        yield
    except AssertionError as exc:
        if wrong is None:
            raise
        raise AssertionError(f"{wrong}; then: {str(exc).splitlines()[0]}") from exc


def phase_two_plans(op: str, fault: str) -> dict[int, Plan]:
    """Plans over three participants: ``fault`` at every one that must hear ``op``.

    For abort, p2 votes no after p0 and p1 voted yes, so p0 and p1 are prepared
    when they hear it. Every participant gets the fault, so that a coordinator
    that stops at its first failure (SQLAlchemy) has not committed anywhere
    either: the recovery that follows can still end the transaction one way.
    """
    if op == "commit":
        return {i: {("commit", "before"): fault} for i in range(3)}
    return {
        0: {("abort", "before"): fault},
        1: {("abort", "before"): fault},
        2: {("prepare", "before"): "no"},
    }


@pytest.mark.parametrize("op", ["commit", "abort"])
@clause("TWOPC-14", "TWOPC-8")
def test_run_raises_when_phase_two_does_not_get_through(bench: Any, op: str) -> None:
    """Every participant that must hear the outcome is down for it: run raises, never returns.

    The votes got through, then the participants became unreachable: every
    commit, or abort, finds its connection broken (the hook's ``down``: a
    participant crash and a ConnectionError) until the test brings them back.
    A run that returned would tell its caller the transaction is over while
    prepared branches hold it (and their locks), with nothing prompting the
    recovery that ends them. Then, the participants back, one recovery ends it.
    """
    b = bench(3)
    how, result = b.run("t1", phase_two_plans(op, "down"))
    untold = b.unacknowledged("t1", op)
    wrong = None
    if how != "raised":
        wrong = (
            f"{', '.join(untold)} never acknowledged the {op} of t1 (down), yet run "
            f"{'returned ' + repr(result) if how == 'returned' else how}: the caller is told "
            "the transaction ended while it is still open there, and has no reason to recover"
        )
    with verdict_first(wrong):  # the participants are back (disarmed): end what is left
        b.recover()
        b.probe(f"every participant down for {op} in phase two, then one recovery")
    expect(untold, f"a participant acknowledged {op} although it was down")
    assert wrong is None, wrong


@pytest.mark.parametrize("op", ["commit", "abort"])
@clause("TWOPC-14", "TWOPC-7")
def test_run_returns_once_a_retry_gets_through(bench: Any, op: str) -> None:
    """Each participant's first two phase-two calls fail: run returns iff all were acknowledged.

    A failed call finds the participant's connection broken (hook ``errors:2``).

    A coordinator that retries gets every commit (abort) through on the third
    call and must then return the outcome: an exception says "outcome unknown",
    and a caller that retries its business operation on one applies it twice.
    One that does not retry (or gives up sooner) has a participant without an
    acknowledgment, and must raise. The trace says which.
    """
    b = bench(3)
    how, result = b.run("t1", phase_two_plans(op, "errors:2"))
    untold = b.unacknowledged("t1", op)
    wrong = None
    if untold and how != "raised":
        wrong = (
            f"{', '.join(untold)} never acknowledged the {op} of t1, yet run "
            f"{'returned ' + repr(result) if how == 'returned' else how}"
        )
    elif not untold and (how, result) != ("returned", op == "commit"):
        wrong = (
            f"every participant acknowledged the {op} of t1 (after failed attempts), "
            f"yet run {how} {result!r}: the caller cannot tell it from an unknown outcome"
        )
    with verdict_first(wrong):
        if how != "returned" or untold:
            b.recover()  # what run left unfinished, so that the probes see the end state
        want = None if untold else op == "commit"
        b.probe(f"every phase-two {op} failed twice at first", want=want)
    assert wrong is None, wrong


# --------------------------------------------------------------- prepare timeout

#: Trials per side of the declared prepare timeout (spec: tolerance paragraph).
TRIALS = 5
#: Loose bound on how late run may return after the declared timeout: a loaded
#: 2-core machine stalls a healthy call for about a second (guard.DEFAULT_CALL_TIMEOUT).
LOOSE = 1.0
#: Round trips between the deadline and run's return: the abort record in the log
#: and an abort at each of three participants (memory implementations have none);
#: the log record and the rollback of the prepared branch each wait for a redo-log
#: flush, which a SELECT 1 round trip does not include: counted twice each.
ROUND_TRIPS = 6


def declared_timeout(b: Bench) -> float:
    t = getattr(b.coordinator, "prepare_timeout", None)
    expect(
        isinstance(t, int | float) and not isinstance(t, bool) and 0 < t <= 30,
        f"capability prepare-timeout, but prepare_timeout is {t!r} (want seconds, 0 < T <= 30)",
    )
    return float(t)  # type: ignore[arg-type]


@clause("TWOPC-10")
@pytest.mark.takes(8)
def test_votes_before_the_prepare_timeout_commit(bench: Any) -> None:
    """p1 votes yes at 0.7 T, five times: each transaction commits (no abort below T)."""
    b = bench(3)
    t_out = declared_timeout(b)
    txids = tuple(f"below{k}" for k in range(TRIALS))
    for t in txids:
        # 0.3 T (0.6 s for T = 2 s) is left for the other two prepares and the
        # thread hand-offs: two orders of magnitude above a healthy prepare.
        b.stage(t)
        start = time.monotonic()  # the timeout runs from a moment no earlier
        how, result = b.run(t, {1: {("prepare", "before"): f"slow:{0.7 * t_out}"}}, stage=False)
        if (how, result) != ("returned", True):
            b.recover()
            b.probe(f"p1 voted yes at 0.7 T = {0.7 * t_out:.2f} s", (t,))
            # A vote that came back after T (a starved machine) excuses the abort;
            # one the coordinator never asked for or waited out does not.
            late = [
                f"{p.name} at {at - start:.2f} s"
                for p in b.parts
                if (at := b.trace.acks.get((p.name, "prepare", t))) is not None
                and at - start >= t_out
            ]
            expect(not late, f"votes came back after the prepare timeout: {', '.join(late)}")
        assert (how, result) == ("returned", True), (
            f"p1 voted yes {0.7 * t_out:.2f} s into the run, below the declared prepare "
            f"timeout {t_out} s, yet run gave {how} {result!r}"
        )
    b.probe("after five runs with a yes at 0.7 T", txids, want=True, returned=True)


@pytest.mark.parametrize("p0", ["prompt", "yes-at-0.8T"])
@clause("TWOPC-10")
@pytest.mark.takes(13)
def test_votes_after_the_prepare_timeout_abort(bench: Any, timing: Any, p0: str) -> None:
    """p1 answers 1.5 s after T, five times: run returns False at T (within tolerance).

    ``yes-at-0.8T``: p0 votes yes only at 0.8 T, so p1 is asked 0.8 T into the
    run: the timeout still runs from run's start. A coordinator that gives each
    vote T of its own (known-bad ``per-vote-timeout``) returns at 1.8 T.
    """
    b = bench(3)
    t_out = declared_timeout(b)
    late = t_out + 1.5
    txids = tuple(f"above{k}" for k in range(TRIALS))
    spans: list[float] = []
    results: list[tuple[str, Any]] = []
    plan: dict[int, Plan] = {1: {("prepare", "before"): f"slow:{late}"}}
    if p0 == "yes-at-0.8T":
        plan[0] = {("prepare", "before"): f"slow:{0.8 * t_out}"}
    for t in txids:
        b.stage(t)
        b.arm(plan)
        start = time.monotonic()
        try:
            results.append(("returned", b.coordinator.run(t, b.parts)))
        except Exception as exc:
            results.append(("raised", exc))
        spans.append(time.monotonic() - start)  # one call: its own start to its own end
        b.disarm()
    if any(r != ("returned", False) for r in results):
        b.recover()
    b.probe(
        f"after five runs whose p1 answered {late:.1f} s late",
        txids,
        want=False,
        returned=False if all(h == "returned" for h, _ in results) else None,
    )
    bad = [
        f"{t}: {h} {r!r}"
        for t, (h, r) in zip(txids, results, strict=True)
        if (h, r) != ("returned", False)
    ]
    assert not bad, (
        f"p1's vote came {late:.1f} s after the start, past the declared prepare timeout "
        f"{t_out} s, yet: {bad}"
    )
    timing.check(
        f"run with a vote {late:.1f} s late (p0 {p0}) returns at the prepare timeout {t_out} s",
        spans,
        at_least=t_out,
        at_most=t_out,
        loose=LOOSE,
        tight=timing.tight(b.impl, round_trips=ROUND_TRIPS),
    )


@pytest.mark.parametrize("late", ["late-start", "late-reply"])
@clause("TWOPC-11")
@pytest.mark.takes(3)
def test_a_late_yes_leaves_nothing_prepared(bench: Any, late: str) -> None:
    """p1's prepare starts (or its yes comes back) after the timeout: nothing stays prepared."""
    b = bench(3)
    t_out = declared_timeout(b)
    plan = (
        {("prepare", "before"): f"slow:{t_out + 1.0}"}
        if late == "late-start"
        else {("prepare", "after"): f"slow-reply:{t_out + 1.0}"}
    )
    how, result = b.run("t1", {1: plan})
    if how != "returned":
        b.recover()
    # The probe first waits for p1's late call to finish, then looks.
    b.probe(f"p1's prepare ({late}) came {t_out + 1.0:.1f} s into the run", want=False)
    assert (how, result) == ("returned", False), f"run with a {late} vote gave {how} {result!r}"


# ------------------------------------------------------------------------ outcome


@clause("TWOPC-12")
def test_outcome_reports_how_transactions_ended(bench: Any) -> None:
    """outcome on a new client: True, False, None, and True for a commit decided before a crash."""
    b = bench(3)
    b.end_four_ways()
    observer = b.impl.client("observer")
    seen = {t: observer.outcome(t) for t in ("c", "a", "d", "e", "never-run")}
    assert seen["c"] is True, f"outcome of a committed transaction is {seen['c']!r}"
    assert seen["a"] is False, f"outcome of a transaction that aborted (a no vote) is {seen['a']!r}"
    assert seen["d"] is True, (
        f"the commit of 'd' was decided (p0 committed) before the coordinator crashed, "
        f"but outcome says {seen['d']!r} before recovery"
    )
    assert seen["e"] is not True, "outcome says True for a transaction that never had every vote"
    assert seen["never-run"] is None, f"outcome of an unknown txid is {seen['never-run']!r}"
    b.recover()
    after = {t: observer.outcome(t) for t in ("c", "a", "d", "e")}
    assert after == {"c": True, "a": False, "d": True, "e": False}, (
        f"outcome after recovery: {after} (want c True, a False, d True, e False)"
    )
    b.probe("after the outcome checks and one recovery", ("c", "a", "d", "e"))
    for t, want in after.items():
        assert b.values(t) == [int(want)] * 3, f"outcome of {t!r} is {want}, values {b.values(t)}"


@clause("TWOPC-12")
def test_outcome_is_none_while_votes_are_pending(bench: Any) -> None:
    """While p1 is still preparing, another client's outcome says None; then True."""
    b = bench(3)
    observer = b.impl.client("observer")
    # p1's yes comes this late: long beside the query (milliseconds), and below
    # the declared prepare timeout, so that the transaction then commits. (A fixed
    # 1.2 s failed a correct implementation declaring T = 1 s: found by a mutant.)
    slow = 1.2
    if b.impl.has("prepare-timeout"):
        slow = min(slow, 0.6 * declared_timeout(b))
    b.stage("t1")
    b.arm({1: {("prepare", "before"): f"slow:{slow}"}})
    box: list[Any] = []

    def runner() -> None:
        try:
            box.append(b.coordinator.run("t1", b.parts))
        except BaseException as exc:
            box.append(exc)

    th = threading.Thread(target=runner)
    th.start()
    deadline = time.monotonic() + 10
    while ("p1", "prepare", "t1") not in b.trace.calls and time.monotonic() < deadline:
        time.sleep(0.005)
    expect(("p1", "prepare", "t1") in b.trace.calls, "p1's prepare did not start within 10 s")
    during = observer.outcome("t1")  # p1 sleeps for 1.2 s now: no decision is possible
    th.join(60)
    b.disarm()
    expect(not th.is_alive(), "run did not return within 60 s")
    if box and box[0] is not True:
        b.recover()
    b.probe("after a run observed while p1 was preparing")
    assert during is None, (
        f"outcome said {during!r} while p1 had not voted yet (the transaction was undecided)"
    )
    assert box == [True], f"run with a slow yes ({slow} s) gave {box!r}"
    assert observer.outcome("t1") is True, "outcome after run returned True is not True"

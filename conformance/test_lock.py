"""Conformance tests for the distributed lock: spec/lock.md.

Every test names its clauses; each runs against every selected implementation.
Time limits: TOLERANCE is the spec's tolerance (1 s). Waits that only set up a
state (a grant running out) add GRACE so that a slow machine cannot turn a
correct implementation into a failure.

Timing clauses run several trials, with sub-second and multi-second TTLs and
timeouts, side by side on different lock names, and judge them with the
harness's ``timing`` fixture (distconform/calibrate.py): every sample against
the lower bound with no tolerance, the median against the calibrated tight
tolerance, the worst against TOLERANCE. A sample is an *overrun*: the measured
span minus the bound it is held to, so that trials of different lengths share
one verdict.

Intervals: a span runs from the earliest recorded start to the latest recorded
end of the calls it covers. A grant is certainly in place from the *end* of
the acquire that returned it; another client's grant happened at the latest at
the *end* of its acquire call (poll_acquire returns that time); so "B was
granted before X" is a true finding only when B's acquire *ended* before X.

Probes after errors: every call that raised, timed out or was refused is
followed by a probe of the state it left (is the lock free or held, by whom,
does it still run out); see ``probed`` and ``assert_intact``.
"""

from __future__ import annotations

import functools
import itertools
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from distconform.conformance.support import expect
from distconform.workers import spawn

MECHANISM = "lock"
ROLES = "distconform.conformance.lock_roles"
clause = pytest.mark.clause

#: The spec's tolerance (spec/lock.md): a bounded wait may overrun by this much.
TOLERANCE = 1.0
#: Extra time a test waits for a state it needs (a grant to run out). Not a
#: bound the implementation is held to, so it can be generous.
GRACE = 2.0
#: How often a polling client asks again: short against TOLERANCE.
POLL = 0.01
#: How long a blocking acquire may sleep between two attempts, for LOCK-8's
#: tight verdict (spec/lock.md): the libraries' documented retry sleeps are
#: 0.1 s (redis-py ``sleep``, sherlock ``retry_interval``) and up to 0.2 s
#: (pottery, random); a give-up can only follow such a sleep.
RETRY_SLACK = 0.25


def poll_acquire(client: Any, name: str, ttl: float, until: float) -> tuple[Any, float]:
    """Non-blocking acquires until one succeeds or ``until``; (handle, return time)."""
    while True:
        handle = client.acquire(name, ttl, 0)
        now = time.monotonic()
        if handle is not None or now >= until:
            return handle, now
        time.sleep(POLL)


def poll_many(
    client: Any, names: Sequence[str], ttl: float, until: float
) -> dict[str, tuple[Any, float]]:
    """Non-blocking acquires of every name in turn, one thread, until each is got or ``until``.

    One thread on purpose: pollers side by side on threads would wait for the
    GIL for one another, and the waits would count as the implementation's
    lateness. A name is tried once per round, so it is noticed at most one
    round (POLL plus one round trip per other pending name) after it is free.
    Returns name -> (handle or None, time its acquire returned or ``until``).
    """
    got: dict[str, tuple[Any, float]] = {}
    while True:
        for name in names:
            if name in got:
                continue
            handle = client.acquire(name, ttl, 0)
            if handle is not None:
                got[name] = (handle, time.monotonic())
        now = time.monotonic()
        if len(got) == len(names) or now >= until:
            return {n: got.get(n, (None, now)) for n in names}
        time.sleep(POLL)


def acquire_free(client: Any, name: str, ttl: float) -> Any:
    """Acquire ``name``, which is free; a None is inconclusive if the call outlasted ``ttl``.

    An implementation may refuse a grant whose reply came after its TTL had
    run out (LOCK-29): on a loaded machine a sub-second TTL can run out
    during the call. A None from a quicker call is a failure.
    """
    t0 = time.monotonic()
    handle = client.acquire(name, ttl, 0)
    took = time.monotonic() - t0
    if handle is None:
        expect(took < ttl, f"acquire of free {name!r} took {took:.3f} s, past its {ttl} s TTL")
    assert handle is not None, f"acquire of free {name!r} (ttl {ttl} s) returned None"
    return handle


def held_by_someone(impl: Any, name: str) -> bool:
    """True when a fresh client cannot get ``name`` right now (it releases if it can)."""
    probe = impl.client("probe")
    handle = probe.acquire(name, 5.0, 0)
    if handle is None:
        return True
    probe.release(handle)
    return False


def assert_intact(impl: Any, holder: Any, handle: Any, name: str, after: str) -> None:
    """Probe after a refused or failed call: the holder's grant is in place and releasable.

    Others are refused ``name``; the holder's release returns True; then a
    fresh client gets ``name`` at once.
    """
    assert held_by_someone(impl, name), (
        f"probe after {after}: the holder's grant of {name!r} is gone"
    )
    assert holder.release(handle) is True, (
        f"probe after {after}: the holder's release of {name!r} did not return True"
    )
    assert not held_by_someone(impl, name), (
        f"probe after {after}: {name!r} is still held after its holder released it"
    )


def free_within(impl: Any, name: str, until: float) -> float | None:
    """Poll with a fresh client until ``until``; the time it got ``name`` (released), or None."""
    probe = impl.client("probe")
    handle, t = poll_acquire(probe, name, 5.0, until)
    if handle is None:
        return None
    probe.release(handle)
    return t


def probed(*names: str, ttl: float) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """On an error raised by the implementation, probe ``names`` before reporting it.

    The error stays an error (the test's clause is not judged); the probe's
    findings are added to it: whether each lock is free now, and if not
    whether it runs out within ``ttl`` (the longest TTL the test uses) plus
    the tolerance. A lock that does not is LOCK-27's failure, which
    test_failed_calls_leave_no_endless_grant judges on its own.
    """

    def wrap(test: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            t0 = time.monotonic()
            try:
                test(*args, **kwargs)
            except (AssertionError, pytest.skip.Exception, pytest.fail.Exception):
                raise
            except Exception as exc:
                impl = kwargs["impl"]
                for name in names:
                    try:
                        got = free_within(impl, name, max(time.monotonic(), t0 + ttl + TOLERANCE))
                        what = (
                            f"free {got - t0:.2f} s after the test began"
                            if got is not None
                            else f"STILL HELD {ttl} s + {TOLERANCE} s after the test began "
                            "(see LOCK-27)"
                        )
                    except Exception as probe_exc:
                        what = f"not probed: {type(probe_exc).__name__}: {probe_exc}"
                    exc.add_note(f"probe after the error: lock {name!r} {what}")
                raise

        return run

    return wrap


def timing_check(
    request: pytest.FixtureRequest,
    impl: Any,
    what: str,
    samples: Sequence[float],
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    round_trips: int = 1,
) -> None:
    """Judge ``samples`` (overruns, s) with the harness's ``timing`` fixture.

    The loose verdict is the spec's TOLERANCE. Without the fixture (an older
    harness) only the lower bound and the loose verdict are checked.
    """
    try:
        timing = request.getfixturevalue("timing")
    except pytest.FixtureLookupError:
        timing = None
    if timing is not None:
        tight = timing.tight(impl, round_trips)
        timing.check(what, samples, at_least=at_least, at_most=at_most, loose=TOLERANCE,
                     tight=tight)  # fmt: skip
        return
    shown = ", ".join(f"{x:.3f}" for x in samples)
    if at_least is not None:
        assert min(samples) >= at_least, f"{what}: a sample is below {at_least} s: [{shown}]"
    if at_most is not None:
        assert max(samples) <= at_most + TOLERANCE, (
            f"{what}: a sample exceeds {at_most} s + {TOLERANCE} s: [{shown}]"
        )


def side_by_side(trials: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run ``trials`` in threads at once; their results in order (the first error re-raised)."""
    results: list[Any] = [None] * len(trials)
    errors: list[BaseException | None] = [None] * len(trials)

    def run(i: int) -> None:
        try:
            results[i] = trials[i]()
        except BaseException as exc:
            errors[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(trials))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        if t.is_alive():
            raise AssertionError("a trial did not finish within 120 s")
    for e in errors:
        if e is not None:
            raise e
    return results


@clause("LOCK-1")
@pytest.mark.takes(6)
@probed("res", ttl=5.0)
def test_contenders_never_hold_at_once(impl: Any) -> None:
    """Eight contenders, each its own client, never hold the lock at the same time.

    Power, measured: the known-bad ``check_then_set`` (GET, then SET PX when
    empty: a one-round-trip race window) was caught in 20 of 20 runs on the
    2-core machine under the load of other test runs (2026-12-01): every run
    recorded an overlap within its 2.5 s.
    """
    ttl, n = 5.0, 8
    workers = [spawn(impl, f"{ROLES}:contend", "res", ttl, seed) for seed in range(n)]
    try:
        for w in workers:
            # Spawned processes import the implementation first: allow for it.
            w.recv(60, "ready")
        stop_at = time.monotonic() + 2.5
        for w in workers:
            w.send(("go", stop_at))
        records = []
        for i, w in enumerate(workers):
            _, recs = w.recv(30, "history")
            records += [(i, *r) for r in recs]
    finally:
        for w in workers:
            w.kill()
    # Too few grants says nothing about safety: inconclusive, not a LOCK-1 failure.
    expect(len(records) >= n, f"only {len(records)} grants in 2.5 s among {n} clients")
    # A grant may legitimately end at call_start + ttl; clip to that so a paused
    # holder whose lease really ran out is not counted against the lock.
    spans = sorted((frm, min(until, call + ttl), who) for who, call, frm, until in records)
    for (a_from, a_until, a), (b_from, _b_until, b) in itertools.pairwise(spans):
        assert b_from >= a_until, (
            f"client {b} was granted the lock at t={b_from:.4f} while client {a} held it "
            f"(t={a_from:.4f}..{a_until:.4f}); {len(spans)} grants recorded"
        )


@clause("LOCK-2")
@probed("res", ttl=30.0)
def test_release_frees_the_lock_at_once(impl: Any) -> None:
    """After the holder releases, another client's non-blocking acquire succeeds."""
    a, b = impl.client("a"), impl.client("b")
    ha = a.acquire("res", 30.0, 0)
    assert ha is not None, "acquire of a free lock failed"
    a.release(ha)
    hb = b.acquire("res", 30.0, 0)
    assert hb is not None, "lock still held after its holder released it (ttl 30 s)"


def _stale_handle(impl: Any) -> tuple[Any, Any, Any, Any]:
    """A's grant (ttl 1 s) has run out and B holds the lock: return a, ha, b, hb."""
    a, b = impl.client("a"), impl.client("b")
    t0 = time.monotonic()
    ha = acquire_free(a, "res", 1.0)
    hb, _ = poll_acquire(b, "res", 30.0, t0 + 1.0 + TOLERANCE + GRACE)
    expect(hb is not None, "B could not acquire after A's 1 s grant ran out (see LOCK-7)")
    return a, ha, b, hb


@clause("LOCK-3")
@probed("res", ttl=30.0)
def test_stale_release_keeps_the_new_holder(impl: Any) -> None:
    """A release through an expired handle does not free the new holder's grant."""
    a, ha, _, _ = _stale_handle(impl)
    a.release(ha)
    assert held_by_someone(impl, "res"), (
        "repro: A acquires res (ttl 1 s); A's grant runs out; B acquires res (ttl 30 s); "
        "A releases its old handle; C acquires res at once: B's grant was deleted"
    )


@clause("LOCK-3")
@probed("res", ttl=30.0)
def test_release_racing_its_own_expiry_keeps_the_next_holder(impl: Any) -> None:
    """A release sent just before the grant runs out never frees the next holder's grant."""
    a, b = impl.client("a"), impl.client("b")
    ttl = 1.0
    t0 = time.monotonic()
    ha = acquire_free(a, "res", ttl)
    # 0.5 s before expiry: room for a stalled scheduler, so the release really
    # starts while A still holds the lock.
    time.sleep(max(0.0, t0 + ttl - 0.5 - time.monotonic()))

    done = threading.Event()

    def release() -> None:
        try:
            a.release(ha)
        finally:
            done.set()

    threading.Thread(target=release, daemon=True).start()
    hb, _ = poll_acquire(b, "res", 30.0, t0 + ttl + TOLERANCE + GRACE)
    expect(hb is not None, "B could not acquire after A released or expired")
    assert done.wait(15), "A's release did not return within 15 s"
    assert held_by_someone(impl, "res"), (
        "repro: A acquires res (ttl 1 s) and releases 0.5 s before it runs out; B acquires "
        "res (ttl 30 s) as soon as it can; after A's release returns, C acquires res at "
        "once: A's late release deleted B's grant"
    )


@clause("LOCK-4")
@probed("twice", "res", ttl=30.0)
def test_release_of_nothing_returns_false(impl: Any) -> None:
    """Releasing twice, or through a stale handle, returns False."""
    a = impl.client("a")
    h = a.acquire("twice", 30.0, 0)
    assert h is not None, "acquire of a free lock failed"
    a.release(h)
    assert a.release(h) is False, "a second release of the same handle did not return False"
    # Probe: the refused release left the lock free.
    assert not held_by_someone(impl, "twice"), "after a second release, 'twice' is held"
    a2, ha, b, hb = _stale_handle(impl)
    assert a2.release(ha) is False, "a release through a stale handle did not return False"
    assert_intact(impl, b, hb, "res", "a refused stale release")


def _assert_no_early_grant(
    impl: Any, holder: Any, ttl: float, name: str = "res"
) -> tuple[float, float | None]:
    """Acquire with ``ttl``; another client polls; return (t0, time it got the lock)."""
    other = impl.client("other")
    t0 = time.monotonic()
    h = holder.acquire(name, ttl, 0)
    assert h is not None, "acquire of a free lock failed"
    hb, t_b = poll_acquire(other, name, 30.0, t0 + ttl + TOLERANCE + GRACE)
    if hb is None:
        return t0, None
    # t0 is before A's grant and t_b after B's: t_b - t0 < ttl is certainly too early.
    assert t_b >= t0 + ttl, (
        f"repro: A acquires {name} with ttl {ttl} s; B acquires {name} {t_b - t0:.3f} s after "
        f"A's acquire began, before the ttl ran out"
    )
    return t0, t_b


def _no_early_grant_trials(impl: Any, ttls: Sequence[float]) -> list[float | None]:
    """Grants with ``ttls`` on names of their own, one holder; B polls them all; overruns.

    The grants are made one after another by one client (each acquire's start
    recorded); B polls every name in one thread (``poll_many``). An overrun is
    B's acquire end minus the holder's acquire start minus the TTL: below 0 is
    certainly early (LOCK-5, LOCK-6's lower bound); above 0 it overstates the
    lateness by at most the holder's acquire, one polling round and B's acquire.
    """
    a, b = impl.client("a"), impl.client("b")
    names = [f"res{i}" for i in range(len(ttls))]
    starts = []
    for name, ttl in zip(names, ttls, strict=True):
        starts.append(time.monotonic())
        acquire_free(a, name, ttl)
    got = poll_many(b, names, 30.0, starts[-1] + max(ttls) + TOLERANCE + GRACE)
    out: list[float | None] = []
    for name, ttl, t0 in zip(names, ttls, starts, strict=True):
        hb, t_b = got[name]
        if hb is None:
            out.append(None)
            continue
        assert t_b >= t0 + ttl, (
            f"repro: A acquires {name} with ttl {ttl} s; B acquires {name} {t_b - t0:.3f} s "
            "after A's acquire began, before the ttl ran out"
        )
        out.append(t_b - t0 - ttl)
        b.release(hb)
    return out


#: What an upper-bound overrun contains besides lateness, for the tight verdict:
#: B's polling interval (its sleep between rounds) ...
POLL_SLACK = POLL
#: ... and the round trips in the span: the holder's acquire, B's failed try
#: that straddles the instant the lock became free, and B's successful acquire.
POLL_ROUND_TRIPS = 3


@clause("LOCK-5")
@pytest.mark.takes(3)
@probed("res0", "res1", "res2", "res3", ttl=3.0)
def test_grant_lasts_at_least_its_ttl(impl: Any, request: pytest.FixtureRequest) -> None:
    """No other client is granted the lock before the holder's TTL (1.5 s and 3 s) has passed."""
    overruns = _no_early_grant_trials(impl, [1.5, 1.5, 3.0, 3.0])
    got = [x for x in overruns if x is not None]
    expect(got, "no grant ran out within its TTL plus tolerance (see LOCK-7)")
    timing_check(request, impl, "LOCK-5: grant end - TTL", got, at_least=0.0)


@clause("LOCK-6")
@probed("probe", "res0", "res1", "res2", ttl=0.4)
def test_sub_second_ttl_is_honoured_or_refused(impl: Any, request: pytest.FixtureRequest) -> None:
    """A 0.4 s TTL is refused with ValueError, or expires neither early nor late (3 trials)."""
    a = impl.client("a")
    try:
        probe = a.acquire("probe", 0.4, 0)
    except ValueError:
        # Refused clearly, allowed by LOCK-6. Probe: the refusal left nothing behind.
        assert not held_by_someone(impl, "probe"), (
            "acquire with ttl 0.4 s raised ValueError and left 'probe' held (see LOCK-27)"
        )
        return
    except Exception as exc:
        pytest.fail(
            f"acquire with ttl 0.4 s raised {type(exc).__name__}: {exc}; LOCK-6 allows only "
            "success or ValueError",
            pytrace=False,
        )
    if probe is None:
        a.release(acquire_free(a, "probe", 0.4))  # inconclusive only if the call was slow
    else:
        a.release(probe)
    # One trial at a time: three 0.4 s grants polled together would be
    # noticed a round apart, which is the poller's lateness, not theirs.
    overruns = [_no_early_grant_trials(impl, [0.4])[0] for _ in range(3)]
    assert all(x is not None for x in overruns), (
        "repro: A acquires res with ttl 0.4 s and never releases; B polls; B was not "
        f"granted res within 0.4 s + {TOLERANCE} s + {GRACE} s"
    )
    timing_check(
        request, impl, "LOCK-6: 0.4 s grant end - TTL - poll interval",
        [x - POLL_SLACK for x in overruns if x is not None],
        at_least=-POLL_SLACK, at_most=0.0, round_trips=POLL_ROUND_TRIPS,
    )  # fmt: skip


@clause("LOCK-7")
@pytest.mark.takes(4)
@probed("res0", "res1", "res2", "res3", ttl=3.0)
def test_dead_holder_stops_blocking_after_ttl(impl: Any, request: pytest.FixtureRequest) -> None:
    """A holder killed without releasing blocks others for at most TTL (1 s, 3 s) plus tolerance."""
    ttls = [1.0, 1.0, 3.0, 3.0]
    workers = [
        spawn(impl, f"{ROLES}:hold_on_go", f"res{i}", ttl, False) for i, ttl in enumerate(ttls)
    ]
    starts: list[float] = []
    try:
        # Processes take a second or so to start: the holders acquire only once
        # all are up, so that B polls every name from before the first expiry.
        for w in workers:
            w.recv(60, "ready")
        for w in workers:
            w.send(("go",))
        for w in workers:
            _, ok, call_start, _ = w.recv(60, "grant")
            expect(ok, "the holder could not acquire a free lock")
            starts.append(call_start)
            if w.is_process:
                w.signal(signal.SIGKILL)
            else:
                w.send(("exit",))  # the thread ends, dropping its grant unreleased
        for w in workers:
            w.join(10)
    finally:
        for w in workers:
            w.kill()

    names = [f"res{i}" for i in range(len(ttls))]
    b = impl.client("b")
    got = poll_many(b, names, 30.0, max(starts) + max(ttls) + TOLERANCE + GRACE)
    overruns = []
    for name, ttl, start in zip(names, ttls, starts, strict=True):
        hb, t_b = got[name]
        assert hb is not None, (
            f"repro: a holder acquires {name} with ttl {ttl} s and dies (SIGKILL) without "
            f"releasing; {name} is still held {t_b - start:.2f} s after its acquire began"
        )
        # From before the holder's acquire began to after B's acquire returned.
        overruns.append(t_b - start - ttl)
    # One polling round tries every pending name: a name is noticed up to
    # POLL plus one failed try per other name late, beyond the usual three.
    timing_check(
        request, impl, "LOCK-7: free after dead holder - TTL - poll interval",
        [x - POLL_SLACK for x in overruns],
        at_most=0.0, round_trips=POLL_ROUND_TRIPS + len(names) - 1,
    )  # fmt: skip


@clause("LOCK-7", "LOCK-8")
@pytest.mark.takes(6)
@probed("res0", "res1", "res2", ttl=30.0)
def test_blocked_acquire_gets_an_expiring_grant(impl: Any, request: pytest.FixtureRequest) -> None:
    """A blocked acquire is granted a lock whose grant runs out unreleased, soon after its TTL.

    TTLs 1.5, 1.5 and 2.5 s (not whole seconds, so that a waiter retrying
    once a second misses the instant by about half a second); one trial at a
    time. The overrun is from before the holder's acquire began to after B's
    acquire returned, less the TTL; it contains B's retry sleep (RETRY_SLACK,
    as for LOCK-8) and three round trips (the holder's acquire, B's try that
    straddles the expiry, B's successful try).
    """
    overruns = []
    for i, ttl in enumerate([1.5, 1.5, 2.5]):
        name = f"res{i}"
        a, b = impl.client(f"a{i}"), impl.client(f"b{i}")
        t0 = time.monotonic()
        ha = a.acquire(name, ttl, 0)
        expect(ha is not None, "acquire of a free lock failed")
        wait = ttl + TOLERANCE + GRACE
        hb = b.acquire(name, 30.0, wait)
        t_b = time.monotonic()
        repro = (
            f"repro: A acquires {name} with ttl {ttl} s and never releases; B's acquire of "
            f"{name} with timeout {wait} s, started at once,"
        )
        assert hb is not None, f"{repro} returned None after {t_b - t0:.3f} s"
        assert b.release(hb), f"{repro} got a grant its release did not free"
        overruns.append(t_b - t0 - ttl)
    timing_check(
        request, impl, "LOCK-7: blocked acquire, expiring grant - TTL - retry sleep",
        [x - RETRY_SLACK for x in overruns],
        at_least=-RETRY_SLACK, at_most=0.0, round_trips=POLL_ROUND_TRIPS,
    )  # fmt: skip


@clause("LOCK-8")
@pytest.mark.takes(11)
@probed(*(f"res{i}" for i in range(6)), ttl=30.0)
def test_acquire_gives_up_at_its_timeout(impl: Any, request: pytest.FixtureRequest) -> None:
    """A blocked acquire returns None after its timeout (0.7 s, 3 s), not before, not much after."""
    timeouts = [0.7, 0.7, 0.7, 3.0, 3.0, 3.0]
    # One trial at a time: blocked acquires side by side on threads of this
    # process would wait for the GIL for one another, and count it as lateness.
    overruns = []
    for i, timeout in enumerate(timeouts):
        name = f"res{i}"
        a, b = impl.client(f"a{i}"), impl.client(f"b{i}")
        ha = a.acquire(name, 30.0, 0)
        expect(ha is not None, "acquire of a free lock failed")
        t0 = time.monotonic()
        hb = b.acquire(name, 30.0, timeout)
        elapsed = time.monotonic() - t0
        assert hb is None, "a second client was granted a held lock"
        repro = f"repro: A holds res (ttl 30 s); B's acquire of res with timeout {timeout} s"
        assert elapsed >= timeout, f"{repro} gave up after {elapsed:.3f} s, before its timeout"
        assert_intact(impl, a, ha, name, f"an acquire that timed out after {timeout} s")
        overruns.append(elapsed - timeout)
    # Round trips: the attempt that straddles the deadline, and the one before
    # it (an implementation sleeps between attempts, so it may start one just
    # before the deadline and give up only when it has answered). And one
    # sleep between attempts: spec/lock.md allows RETRY_SLACK for it.
    timing_check(request, impl, "LOCK-8: sub-second timeouts, overrun - retry sleep",
                 [x - RETRY_SLACK for x in overruns[:3]],
                 at_least=-RETRY_SLACK, at_most=0.0, round_trips=2)  # fmt: skip
    timing_check(request, impl, "LOCK-8: 3 s timeouts, overrun - retry sleep",
                 [x - RETRY_SLACK for x in overruns[3:]],
                 at_least=-RETRY_SLACK, at_most=0.0, round_trips=2)  # fmt: skip


@clause("LOCK-9")
@probed("res", ttl=30.0)
def test_non_blocking_acquire_returns_at_once(impl: Any, request: pytest.FixtureRequest) -> None:
    """acquire(timeout=0) on a held lock returns None within the tolerance (5 trials)."""
    a, b = impl.client("a"), impl.client("b")
    ha = a.acquire("res", 30.0, 0)
    assert ha is not None, "acquire of a free lock failed"
    samples = []
    for _ in range(5):
        t0 = time.monotonic()
        hb = b.acquire("res", 30.0, 0)
        samples.append(time.monotonic() - t0)
        assert hb is None, "a second client was granted a held lock"
    assert_intact(impl, a, ha, "res", "five refused non-blocking acquires")
    timing_check(request, impl, "LOCK-9: non-blocking acquire of a held lock", samples,
                 at_most=0.0)  # fmt: skip


@clause("LOCK-9")
@probed("res", ttl=30.0)
def test_acquire_without_timeout_returns_at_once(impl: Any, request: pytest.FixtureRequest) -> None:
    """acquire(name, ttl) with the default timeout (0) of a held lock returns None at once."""
    a, b = impl.client("a"), impl.client("b")
    ha = a.acquire("res", 30.0, 0)
    assert ha is not None, "acquire of a free lock failed"
    samples = []
    for _ in range(3):
        t0 = time.monotonic()
        hb = b.acquire("res", 30.0)
        samples.append(time.monotonic() - t0)
        assert hb is None, "a second client was granted a held lock"
    assert_intact(impl, a, ha, "res", "three refused acquires with the default timeout")
    timing_check(request, impl, "LOCK-9: acquire with the default timeout of a held lock",
                 samples, at_most=0.0)  # fmt: skip


@clause("LOCK-10")
@probed("res", ttl=30.0)
def test_failed_acquire_leaves_no_trace(impl: Any) -> None:
    """After timed-out acquires, a release by the holder leaves the lock free for anyone."""
    a, b, c = impl.client("a"), impl.client("b"), impl.client("c")
    ha = a.acquire("res", 30.0, 0)
    assert ha is not None, "acquire of a free lock failed"
    assert b.acquire("res", 30.0, 0.3) is None, "a second client was granted a held lock"
    assert b.acquire("res", 30.0, 0) is None, "a second client was granted a held lock"
    a.release(ha)
    assert c.acquire("res", 30.0, 0) is not None, (
        "repro: A holds res; B's acquire times out; A releases; C's non-blocking acquire "
        "of res fails: B's failed attempt left something behind"
    )


@clause("LOCK-11")
@probed("left", "right", ttl=30.0)
def test_different_names_are_independent(impl: Any) -> None:
    """Holding one lock never blocks acquiring a lock of another name."""
    a, b = impl.client("a"), impl.client("b")
    ha = a.acquire("left", 30.0, 0)
    assert ha is not None, "acquire of a free lock failed"
    assert b.acquire("right", 30.0, 0) is not None, (
        "repro: A holds 'left'; B's non-blocking acquire of 'right' fails"
    )
    assert b.acquire("left", 30.0, 0) is None, "a second client was granted a held lock"
    assert_intact(impl, a, ha, "left", "B's refused acquire of 'left'")


@clause("LOCK-12")
@pytest.mark.takes(2)
@probed("res", ttl=30.0)
def test_tokens_increase_across_release_and_expiry(impl: Any) -> None:
    """Twelve released and three expired grants carry strictly increasing tokens."""
    clients = [impl.client(f"c{i}") for i in range(3)]
    tokens: list[tuple[str, int]] = []
    for i in range(12):
        c = clients[i % 3]
        h = c.acquire("res", 30.0, 0)
        assert h is not None, "acquire of a free lock failed"
        tokens.append(("released", c.token(h)))
        c.release(h)
    for i in range(3):
        c = clients[i % 3]
        h, _ = poll_acquire(c, "res", 1.0, time.monotonic() + 1.0 + TOLERANCE + GRACE)
        expect(h is not None, "a grant did not run out (see LOCK-7)")
        tokens.append(("expired", c.token(h)))
    for (kind_a, ta), (_, tb) in itertools.pairwise(tokens):
        assert tb > ta, f"token {tb} follows token {ta} (after a {kind_a} grant): {tokens}"


class FencedResource:
    """Storage that rejects a write whose token is lower than one it has seen."""

    def __init__(self) -> None:
        self.highest = -1
        self.value: str | None = None

    def write(self, token: int, value: str) -> bool:
        if token < self.highest:
            return False
        self.highest, self.value = token, value
        return True


@clause("LOCK-13")
@probed("res", ttl=30.0)
def test_paused_holder_cannot_overwrite_the_next_holder(impl: Any) -> None:
    """Kleppmann's scenario: A pauses past its TTL, B writes, A resumes and writes."""
    ttl = 1.0
    w = spawn(impl, f"{ROLES}:hold", "res", ttl, True)
    store = FencedResource()
    try:
        _, ok, call_start, token_a = w.recv(60, "grant")
        expect(ok, "the holder could not acquire a free lock")
        if w.is_process:
            w.signal(signal.SIGSTOP)  # A stops between acquiring and writing
        b = impl.client("b")
        hb, _ = poll_acquire(b, "res", 30.0, call_start + ttl + TOLERANCE + GRACE)
        expect(hb is not None, "B could not acquire after A's grant ran out (see LOCK-7)")
        assert store.write(b.token(hb), "B"), "the resource rejected the current holder's write"
        if w.is_process:
            w.signal(signal.SIGCONT)
        w.send(("token",))
        _, token_a = w.recv(30, "token")
        store.write(token_a, "A")
        w.send(("exit",))
    finally:
        w.kill()
    assert store.value == "B", (
        f"repro: A acquires res (ttl {ttl} s, token {token_a}) and is paused past its ttl; "
        f"B acquires res (token {b.token(hb)}) and writes; A resumes and writes with its "
        "token: the resource accepted A's stale write"
    )


@clause("LOCK-14")
@pytest.mark.takes(4)
@probed("res0", "res1", "res2", ttl=3.5)
def test_extend_keeps_the_grant_for_the_new_ttl(impl: Any, request: pytest.FixtureRequest) -> None:
    """After extend(ttl=2 s or 3.5 s), no one else is granted the lock for that long."""

    def trial(i: int, new_ttl: float) -> float | None:
        name = f"res{i}"
        a, b = impl.client(f"a{i}"), impl.client(f"b{i}")
        ha = acquire_free(a, name, 1.0)
        time.sleep(0.5)
        t_ext = time.monotonic()
        assert a.extend(ha, new_ttl) is True, (
            "the holder's extend returned something other than True"
        )
        hb, t_b = poll_acquire(b, name, 30.0, t_ext + new_ttl + TOLERANCE + GRACE)
        assert hb is None or t_b >= t_ext + new_ttl, (
            f"repro: A acquires res (ttl 1 s); 0.5 s later A extends by {new_ttl} s; B was "
            f"granted res {t_b - t_ext:.3f} s after the extend began"
        )
        return None if hb is None else t_b - t_ext - new_ttl

    overruns = side_by_side([functools.partial(trial, i, t) for i, t in enumerate([2.0, 2.0, 3.5])])
    got = [x for x in overruns if x is not None]
    if got:
        timing_check(request, impl, "LOCK-14: extended grant end - new TTL", got, at_least=0.0)


@clause("LOCK-15")
@pytest.mark.takes(2)
@probed("res", ttl=30.0)
def test_extend_without_the_lock_fails_and_changes_nothing(impl: Any) -> None:
    """Extend through a released or expired handle returns False; the holder is untouched."""
    a = impl.client("a")
    h = a.acquire("res", 30.0, 0)
    assert h is not None, "acquire of a free lock failed"
    a.release(h)
    assert a.extend(h, 30.0) is False, "extend through a released handle did not return False"
    assert not held_by_someone(impl, "res"), "after a refused extend, the released lock is held"
    a2, ha, b, hb = _stale_handle(impl)
    # B's grant is 30 s; re-take it with 1 s so that a wrongful extend shows.
    b.release(hb)
    t0 = time.monotonic()
    hb = acquire_free(b, "res", 1.0)
    assert a2.extend(ha, 30.0) is False, "extend through an expired handle did not return False"
    c = impl.client("c")
    hc, _ = poll_acquire(c, "res", 30.0, t0 + 1.0 + TOLERANCE + GRACE)
    assert hc is not None, (
        "repro: A's grant ran out; B acquires res with ttl 1 s; A extends its old handle by "
        "30 s; res is still held long after B's 1 s: A's extend prolonged B's grant"
    )


# ------------------------------------------------------------- grants without a TTL


@clause("LOCK-16")
@pytest.mark.takes(4)
@probed("res", ttl=30.0)
def test_grant_without_ttl_holds_until_released(impl: Any) -> None:
    """A grant with ttl None is not given to anyone else for 3.5 s, then released at once.

    3.5 s is more than three times the 1 s grants of the other tests, and
    longer than a default TTL applied to "None" would usually be (a library
    that turns None into "expire now" or into a short default shows here).
    """
    a, b = impl.client("a"), impl.client("b")
    t0 = time.monotonic()
    ha = a.acquire("res", None, 0)
    assert ha is not None, "acquire of a free lock with ttl None returned None"
    hb, t_b = poll_acquire(b, "res", 30.0, t0 + 3.5)
    assert hb is None, (
        f"repro: A acquires res with ttl None and keeps it; B acquires res {t_b - t0:.2f} s "
        "later: the grant without a TTL did not hold"
    )
    assert a.release(ha) is True, (
        "the holder's release of a grant without a TTL did not return True"
    )


@clause("LOCK-17")
@probed("res", ttl=30.0)
def test_release_frees_a_grant_without_ttl(impl: Any) -> None:
    """Release of a ttl-None grant frees it at once; a second release returns False."""
    a, b = impl.client("a"), impl.client("b")
    ha = a.acquire("res", None, 0)
    assert ha is not None, "acquire of a free lock with ttl None returned None"
    released = a.release(ha)
    hb = b.acquire("res", 30.0, 0)
    assert hb is not None, (
        f"repro: A acquires res with ttl None and releases it (release returned {released!r}); "
        "B's non-blocking acquire of res fails: the lock stays held for ever"
    )
    assert released is True, f"the holder's release returned {released!r}, not True"
    assert a.release(ha) is False, "a second release of a ttl-None grant did not return False"
    assert_intact(impl, b, hb, "res", "a second release of A's released grant")


# ------------------------------------------------------------------ renewing grants


@clause("LOCK-18")
@pytest.mark.takes(5)
@probed("res0", "res1", ttl=1.5)
def test_renewing_grant_outlives_its_ttl(impl: Any) -> None:
    """Renewing grants of 1 s and 1.5 s hold for 3 s and 4.5 s while the holder lives.

    TTLs of a second and more: a sub-second TTL may be refused (LOCK-6). 1.5 s
    is not a whole number of seconds, where a renewal that truncates the TTL
    shows.
    """

    def trial(i: int, ttl: float) -> None:
        name = f"res{i}"
        a, b = impl.client(f"a{i}"), impl.client(f"b{i}")
        t0 = time.monotonic()
        ha = a.acquire_renewing(name, ttl, 0)
        assert ha is not None, "acquire_renewing of a free lock returned None"
        hb, t_b = poll_acquire(b, name, 30.0, t0 + 3 * ttl)
        assert hb is None, (
            f"repro: A acquires {name} renewing with ttl {ttl} s and keeps working; B acquires "
            f"{name} {t_b - t0:.2f} s later: the grant was not renewed"
        )
        assert a.owned(ha) is True, f"after {3 * ttl:.1f} s the holder's owned() is not True"
        assert a.release(ha) is True, "the holder's release of a renewing grant did not return True"

    side_by_side([functools.partial(trial, i, t) for i, t in enumerate([1.0, 1.5])])


@clause("LOCK-19")
@pytest.mark.takes(4)
@probed("res", ttl=1.0)
def test_renewal_stops_at_release(impl: Any) -> None:
    """After the release of a renewing grant the lock is free at once and stays free."""
    ttl = 1.0
    a = impl.client("a")
    ha = a.acquire_renewing("res", ttl, 0)
    assert ha is not None, "acquire_renewing of a free lock returned None"
    time.sleep(ttl)  # a renewal or two have run
    released = a.release(ha)
    t_rel = time.monotonic()
    # Probe four times over 3 TTLs: a renewer that outlived the release
    # would make the lock held again within a renewal period.
    for k in range(4):
        held = held_by_someone(impl, "res")
        assert not held, (
            f"repro: A acquires res renewing (ttl {ttl} s) and releases it (release returned "
            f"{released!r}); res is held {time.monotonic() - t_rel:.2f} s after the release"
        )
        if k < 3:
            time.sleep(ttl)
    assert released is True, f"the holder's release returned {released!r}, not True"


@clause("LOCK-19")
@probed("res", ttl=1.0)
def test_renewal_stops_when_the_holder_dies(impl: Any) -> None:
    """A renewing holder killed without releasing blocks others for its TTL plus tolerance."""
    ttl = 1.0
    w = spawn(impl, f"{ROLES}:hold_renewing", "res", ttl)
    try:
        _, ok, _, _ = w.recv(60, "grant")
        expect(ok, "the renewing holder could not acquire a free lock")
        time.sleep(ttl)  # let renewal run
        t_kill = time.monotonic()
        if w.is_process:
            w.signal(signal.SIGKILL)
        else:
            w.send(("exit",))  # the role ends; its client (and renewal) must not outlive it
        w.join(10)
    finally:
        w.kill()
    if not w.is_process:
        pytest.skip("a thread holder cannot die without its client: needs 'distributed'")
    # The last renewal was at most at t_kill: the grant ends by t_kill + ttl.
    t_free = free_within(impl, "res", t_kill + ttl + TOLERANCE)
    assert t_free is not None, (
        f"repro: a holder acquires res renewing (ttl {ttl} s) and is killed -9; res is still "
        f"held {ttl + TOLERANCE:.1f} s after the kill: renewal outlived the holder"
    )


@clause("LOCK-20")
@pytest.mark.takes(4)
@probed("res", ttl=30.0)
def test_holder_that_cannot_renew_loses_the_grant_and_learns_it(impl: Any) -> None:
    """A renewing holder SIGSTOPped past its TTL loses the lock, says so, and does not retake it.

    The stop pauses the holder's renewal with the rest of the process (the
    fault model's GC pause or SIGSTOP). B is granted the lock once the TTL has
    run out; A resumes and gets two TTLs to renew; then A's owned() must be
    False and B's grant must be intact.
    """
    ttl = 1.0
    w = spawn(impl, f"{ROLES}:hold_renewing", "res", ttl)
    try:
        _, ok, _, _ = w.recv(60, "grant")
        expect(ok, "the renewing holder could not acquire a free lock")
        if not w.is_process:
            pytest.skip("pausing a renewing holder needs a process: capability 'distributed'")
        time.sleep(ttl / 2)
        t_stop = time.monotonic()
        w.signal(signal.SIGSTOP)
        b = impl.client("b")
        # A renewal may have landed just before the stop: the grant ends by t_stop + ttl.
        hb, t_b = poll_acquire(b, "res", 30.0, t_stop + ttl + TOLERANCE)
        assert hb is not None, (
            f"repro: A acquires res renewing (ttl {ttl} s) and is SIGSTOPped; res is still held "
            f"{t_b - t_stop:.2f} s after the stop: the grant outlived a holder that cannot renew"
        )
        w.signal(signal.SIGCONT)
        time.sleep(2 * ttl)  # A's renewer runs again
        w.send(("owned",))
        _, a_owned = w.recv(30, "owned")
        b_intact = held_by_someone(impl, "res")
        b_released = b.release(hb)
        w.send(("exit",))
    finally:
        w.kill()
    assert not a_owned, (
        f"repro: A acquires res renewing (ttl {ttl} s), is SIGSTOPped, B acquires res, A is "
        "resumed: A's owned() still says True"
    )
    assert b_intact and b_released is True, (
        f"repro: A acquires res renewing (ttl {ttl} s), is SIGSTOPped, B acquires res (ttl "
        f"30 s), A is resumed: 2 s later B's grant is gone (held={b_intact}, B's release "
        f"returned {b_released!r}): A's renewal took the lock back"
    )


# ------------------------------------------------------------------------ observers


@clause("LOCK-21")
@pytest.mark.takes(2)
@probed("mine", "res", ttl=30.0)
def test_owned_tells_the_holder_apart(impl: Any) -> None:
    """owned() is True while the grant holds; False after release, expiry, or a new holder."""
    a = impl.client("a")
    h = a.acquire("mine", 30.0, 0)
    assert h is not None, "acquire of a free lock failed"
    assert a.owned(h) is True, "the holder's owned() is not True"
    assert a.release(h) is True, "the holder's release did not return True"
    assert a.owned(h) is False, "owned() through a released handle is not False"
    a2, ha, b, hb = _stale_handle(impl)
    assert b.owned(hb) is True, "the new holder's owned() is not True"
    assert a2.owned(ha) is False, (
        "repro: A acquires res (ttl 1 s); it runs out; B acquires res; A's owned() says True"
    )
    assert b.release(hb) is True, "the new holder's release did not return True"
    # A grant that ran out with nobody after it. It was made before the
    # acquire returned, so it is over 1 s after that; 0.25 s more for the
    # server to see it so (Redis expires a key once its clock passes the
    # deadline; a round trip is a few ms).
    hc = acquire_free(a, "alone", 1.0)
    t_got = time.monotonic()
    time.sleep(max(0.0, t_got + 1.0 + 0.25 - time.monotonic()))
    assert a.owned(hc) is False, "owned() is True after the 1 s grant ran out, nobody holding"


def _remaining_trials(impl: Any, ttls: Sequence[float]) -> list[tuple[float, float]]:
    """Read remaining() a third into each grant; B polls. Per trial (lower, upper) overruns.

    lower = B's acquire end - (remaining's start + value): B's grant happened
    before its acquire ended, the read after it started, so lower < 0 is a
    certain overstatement (LOCK-22). upper = B's acquire end - (remaining's
    end + value): what the tolerance bounds (LOCK-23).
    """

    def trial(i: int, ttl: float) -> tuple[float, float]:
        name = f"res{i}"
        a, b = impl.client(f"a{i}"), impl.client(f"b{i}")
        ha = acquire_free(a, name, ttl)
        time.sleep(ttl / 3)
        s = time.monotonic()
        r = a.remaining(ha)
        e = time.monotonic()
        assert isinstance(r, int | float) and not isinstance(r, bool), (
            f"remaining() of a {ttl} s grant returned {r!r}, not a number of seconds"
        )
        hb, t_b = poll_acquire(b, name, 30.0, e + max(r, 0) + TOLERANCE + GRACE)
        expect(hb is not None, f"{name} still held long after remaining() said {r} s (LOCK-23)")
        b.release(hb)
        return t_b - (s + r), t_b - (e + r)

    return side_by_side([functools.partial(trial, i, t) for i, t in enumerate(ttls)])


@clause("LOCK-22")
@pytest.mark.takes(3)
@probed("res0", "res1", ttl=3.0)
def test_remaining_never_overstates(impl: Any) -> None:
    """remaining() a third into 0.7 s and 3 s grants: B is not granted the lock before it said."""
    for ttl, (lower, _) in zip([0.7, 3.0], _remaining_trials(impl, [0.7, 3.0]), strict=True):
        assert lower >= 0, (
            f"repro: A acquires res with ttl {ttl} s; {ttl / 3:.2f} s later A's remaining() "
            f"returns a value; B is granted res {-lower:.3f} s before that value ran out"
        )


@clause("LOCK-23")
@pytest.mark.takes(5)
@probed("res0", "res1", "res2", "res3", ttl=3.0)
def test_remaining_never_understates(impl: Any, request: pytest.FixtureRequest) -> None:
    """remaining() a third into 0.7 s and 3 s grants is > 0, and the lock is free soon after it."""
    a = impl.client("a")
    h = a.acquire("probe", 30.0, 0)
    assert h is not None, "acquire of a free lock failed"
    r = a.remaining(h)
    assert isinstance(r, int | float) and 29.0 < r <= 30.0, (
        f"remaining() right after a 30 s grant returned {r!r}"
    )
    a.release(h)
    # One trial at a time, for the reason poll_many gives.
    results = [_remaining_trials(impl, [ttl])[0] for ttl in (0.7, 0.7, 3.0)]
    timing_check(request, impl, "LOCK-23: B's grant - (remaining end + value) - poll interval",
                 [hi - POLL_SLACK for _, hi in results], at_most=0.0,
                 round_trips=POLL_ROUND_TRIPS)  # fmt: skip


@clause("LOCK-23")
@probed("res", ttl=30.0)
def test_remaining_is_zero_without_a_grant(impl: Any) -> None:
    """remaining() through a released handle, and through a stale one, returns 0."""
    a = impl.client("a")
    h = a.acquire("res", 30.0, 0)
    assert h is not None, "acquire of a free lock failed"
    assert a.release(h) is True, "the holder's release did not return True"
    assert a.remaining(h) == 0, f"remaining() through a released handle is {a.remaining(h)!r}"
    a2, ha, b, hb = _stale_handle(impl)
    r = a2.remaining(ha)
    assert r == 0, (
        f"repro: A acquires res (ttl 1 s); it runs out; B acquires res (ttl 30 s); A's "
        f"remaining() says {r!r} instead of 0"
    )
    assert_intact(impl, b, hb, "res", "A's remaining() through a stale handle")


# ------------------------------------------------------------------------ re-entrancy


@clause("LOCK-24")
@probed("res", ttl=30.0)
def test_second_acquire_by_the_holder(impl: Any) -> None:
    """A holder's second acquire is refused (or, declared reentrant, counted); its grant stays."""
    a = impl.client("a")
    h1 = a.acquire("res", 30.0, 0)
    assert h1 is not None, "acquire of a free lock failed"
    h2 = a.acquire("res", 30.0, 0)
    if not impl.has("reentrant"):
        assert h2 is None, (
            "repro: A acquires res; A acquires res again (timeout 0) and is granted it, "
            "though the implementation does not declare 'reentrant'"
        )
        # How long a blocking re-acquire waits is LOCK-8's business, not this clause's.
        assert_intact(impl, a, h1, "res", "A's refused re-acquires")
        return
    assert h2 is not None, "a reentrant client's re-acquire of a lock it holds returned None"
    assert held_by_someone(impl, "res"), "after the re-acquire, another client can get res"
    assert a.release(h2) is True and a.release(h1) is True, "releasing both handles failed"
    assert not held_by_someone(impl, "res"), "res is held after both handles were released"


@clause("LOCK-25")
@probed("res", ttl=30.0)
def test_reentrant_grants_are_counted(impl: Any) -> None:
    """A re-entrant client holds the lock until it has released every handle."""
    a = impl.client("a")
    h1 = a.acquire("res", 30.0, 0)
    assert h1 is not None, "acquire of a free lock failed"
    h2 = a.acquire("res", 30.0, 0)
    assert h2 is not None, "a reentrant client's re-acquire of a lock it holds returned None"
    assert a.release(h1) is True, "the first release did not return True"
    assert held_by_someone(impl, "res"), (
        "repro: A acquires res twice (reentrant) and releases once; another client is "
        "granted res while A still holds a handle"
    )
    assert a.release(h2) is True, "the second release did not return True"
    assert not held_by_someone(impl, "res"), "res is held after both handles were released"


# ---------------------------------------------------------------------------- threads


@clause("LOCK-26")
@probed("res", ttl=30.0)
def test_release_from_another_thread(impl: Any) -> None:
    """Acquire on one thread of a client, release on another: freed, or refused if thread-bound."""
    a = impl.client("a")
    ha = a.acquire("res", 30.0, 0)
    assert ha is not None, "acquire of a free lock failed"
    other = a.on_thread(1)
    outcome: object
    try:
        outcome = other.release(ha)
    except Exception as exc:
        outcome = exc
    if not impl.has("thread-bound"):
        assert outcome is True, (
            f"repro: client A acquires res on one thread and releases it on another: the "
            f"release returned {outcome!r} (not True), and the implementation does not "
            "declare 'thread-bound'"
        )
        assert not held_by_someone(impl, "res"), (
            "a release from another thread returned True but res is still held"
        )
        return
    assert outcome is not True, (
        "a thread-bound implementation's release from another thread returned True"
    )
    # Probe the refused release: the grant is in place and its own thread can release it.
    assert_intact(impl, a, ha, "res", f"a refused release from another thread ({outcome!r})")


# ----------------------------------------------------------------------- failed calls


@clause("LOCK-27")
@probed("odd0", "odd1", "odd2", "odd3", ttl=2.5)
def test_failed_calls_leave_no_endless_grant(impl: Any) -> None:
    """Acquires with awkward TTLs (0.4, 1.5, 2.5 ms, 2.5 s) that raise leave nothing endless behind.

    Whatever each acquire did (granted, refused, raised), the lock is then
    released if granted, and a fresh client must get it within the TTL plus
    the tolerance from the acquire's start: an acquire that raised after
    writing a key without expiry (sherlock's SETNX before a failing EXPIRE)
    blocks everyone for ever.
    """
    ttls = [0.4, 1.5, 0.0025, 2.5]
    a = impl.client("a")
    outcomes = []
    for i, ttl in enumerate(ttls):
        name = f"odd{i}"
        t0 = time.monotonic()
        try:
            h = a.acquire(name, ttl, 0)
            what = "granted" if h is not None else "refused"
        except Exception as exc:
            h, what = None, f"raised {type(exc).__name__}: {str(exc)[:80]}"
        if h is not None:
            try:
                a.release(h)
            except Exception as exc:
                what += f", release raised {type(exc).__name__}"
        outcomes.append((name, ttl, t0, what))
    for name, ttl, t0, what in outcomes:
        got = free_within(impl, name, max(time.monotonic(), t0 + ttl + TOLERANCE))
        assert got is not None, (
            f"repro: acquire({name!r}, ttl={ttl}, timeout=0) {what}; {name!r} is still held "
            f"{time.monotonic() - t0:.2f} s later, more than its TTL plus {TOLERANCE} s"
        )


# ------------------------------------------------------- forced schedules (fault proxy)


def _proxied(impl: Any) -> tuple[Any, Any]:
    """The implementation through a fault proxy on its server.

    LOCK-28 and LOCK-29 require ``distributed``: a process-local lock has no
    connection to cut (n/a). A distributed lock whose server the proxy cannot
    stand in front of (several Redis masters, another store) is skipped with
    the reason.
    """
    backend = (
        "redis" if "redis" in impl.impl.needs else "mysql" if "mysql" in impl.impl.needs else None
    )
    if backend is None or not hasattr(impl, "via_proxy"):
        pytest.skip("needs a Redis or MySQL server to put the fault proxy in front of")
    return impl.via_proxy(backend)


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Event, list[Any]]:
    """Start ``call`` on a thread; (done event, [result or exception])."""
    done, out = threading.Event(), []

    def run() -> None:
        try:
            out.append(call())
        except Exception as exc:
            out.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done, out


@clause("LOCK-28")
@probed("res-request", "res-reply", "res-forever", ttl=30.0)
def test_release_cut_in_flight_can_be_retried(impl: Any) -> None:
    """A release cut in flight: a retry frees the lock, or says False only if it is free.

    Three schedules, each on a lock of its own, through the fault proxy:

    - request held: the proxy holds the release request (the server never
      runs it), refuses new connections and cuts the open one, so the release
      fails (a client that retries by itself fails too); the grant (TTL 30 s)
      still holds, and a retry through the same handle must free it;
    - reply held: the server runs the release, the reply is held and the
      connection cut; the lock is free, and a retry may say False;
    - request held on a grant without a TTL (capability ``no-ttl``): as the
      first, where a handle that cannot release any more means a lock held
      for ever.

    After each, the proxy is transparent again; the probe is whether another
    client can get the lock now.
    """
    sub, proxy = _proxied(impl)
    a = sub.client("a")
    warm = a.acquire("warm", 30.0, 0)  # connect and load scripts before the fault
    assert warm is not None and a.release(warm) is True, "warm-up acquire/release failed"
    schedules: list[tuple[str, float | None]] = [("request", 30.0), ("reply", 30.0)]
    if impl.has("no-ttl"):
        schedules.append(("request", None))
    for held_part, ttl in schedules:
        name = "res-forever" if ttl is None else f"res-{held_part}"
        ha = a.acquire(name, ttl, 0)
        assert ha is not None, f"acquire of free {name} failed"
        proxy.hold(held_part)
        done, out = _in_thread(functools.partial(a.release, ha))
        time.sleep(0.3)
        # Refuse reconnections too, so that a client that retries by itself fails too.
        proxy.refuse(True)
        proxy.cut()
        assert done.wait(30), "the release did not return within 30 s of its connection's cut"
        proxy.reset()
        first = out[0]
        retry: object = "not tried"
        if first is not True:
            try:
                retry = a.release(ha)
            except Exception as exc:
                retry = exc
        held = held_by_someone(impl, name)
        assert not held, (
            f"repro: A acquires {name} (ttl {ttl}); A's release has its {held_part} held back "
            f"and its connection cut (the release gave {first!r}); A's retry of the release "
            f"gave {retry!r}; {name} is still held: the handle can no longer release its grant"
        )


@clause("LOCK-29")
@probed("res", ttl=1.0)
def test_acquire_whose_reply_comes_after_the_ttl(impl: Any) -> None:
    """An acquire (ttl 1 s) whose reply the proxy holds for 1.6 s does not return a grant."""
    sub, proxy = _proxied(impl)
    a = sub.client("a")
    warm = a.acquire("warm", 30.0, 0)
    assert warm is not None and a.release(warm) is True, "warm-up acquire/release failed"
    ttl = 1.0
    proxy.hold("reply")
    t0 = time.monotonic()
    done, out = _in_thread(lambda: a.acquire("res", ttl, 0))
    time.sleep(1.6 * ttl)
    proxy.release()
    assert done.wait(30), "the acquire did not return within 30 s of its reply being let through"
    proxy.reset()
    got = out[0]
    if isinstance(got, Exception):
        raise got
    # Probe: whatever was returned, the grant made at t0 or later has run out.
    t_free = free_within(impl, "res", t0 + ttl + TOLERANCE + GRACE)
    assert got is None, (
        f"repro: A's acquire of res (ttl {ttl} s) has its reply held back {1.6 * ttl:.1f} s; it "
        f"returns a grant that ran out before A heard of it (res free for others "
        f"{'at once' if t_free is not None else 'not even now'})"
    )
    assert t_free is not None, "after the refused late acquire, res stays held"


@clause("LOCK-30")
@probed("res", ttl=30.0)
def test_non_positive_ttl_is_refused(impl: Any) -> None:
    """acquire with ttl 0 and -1 raises ValueError and leaves the lock free; so does extend."""
    a = impl.client("a")
    for ttl in (0.0, -1.0):
        try:
            h = a.acquire("res", ttl, 0)
        except ValueError:
            pass
        except Exception as exc:
            held = held_by_someone(impl, "res")
            pytest.fail(
                f"repro: acquire('res', ttl={ttl:g}) raised {type(exc).__name__}: {exc}, not "
                f"ValueError; afterwards 'res' is {'held' if held else 'free'}",
                pytrace=False,
            )
        else:
            held = held_by_someone(impl, "res")
            if h is not None:
                a.release(h)
            pytest.fail(
                f"repro: acquire('res', ttl={ttl:g}) returned {h!r} instead of raising "
                f"ValueError; afterwards 'res' is {'held' if held else 'free'}",
                pytrace=False,
            )
        assert not held_by_someone(impl, "res"), (
            f"acquire('res', ttl={ttl:g}) raised ValueError but left 'res' held"
        )
    if not impl.has("extend"):
        return
    ha = a.acquire("res", 30.0, 0)
    assert ha is not None, "acquire of a free lock failed"
    for ttl in (0.0, -1.0):
        try:
            extended = a.extend(ha, ttl)
        except ValueError:
            pass
        except Exception as exc:
            pytest.fail(
                f"repro: A holds res (ttl 30 s); extend(handle, {ttl:g}) raised "
                f"{type(exc).__name__}: {exc}, not ValueError",
                pytrace=False,
            )
        else:
            pytest.fail(
                f"repro: A holds res (ttl 30 s); extend(handle, {ttl:g}) returned "
                f"{extended!r} instead of raising ValueError",
                pytrace=False,
            )
    assert_intact(impl, a, ha, "res", "extend with ttl 0 and -1 refused")

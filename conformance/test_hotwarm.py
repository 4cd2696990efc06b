"""Conformance tests for hot-warm redundancy: spec/hotwarm.md.

Every test names its clauses; each runs against every selected implementation.
Faults go through the implementation's control object (kill, pause, resume,
restart) and time through its clock (``control.now`` / ``control.sleep``), so
one test drives the in-memory pair on a fake clock and the Redis pair with its
Sentinels in wall time alike. Keys are unique per write, so "lost" means one
thing: an acknowledged key that later reads as absent or as another value.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from distconform.api import FakeClock
from distconform.conformance.support import expect
from distconform.guard import Guarded
from distconform.plugin import Subject

MECHANISM = "hotwarm"
clause = pytest.mark.clause

#: Seconds between writes of a steady load (200 writes per second at most;
#: against Redis each write is also a round trip or two).
STEP = 0.02
#: Writes acknowledged before a fault is injected.
BEFORE = 20
#: Setup waits (failover to use, rejoin to finish) get this many T; they are
#: not what the test checks, so they are generous.
SETUP_T = 3.0
#: Seconds a control call may take: restart starts a server and waits for it.
CONTROL_TIMEOUT = 60.0


#: Slack of an exact comparison on a fake clock: float rounding of sums of
#: steps (0.02 s, 0.1 s), many orders of magnitude below any step.
FAKE_EPS = 1e-9


def on_fake_clock(impl: Any) -> tuple[Any, FakeClock | None]:
    """The implementation rebuilt on a FakeClock the test owns, if it declares injectable-clock.

    On the test's own fake clock time moves only in ``control.sleep``, so the
    timing checks are exact (no calibrated tolerance). Otherwise ``impl`` as is.
    """
    if not impl.has("injectable-clock"):
        return impl, None
    clock = FakeClock()
    ctx = dataclasses.replace(impl.ctx, clock=clock)
    built = impl.adapter.build(ctx)
    return Subject(impl.adapter, built, ctx, impl.mechanism, impl.call_timeout), clock


def pair(impl: Any, label: str = "a") -> tuple[Any, Any]:
    """A client and the implementation's control object, both time-limited."""
    c = impl.client(label)
    ctl = Guarded(c.control(), f"{impl.name}.control", CONTROL_TIMEOUT)
    hot = ctl.hot()
    expect(hot in ctl.nodes(), f"discovery names a hot node (it names {hot!r})")
    return c, ctl


def other(ctl: Any, node: str) -> str:
    return next(n for n in ctl.nodes() if n != node)


def try_write(write: Any, key: str, value: str) -> bool:
    """True when acknowledged; an exception is a write not acknowledged."""
    try:
        return write(key, value) is True
    except Exception:
        return False


def try_read(read: Any, *args: str) -> Any:
    try:
        return read(*args)
    except Exception as exc:
        return exc


@dataclass
class Load:
    """A steady write load: unique keys, acknowledgement times on the control clock.

    ``acked`` maps a key to its value and the END of the acknowledged call (the
    acknowledgement happened at or before it); ``unacked`` keeps every write
    that returned False or raised, with what it returned, for the probes that
    follow (spec HW-13: the client finds out what such a write did by reading).
    """

    write: Any
    ctl: Any
    prefix: str
    acked: dict[str, tuple[str, float]] = field(default_factory=dict)
    unacked: dict[str, tuple[str, str]] = field(default_factory=dict)
    n: int = 0

    def once(self) -> bool:
        key, value = f"{self.prefix}{self.n}", f"v{self.n}"
        self.n += 1
        try:
            ok = self.write(key, value) is True
            why = "returned False"
        except Exception as exc:
            ok, why = False, f"raised {type(exc).__name__}"
        if ok:
            self.acked[key] = (value, self.ctl.now())
        else:
            self.unacked[key] = (value, why)
        return ok

    def written(self) -> dict[str, str]:
        """Every key this load tried to write, acknowledged or not, with its value."""
        return {**{k: v for k, (v, _) in self.unacked.items()}, **self.values()}

    def values(self) -> dict[str, str]:
        return {k: v for k, (v, _) in self.acked.items()}

    def run_flat(self, writes: int, deadline: float) -> int:
        """Up to ``writes`` writes back to back until ``deadline`` (``time.monotonic``)."""
        acked = 0
        for _ in range(writes):
            if time.monotonic() > deadline:
                break
            acked += self.once()
        return acked

    def run(self, writes: int) -> int:
        """``writes`` writes, STEP apart; how many were acknowledged."""
        acked = 0
        for _ in range(writes):
            acked += self.once()
            self.ctl.sleep(STEP)
        return acked

    def until_ack(self, limit: float) -> float | None:
        """Write until one write is acknowledged; its time, or None after ``limit`` s."""
        end = self.ctl.now() + limit
        while self.ctl.now() <= end:
            if self.once():
                return float(self.ctl.now())
            self.ctl.sleep(STEP)
        return None

    def lost(self, reader: Any, since: float | None = None) -> dict[str, tuple[str, float, Any]]:
        """Acknowledged keys (after ``since``) that a reader does not see with their value."""
        out = {}
        for key, (value, at) in self.acked.items():
            if since is not None and at <= since:
                continue
            got = try_read(reader, key)
            if got != value:
                out[key] = (value, at, got)
        return out


def kill_under_load(impl: Any, prefix: str = "k") -> tuple[Load, str, float, float | None]:
    """Write BEFORE + 1 keys, SIGKILL the hot node, write until one is acknowledged.

    Returns the load, the killed node, the kill time and the failover time
    (kill to first acknowledged write, on the control clock) or None.
    """
    c, ctl = pair(impl)
    load = Load(c.write, ctl, prefix)
    expect(load.run(BEFORE) == BEFORE, "writes are acknowledged before the fault")
    old = ctl.hot()
    # One more write with no pause before the kill: the freshest acknowledged
    # write is the one an asynchronous pair has not shipped yet.
    expect(load.once(), "writes are acknowledged before the fault")
    # The node stops answering somewhere inside the kill call. The loss
    # window is judged from the call's START (a lost write looks no older than
    # it was), the failover time from its END (no longer than it was), so that
    # neither check can fail a correct pair by the length of the call.
    t_kill = ctl.now()
    ctl.kill(old)
    t_dead = ctl.now()
    t_ack = load.until_ack(SETUP_T * ctl.detection_bound)
    return load, old, t_kill, None if t_ack is None else t_ack - t_dead


def probe_after_failover(ctl: Any, old: str, load: Load) -> list[str]:
    """Probes after the writes that failed during a failover: what state did they leave?

    Discovery names a node other than ``old`` whose own role is hot, and every
    write that was not acknowledged reads on that node as absent or as its
    own value (keys are unique: any other value is a write applied wrongly).
    Returns the problems found, empty when none.
    """
    problems = []
    new = ctl.hot()
    if new in (None, old):
        return [f"after the failover of {old}, discovery names {new!r}"]
    role = try_read(ctl.role, new)
    if role != "hot":
        problems.append(f"discovery names {new}, whose own role is {role!r}")
    for key, (value, why) in load.unacked.items():
        got = try_read(ctl.read_direct, new, key)
        if got not in (None, value):
            problems.append(f"unacknowledged {key}={value!r} ({why}) reads {got!r} on {new}")
    return problems


def stale_writes(ctl: Any, old: str, load: Load, n: int) -> Load:
    """``n`` writes straight to the resumed old hot node, each beside one through ``load``."""
    stale = Load(lambda k, v: ctl.write_direct(old, k, v), ctl, "stale")
    for _ in range(n):
        stale.once()
        load.once()
        ctl.sleep(STEP)
    return stale


def assert_still_hot(c: Any, ctl: Any, hot: str, what: str) -> None:
    """After T of watching, ``hot`` is still the hot node and takes a client write."""
    # A failover that was started by the pause finishes within T.
    ctl.sleep(ctl.detection_bound)
    now = ctl.hot()
    assert now == hot, f"repro: {what}; discovery now names {now} (flapping)"
    role = ctl.role(hot)
    assert role == "hot", f"repro: {what}; {hot} has role {role}"
    assert try_write(c.write, "after", "2"), f"repro: {what}; a write is not acknowledged after"


def wait_agree(
    ctl: Any, hot: str, warm: str, keys: Any, limit: float
) -> dict[str, tuple[Any, Any]]:
    """Polls both nodes on ``keys`` for up to ``limit`` s; the keys they still disagree on.

    A key disagrees when the two reads differ or the hot node's raised.
    """

    def apart() -> dict[str, tuple[Any, Any]]:
        out = {}
        for key in keys:
            on_hot = try_read(ctl.read_direct, hot, key)
            on_warm = try_read(ctl.read_direct, warm, key)
            if on_hot != on_warm or isinstance(on_hot, Exception):
                out[key] = (on_hot, on_warm)
        return out

    end = ctl.now() + limit
    split = apart()
    while split and ctl.now() <= end:
        ctl.sleep(0.2)
        split = apart()
    return split


def wait_role(ctl: Any, node: str, role: str, limit: float) -> bool:
    end = ctl.now() + limit
    while ctl.now() <= end:
        if try_read(ctl.role, node) == role:
            return True
        ctl.sleep(0.1)
    return False


# ------------------------------------------------------------------ HW-1


@clause("HW-1")
def test_healthy_pair_serves_writes_from_the_hot_node(impl: Any) -> None:
    """Writes through a client are acknowledged, on the hot node, and read by another client."""
    c, ctl = pair(impl)
    hot = ctl.hot()
    assert ctl.role(hot) == "hot", f"discovery names {hot}, whose role is {ctl.role(hot)}"
    keys = [(f"k{i}", f"v{i}") for i in range(10)]
    for k, v in keys:
        assert c.write(k, v) is True, f"repro: healthy pair; write({k!r}) not acknowledged"
    reader = impl.client("b")
    for k, v in keys:
        got = reader.read(k)
        assert got == v, f"repro: write({k!r}, {v!r}) acknowledged; a second client reads {got!r}"
        on_hot = ctl.read_direct(hot, k)
        assert on_hot == v, f"repro: write({k!r}) acknowledged; the hot node {hot} has {on_hot!r}"


# ------------------------------------------------------------------ HW-2


#: Async replication lag trials of HW-2 (each one write, polled on the warm node).
LAG_TRIALS = 5


@clause("HW-2")
def test_warm_node_receives_every_acknowledged_write(impl: Any, timing: Any) -> None:
    """Sync: each acknowledged write is on the warm node at once; async: within L.

    Async mode also times LAG_TRIALS single writes: from the START of the
    acknowledged call (the acknowledgement came no earlier) to the END of the
    first read of the warm node that shows it, polled every STEP: the span
    never understates the lag. Judged by the harness (``timing.check``): the
    median within L plus the calibrated tolerance for two round trips plus one
    poll step, the slowest within 2 L (a single stalled trial).

    An implementation that declares ``injectable-clock`` runs on the test's
    fake clock, where calls take no time: each poll that would pass ``t0 + L``
    lands on it exactly, and every trial must show the write within L, with
    no tolerance (a lag of 2 L is a fail, not a stalled trial).
    """
    impl, fake = on_fake_clock(impl)
    c, ctl = pair(impl)
    if fake is not None:
        now = ctl.now()
        assert now == fake.now(), (
            f"{impl.name} declares injectable-clock, but its time {now} is not the injected "
            f"clock's {fake.now()}"
        )
    warm = other(ctl, ctl.hot())
    missing = []
    for i in range(20):
        k, v = f"k{i}", f"v{i}"
        expect(c.write(k, v) is True, f"write({k!r}) is acknowledged")
        if ctl.mode == "sync":
            got = ctl.read_direct(warm, k)
            if got != v:
                missing.append(f"{k}: {got!r} right after the ack")
    if ctl.mode == "async":
        lags = []
        for i in range(LAG_TRIALS):
            k, v = f"lag{i}", f"l{i}"
            t0 = ctl.now()
            expect(c.write(k, v) is True, f"write({k!r}) is acknowledged")
            end = ctl.now() + SETUP_T * ctl.detection_bound
            while try_read(ctl.read_direct, warm, k) != v and ctl.now() <= end:
                # On the fake clock one poll falls exactly at t0 + L.
                edge = t0 + ctl.loss_window - ctl.now()
                ctl.sleep(edge if fake is not None and FAKE_EPS < edge < STEP else STEP)
            lags.append(ctl.now() - t0)
        what = f"{ctl.mode} replication lag (warm node has an acknowledged write)"
        if fake is not None:
            timing.check(what, lags, at_most=ctl.loss_window, tight=FAKE_EPS, loose=FAKE_EPS)
        else:
            tol = timing.tight(impl, round_trips=2)
            timing.check(
                what, lags, at_most=ctl.loss_window, tight=tol + STEP, loose=ctl.loss_window
            )
        ctl.sleep(ctl.loss_window)
        for i in range(20):
            got = ctl.read_direct(warm, f"k{i}")
            if got != f"v{i}":
                missing.append(f"k{i}: {got!r} after L={ctl.loss_window}s")
    assert not missing, f"{ctl.mode} mode: the warm node {warm} lacks acknowledged writes: " + (
        "; ".join(missing[:5])
    )


# ------------------------------------------------------------------ HW-3


@clause("HW-3")
def test_warm_node_refuses_direct_writes(impl: Any) -> None:
    """A write sent straight to the warm node of a healthy pair is not acknowledged."""
    c, ctl = pair(impl)
    hot = ctl.hot()
    warm = other(ctl, hot)
    expect(c.write("before", "1") is True, "a write through the client is acknowledged")
    acked = try_write(lambda k, v: ctl.write_direct(warm, k, v), "direct", "x")
    assert not acked, f"repro: healthy pair, hot {hot}; write_direct({warm!r}) was acknowledged"
    assert ctl.hot() == hot, f"a direct write to the warm node moved the hot role to {ctl.hot()}"


# ------------------------------------------------------------------ HW-4


@clause("HW-4")
@pytest.mark.takes(5)
def test_failover_after_kill_within_declared_bound(impl: Any) -> None:
    """SIGKILL of the hot node: the same client's writes are acknowledged again within T."""
    load, old, _, took = kill_under_load(impl)
    t = load.ctl.detection_bound
    assert took is not None, (
        f"repro: kill hot node {old}; no write acknowledged within {SETUP_T} x T = "
        f"{SETUP_T * t:.1f}s (discovery names {load.ctl.hot()})"
    )
    assert took <= t, f"repro: kill hot node {old}; first acknowledged write after {took:.2f}s > T"
    problems = probe_after_failover(load.ctl, old, load)
    assert not problems, f"repro: kill hot node {old}, failover; probes: " + "; ".join(problems[:5])


# ------------------------------------------------------------------ HW-5 / HW-6


@clause("HW-5")
@pytest.mark.takes(5)
def test_sync_mode_loses_no_acknowledged_write_on_kill(impl: Any) -> None:
    """Steady writes, SIGKILL of the hot node, writes after failover: every ack survives."""
    load, old, _, took = kill_under_load(impl)
    expect(took is not None, "a write is acknowledged after the failover")
    expect(load.run(10) > 0, "writes are acknowledged after the failover")
    lost = load.lost(impl.client("reader").read)
    assert not lost, (
        f"repro: {BEFORE} writes, kill hot node {old}, failover; {len(lost)} of "
        f"{len(load.acked)} acknowledged writes lost, e.g. "
        + ", ".join(f"{k}={v!r} read {g!r}" for k, (v, _, g) in list(lost.items())[:5])
    )


@clause("HW-6")
def test_async_mode_loses_only_writes_inside_the_loss_window(impl: Any) -> None:
    """Writes lost across a kill were all acknowledged within L before the kill."""
    load, old, t_kill, took = kill_under_load(impl)
    expect(took is not None, "a write is acknowledged after the failover")
    expect(load.run(10) > 0, "writes are acknowledged after the failover")
    lost = load.lost(impl.client("reader").read)
    window = load.ctl.loss_window
    old_losses = {k: t_kill - at for k, (_, at, _) in lost.items() if t_kill - at > window}
    assert not old_losses, (
        f"repro: kill hot node {old} under load; writes acknowledged more than L={window}s "
        f"before the kill were lost: "
        + ", ".join(f"{k} ({age:.2f}s before)" for k, age in list(old_losses.items())[:5])
    )


# ------------------------------------------------------------------ HW-7


@clause("HW-7")
@pytest.mark.takes(16)
def test_no_split_brain_after_a_long_pause(impl: Any) -> None:
    """Pause the hot node past T, resume it: its direct acks, and all others, survive."""
    c, ctl = pair(impl)
    load = Load(c.write, ctl, "k")
    expect(load.run(BEFORE) == BEFORE, "writes are acknowledged before the fault")
    old = ctl.hot()
    ctl.pause(old)
    expect(load.until_ack(SETUP_T * ctl.detection_bound) is not None, "a failover after a pause")
    ctl.resume(old)
    # The stale client: straight to the old hot node, as soon as it runs again.
    stale = stale_writes(ctl, old, load, 10)
    expect(wait_role(ctl, old, "warm", SETUP_T * ctl.detection_bound), f"{old} rejoins as warm")
    load.run(5)
    reader = impl.client("reader").read
    lost_stale, lost = stale.lost(reader), load.lost(reader)
    assert not lost_stale, (
        f"repro: pause hot node {old} past T, failover, resume; {old} acknowledged "
        f"{len(stale.acked)} direct writes and {len(lost_stale)} of them are lost (split brain)"
    )
    assert not lost, f"repro: pause/resume of {old}; acknowledged writes lost: {sorted(lost)[:5]}"


# ------------------------------------------------------------------ HW-8


@clause("HW-8")
@pytest.mark.takes(16)
def test_restarted_old_hot_node_rejoins_as_warm_and_catches_up(impl: Any) -> None:
    """Kill, failover, writes, restart: the old node is warm, refuses writes, has every ack."""
    load, old, t_kill, took = kill_under_load(impl)
    ctl = load.ctl
    expect(took is not None, "a write is acknowledged after the failover")
    expect(load.run(10) > 0, "writes are acknowledged after the failover")
    ctl.restart(old)
    limit = SETUP_T * ctl.detection_bound
    assert wait_role(ctl, old, "warm", limit), (
        f"repro: kill {old}, failover, restart {old}; after {limit:.1f}s its role is "
        f"{try_read(ctl.role, old)!r}, not warm"
    )
    acked = try_write(lambda k, v: ctl.write_direct(old, k, v), "direct", "x")
    assert not acked, f"repro: {old} rejoined as warm and acknowledged a direct write"
    load.run(5)
    end = ctl.now() + limit
    # Writes lost in the kill itself (async mode, HW-6) are not the new hot node's.
    missing = load.lost(lambda k: ctl.read_direct(old, k), since=t_kill)
    while missing and ctl.now() <= end:
        ctl.sleep(0.2)
        missing = load.lost(lambda k: ctl.read_direct(old, k), since=t_kill)
    assert not missing, (
        f"repro: kill {old}, failover, restart; {limit:.1f}s after it rejoined, {old} lacks "
        f"{len(missing)} writes the new hot node acknowledged, e.g. {sorted(missing)[:5]}"
    )


# ------------------------------------------------------------------ HW-9


@clause("HW-9")
@pytest.mark.takes(6)
def test_clients_follow_discovery_to_the_new_hot_node(impl: Any) -> None:
    """After a kill, an old client and a new one write to the node discovery names."""
    load, old, _, took = kill_under_load(impl)
    ctl = load.ctl
    assert took is not None, (
        f"repro: kill hot node {old}; the client made before the kill had no write "
        f"acknowledged within {SETUP_T} x T (discovery names {ctl.hot()})"
    )
    new = ctl.hot()
    assert new not in (None, old), f"after the kill of {old}, discovery names {new!r}"
    fresh = impl.client("fresh")
    assert try_write(fresh.write, "fresh", "1"), "a client made after the failover cannot write"
    for key, (value, _) in [*list(load.acked.items())[-1:], ("fresh", ("1", 0.0))]:
        got = ctl.read_direct(new, key)
        assert got == value, f"acknowledged {key}={value!r} is not on the new hot {new}: {got!r}"


# ------------------------------------------------------------------ HW-10


@clause("HW-10")
@pytest.mark.takes(9)
def test_short_pause_does_not_cause_a_failover(impl: Any) -> None:
    """A pause of H/2 then T of watching: the same node is hot and takes writes."""
    c, ctl = pair(impl)
    expect(c.write("before", "1") is True, "a write is acknowledged before the pause")
    hot = ctl.hot()
    ctl.pause(hot)
    ctl.sleep(ctl.hold_off / 2)
    ctl.resume(hot)
    assert_still_hot(c, ctl, hot, f"pause hot node {hot} for H/2 = {ctl.hold_off / 2:.2f}s")


# ------------------------------------------------------------------ HW-11


@clause("HW-11")
@pytest.mark.takes(5)
def test_failover_after_pause_within_declared_bound(impl: Any) -> None:
    """SIGSTOP of the hot node (it hangs, it does not refuse): writes acknowledged again within T.

    A paused primary keeps its connections open and never answers: a client
    that only rediscovers on a refused connection, or waits with no socket
    timeout, is stuck on it (redis-py issue #3560 and others), which a kill
    does not show.
    """
    c, ctl = pair(impl)
    load = Load(c.write, ctl, "k")
    expect(load.run(BEFORE) == BEFORE, "writes are acknowledged before the fault")
    old = ctl.hot()
    ctl.pause(old)
    # From the END of the pause call: the node stopped answering at or before
    # it, so the measured time never exceeds the true one (a fail is true).
    t_paused = ctl.now()
    try:
        t_ack = load.until_ack(SETUP_T * ctl.detection_bound)
        problems = probe_after_failover(ctl, old, load) if t_ack is not None else []
        still = try_read(ctl.role, old)
    finally:
        ctl.resume(old)
    t = ctl.detection_bound
    assert t_ack is not None, (
        f"repro: SIGSTOP hot node {old}; no write acknowledged within {SETUP_T} x T = "
        f"{SETUP_T * t:.1f}s ({len(load.unacked)} attempts failed, last: "
        f"{list(load.unacked.values())[-1:]}; discovery names {ctl.hot()})"
    )
    took = t_ack - t_paused
    assert took <= t, f"repro: SIGSTOP hot node {old}; acked {took:.2f}s > T later"
    assert still == "down", f"the paused node {old} reports role {still!r}, not down"
    assert not problems, f"repro: SIGSTOP {old}, failover; probes: " + "; ".join(problems[:5])


# ------------------------------------------------------------------ HW-12

#: Pauses of the hold-off H in a row; each is followed by one acknowledged write.
HOLD_OFF_TRIALS = 3


@clause("HW-12")
@pytest.mark.takes(12)
def test_pauses_just_under_the_hold_off_cause_no_failover(impl: Any) -> None:
    """Three pauses each as long as the declared hold-off H (not H/2), H/2 apart: no failover.

    The silence of one pause is at most the span from the START of the pause
    call to the END of the resume call. On a fake clock (calls take no time)
    the pause is exactly H. On a wall clock the sleep ends a margin before H:
    four times the pause call's own duration (the resume call costs about as
    much; x4 absorbs its jitter) and at least H/20 (50 ms for H = 1 s, several
    scheduler stalls on a loaded 2-core machine), so the pause is within 5 %
    of H. A span still over H (a stalled machine) makes the test
    inconclusive, never a fail.
    """
    c, ctl = pair(impl)
    expect(c.write("before", "1") is True, "a write is acknowledged before the pauses")
    hot = ctl.hot()
    h = ctl.hold_off
    spans = []
    for i in range(HOLD_OFF_TRIALS):
        t0 = ctl.now()
        ctl.pause(hot)
        cost = ctl.now() - t0
        margin = 0.0 if cost == 0 else max(4 * cost, h / 20)
        ctl.sleep(max(0.0, h - margin - (ctl.now() - t0)))
        ctl.resume(hot)
        spans.append(ctl.now() - t0)
        expect(spans[-1] <= h + 1e-9, f"pause {i} spans at most H = {h}s, not {spans[-1]:.3f}s")
        # Back at work between pauses: the node answers, the detector hears it.
        ok = try_write(c.write, f"between{i}", "1")
        assert ok, f"repro: pause hot node {hot} for H = {h}s; the next write is not acknowledged"
        ctl.sleep(h / 2)
    what = (
        f"pause hot node {hot} {HOLD_OFF_TRIALS} times for the declared hold-off H = {h}s "
        f"(spans {', '.join(f'{s:.3f}' for s in spans)}s), H/2 apart"
    )
    assert_still_hot(c, ctl, hot, what)


# ------------------------------------------------------------------ HW-13


@clause("HW-13")
@pytest.mark.takes(16)
def test_nodes_agree_on_every_write_after_failover_and_rejoin(impl: Any) -> None:
    """Pause past T under load, stale direct writes to the resumed node, rejoin: both nodes agree.

    Every write, acknowledged or not, ends with one answer: once the old hot
    node has rejoined (within 3 T), the hot and the warm node hold the same
    value for each key, absent on both or present on both. A rejoin that
    merges instead of resyncing keeps the old node's orphans on the warm copy,
    and a later failover would resurrect writes the clients were told failed
    or saw vanish.
    """
    c, ctl = pair(impl)
    load = Load(c.write, ctl, "k")
    expect(load.run(BEFORE) == BEFORE, "writes are acknowledged before the fault")
    old = ctl.hot()
    # The freshest write, with no pause before the fault: an asynchronous
    # pair has not shipped it, so the old node holds what the new one lacks.
    expect(load.once(), "a write is acknowledged right before the fault")
    ctl.pause(old)
    expect(load.until_ack(SETUP_T * ctl.detection_bound) is not None, "a failover after a pause")
    ctl.resume(old)
    stale = stale_writes(ctl, old, load, 10)
    limit = SETUP_T * ctl.detection_bound
    expect(wait_role(ctl, old, "warm", limit), f"{old} rejoins as warm")
    load.run(5)
    new = ctl.hot()
    expect(new == other(ctl, old), f"discovery names the promoted node (it names {new!r})")
    keys = {**load.written(), **stale.written()}
    split = wait_agree(ctl, new, old, keys, limit)
    assert not split, (
        f"repro: pause hot node {old} past T, failover, resume, {len(stale.unacked)} stale "
        f"direct writes refused, rejoin; {limit:.1f}s later the nodes disagree on "
        f"{len(split)} of {len(keys)} keys (hot {new} / warm {old}): "
        + ", ".join(f"{k}: {h!r}/{w!r}" for k, (h, w) in sorted(split.items())[:5])
    )


# ------------------------------------------------------------------ HW-14


@clause("HW-14")
@pytest.mark.takes(3)
def test_switchover_moves_the_hot_role_and_loses_nothing(impl: Any) -> None:
    """A planned switchover right after a write: the warm node is hot within T, every ack kept.

    Unlike a failover the old hot node is healthy, so nothing excuses a loss,
    in either mode: the freshest write (not yet shipped by an asynchronous
    pair) must reach the new hot node, and the old one must refuse writes at
    once (a manual SENTINEL FAILOVER promotes the replica while the old
    primary still takes writes, redis-py issue #435).
    """
    c, ctl = pair(impl)
    load = Load(c.write, ctl, "k")
    expect(load.run(BEFORE) == BEFORE, "writes are acknowledged before the switchover")
    old = ctl.hot()
    new = other(ctl, old)
    expect(load.once(), "a write is acknowledged right before the switchover")
    t0 = ctl.now()
    try:
        c.switchover()
        error = None
    except Exception as exc:
        error = exc
    # Span from the START of the call to its END: a fail (over T) is true.
    took = ctl.now() - t0
    named, roles = ctl.hot(), {n: try_read(ctl.role, n) for n in ctl.nodes()}
    stale_ack = try_write(lambda k, v: ctl.write_direct(old, k, v), "stale", "x")
    after = load.run(10)
    lost = load.lost(impl.client("reader").read)
    assert error is None, (
        f"repro: healthy pair, switchover() raised {error!r}; probes: discovery names "
        f"{named}, roles {roles}, {len(lost)} acknowledged writes lost"
    )
    assert took <= ctl.detection_bound, f"switchover took {took:.2f}s > T"
    assert named == new and roles[new] == "hot", (
        f"repro: switchover from {old}; discovery names {named}, roles {roles}"
    )
    assert not stale_ack, (
        f"repro: switchover from {old} returned; {old} still acknowledged a direct write "
        f"(roles {roles}; {len(lost)} of {len(load.acked)} acknowledged writes lost)"
    )
    assert after > 0, f"repro: switchover; no write acknowledged afterwards (roles {roles})"
    assert not lost, (
        f"repro: {BEFORE + 1} writes, switchover {old} -> {new}; {len(lost)} acknowledged "
        f"writes lost: {sorted(lost)[:5]}"
    )


# ------------------------------------------------------------------ HW-15

#: Writer threads driving one client, and writes per thread. Sized by the
#: catch rate of the planted unsynchronised write path (known-bad
#: ``unlocked-writes``), measured over 20 runs: see the test's docstring.
WRITER_THREADS, WRITES_PER_THREAD = 8, 500
#: The test thread's clock step while the writers run: five load steps, a
#: heartbeat of the in-memory pair, so that each step runs one shipment.
CLOCK_STEP = 5 * STEP
#: Wall-clock seconds the writers may take: the in-memory pair does all its
#: writes in about 1.5 s; a server-backed pair (each write a round trip, slow
#: under the short switch interval: ~80 acknowledged writes a second for the
#: Redis pair) does what it can in this time.
WRITE_SECONDS = 3.0
#: Seconds between GIL hand-offs during HW-15 (CPython's default is 0.005).
SWITCH_INTERVAL = 1e-6


@clause("HW-15")
@pytest.mark.takes(6)
def test_one_client_written_from_several_threads(impl: Any) -> None:
    """Eight threads write through ONE client at once, the pair running: every ack on both nodes.

    Users share one connection object across threads (redis-py's ``Redis`` is
    thread-safe). Each thread drives the client on its own worker
    (``on_thread(k)``) while the test thread keeps the pair's clock running
    (heartbeats ship an asynchronous log). Afterwards every acknowledged write
    is on the hot node and, after L (at once in sync mode), on the warm node;
    every unacknowledged one is probed on both and must agree.

    Catch rate of the planted bug (known-bad ``unlocked-writes``: the write
    path appends to the replication log without the lock the heartbeat's
    shipping step holds): with an instantaneous shipment (a window of a few
    bytecodes) 19 or 20 of 20 runs caught it, and one CI run missed it; with
    4 threads and the default switch interval it was 5 of 20. The known-bad
    now ships over a 2 ms "network" as a real pair does, and 16 of 16 runs
    caught it, 6 of them beside four CPU-bound processes on 2 cores.
    """
    c, ctl = pair(impl)
    hot = ctl.hot()
    warm = other(ctl, hot)
    loads = [Load(c.on_thread(k).write, ctl, f"t{k}-") for k in range(WRITER_THREADS)]
    deadline = time.monotonic() + WRITE_SECONDS
    threads = [
        threading.Thread(target=load.run_flat, args=(WRITES_PER_THREAD, deadline), daemon=True)
        for load in loads
    ]
    # Worst-case schedule: the interpreter hands the GIL over every few
    # bytecodes instead of every 5 ms, so that an unguarded step of the
    # implementation is interleaved with the other threads' (process-wide,
    # restored at once; servers are other processes and do not notice).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        for t in threads:
            t.start()
        end = ctl.now() + SETUP_T * ctl.detection_bound + WRITES_PER_THREAD * CLOCK_STEP
        while any(t.is_alive() for t in threads) and ctl.now() <= end:
            ctl.sleep(CLOCK_STEP)
        for t in threads:
            t.join(timeout=CONTROL_TIMEOUT)
    finally:
        sys.setswitchinterval(interval)
    expect(not any(t.is_alive() for t in threads), "the writer threads finish")
    expect(ctl.hot() == hot, f"no failover during the run (discovery names {ctl.hot()})")
    ctl.sleep(ctl.loss_window if ctl.mode == "async" else 0.0)
    acked = {k: v for load in loads for k, v in load.values().items()}
    expect(acked, "some concurrent writes are acknowledged")
    missing = []
    for key, value in acked.items():
        on_hot, on_warm = try_read(ctl.read_direct, hot, key), try_read(ctl.read_direct, warm, key)
        if on_hot != value or on_warm != value:
            missing.append(f"{key}: hot {on_hot!r}, warm {on_warm!r}")
    split = []
    for key, (value, why) in ((k, u) for load in loads for k, u in load.unacked.items()):
        on_hot, on_warm = try_read(ctl.read_direct, hot, key), try_read(ctl.read_direct, warm, key)
        if on_hot != on_warm or on_hot not in (None, value):
            split.append(f"{key} ({why}): hot {on_hot!r}, warm {on_warm!r}")
    assert not missing, (
        f"repro: {WRITER_THREADS} threads x {WRITES_PER_THREAD} writes through one client; "
        f"{len(missing)} of {len(acked)} acknowledged writes are not on both nodes "
        f"({ctl.mode} mode, checked after L = {ctl.loss_window}s): " + "; ".join(missing[:5])
    )
    assert not split, "unacknowledged concurrent writes left the nodes apart: " + "; ".join(
        split[:5]
    )


# ------------------------------------------------------------------ HW-16

#: Writes made while the warm node is paused (in sync mode each may wait for
#: the replica's confirmation until it gives up: about 1 s for the Redis pair).
WHILE_PAUSED = 5


@clause("HW-16")
@pytest.mark.takes(8)
@pytest.mark.parametrize("how", ["pause", "kill"])
def test_failed_warm_node_catches_up(impl: Any, how: str) -> None:
    """The warm node paused (or killed) for at least H with writes going on, then resumed
    (or restarted): it catches up.

    A replica that stops (a frozen VM, a long GC) and comes back continues the
    primary's replication stream: every write the hot node applied meanwhile,
    acknowledged or not (a sync pair acknowledges none of them: the warm node
    cannot confirm), reaches the warm node. A pair that drops the entries the
    warm node did not take keeps them on the hot node only, and the next
    failover silently undoes them. A killed warm node restarts empty and must
    resync in full (a restart that keeps the node's old place in the stream,
    or none, leaves it empty). The hot node stays hot throughout: losing the
    warm node is no reason to fail over.
    """
    c, ctl = pair(impl)
    load = Load(c.write, ctl, "k")
    expect(load.run(BEFORE) == BEFORE, "writes are acknowledged before the fault")
    hot = ctl.hot()
    warm = other(ctl, hot)
    during = Load(c.write, ctl, "p")
    t0 = ctl.now()
    ctl.pause(warm) if how == "pause" else ctl.kill(warm)
    try:
        for _ in range(WHILE_PAUSED):
            during.once()
            ctl.sleep(STEP)
        # Paused for at least the hold-off H, whatever the writes took.
        ctl.sleep(max(0.0, ctl.hold_off - (ctl.now() - t0)))
    finally:
        ctl.resume(warm) if how == "pause" else ctl.restart(warm)
    limit = SETUP_T * ctl.detection_bound
    expect(wait_role(ctl, warm, "warm", limit), f"{warm} answers as warm again after the {how}")
    keys = {**load.written(), **during.written()}
    split = wait_agree(ctl, hot, warm, keys, limit)
    named = ctl.hot()
    assert named == hot, f"repro: {how} warm node {warm}, back; discovery now names {named}"
    assert not split, (
        f"repro: {ctl.mode} pair, {how} warm node {warm}, {WHILE_PAUSED} writes "
        f"({len(during.acked)} acknowledged), back; {limit:.1f}s later the nodes disagree on "
        f"{len(split)} of {len(keys)} keys (hot {hot} / warm {warm}): "
        + ", ".join(f"{k}: {h!r}/{w!r}" for k, (h, w) in sorted(split.items())[:5])
    )
    lost = load.lost(lambda k: ctl.read_direct(hot, k))
    assert not lost, f"repro: {how} warm node {warm}; the hot node lost {sorted(lost)[:5]}"


# ------------------------------------------------------------------ HW-17


@clause("HW-17")
@pytest.mark.takes(4)
def test_hot_node_restarted_before_detection_leaves_a_working_pair(impl: Any) -> None:
    """Kill the hot node, restart it H/2 later: writes are acknowledged again and the pair heals.

    A supervisor restarts a crashed server at once, before the failure
    detector's silence runs out. The restarted node answers again, empty, and
    believes its original role; the detector may promote the warm node (the
    restarted one then rejoins as warm) or take it back as the hot node (the
    warm one resyncs from it). Either way the pair must work again: a node
    that answers but is never confirmed as hot, with nothing promoted in its
    place, refuses every write forever. The span runs from the END of the
    restart call to the END of the acknowledged write, so it never exceeds
    the true one.
    """
    c, ctl = pair(impl)
    load = Load(c.write, ctl, "k")
    expect(load.run(BEFORE) == BEFORE, "writes are acknowledged before the fault")
    old = ctl.hot()
    t0 = ctl.now()
    ctl.kill(old)
    # Restarted H/2 after the kill's START: half the longest silence that
    # never causes a failover, so the other half absorbs the kill and
    # restart calls' own time (a server start) and no detector may have acted.
    ctl.sleep(max(0.0, ctl.hold_off / 2 - (ctl.now() - t0)))
    ctl.restart(old)
    t_up = ctl.now()
    t = ctl.detection_bound
    t_ack = load.until_ack(SETUP_T * t)
    hot = ctl.hot()
    role = try_read(ctl.role, hot) if hot in ctl.nodes() else None
    what = f"kill hot node {old}, restart it H/2 = {ctl.hold_off / 2:.2f}s later"
    assert t_ack is not None, (
        f"repro: {what}; no write acknowledged within {SETUP_T} x T = {SETUP_T * t:.1f}s "
        f"({len(load.unacked)} attempts failed; discovery names {hot!r}, whose role is {role!r})"
    )
    assert t_ack - t_up <= t, f"repro: {what}; first acknowledged write {t_ack - t_up:.2f}s > T"
    assert role == "hot", f"repro: {what}; discovery names {hot!r}, whose own role is {role!r}"
    warm = other(ctl, hot)
    limit = SETUP_T * t
    assert wait_role(ctl, warm, "warm", limit), (
        f"repro: {what}; {limit:.1f}s later {warm} has role {try_read(ctl.role, warm)!r}, "
        f"not warm (hot {hot})"
    )
    load.run(5)
    keys = load.written()
    split = wait_agree(ctl, hot, warm, keys, limit)
    assert not split, (
        f"repro: {what}; the nodes disagree on {len(split)} of {len(keys)} keys "
        f"(hot {hot} / warm {warm}): "
        + ", ".join(f"{k}: {h!r}/{w!r}" for k, (h, w) in sorted(split.items())[:5])
    )

"""Fault tests for the Redis hot-warm pair: spec/hotwarm.md, "Fault model".

One scenario on one private pair (primary, replica, three Sentinels), under a
steady write load through a Sentinel-following client:

1. SIGKILL of the primary: failover time and acknowledged writes lost;
2. restart of the killed node: time until it rejoins as a replica, caught up;
3. SIGSTOP of the new primary for longer than T, then SIGCONT: a client with
   the old address keeps writing to it (the split-brain attempt); failover
   time, acknowledged writes lost, and stale writes acknowledged.

Each step prints its numbers (shown with ``-s`` or in the captured output
of a failure) and records them as junit properties. The clauses are the
conformance suite's; the sync mode is the reference the contract holds to
HW-5, the async mode runs the same scenario and must lose only inside L.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from distconform import mechanisms
from distconform.adapters import resolve
from distconform.api import Context, new_namespace
from distconform.backends import PrivateSentinel
from distconform.conformance.test_hotwarm import (
    SETUP_T,
    kill_under_load,
    other,
    stale_writes,
    try_write,
    wait_role,
)
from distconform.guard import DEFAULT_CALL_TIMEOUT, Guarded
from distconform.plugin import Subject

pytestmark = pytest.mark.faults
clause = pytest.mark.clause


@pytest.fixture(params=["redis-sentinel", "redis-sentinel-async"])
def pair(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if not PrivateSentinel.available():
        pytest.skip("fault tests need redis-server on PATH")
    mech = mechanisms.get("hotwarm")
    adapter = resolve(mech, request.param)
    ctx = Context(namespace=new_namespace())
    subject = Subject(adapter, adapter.build(ctx), ctx, mech, DEFAULT_CALL_TIMEOUT)
    try:
        yield subject
    finally:
        subject.close()


@clause("HW-4", "HW-5", "HW-6", "HW-7", "HW-8")
def test_kill_restart_and_pause_under_load(
    pair: Subject, record_property: Callable[[str, Any], None]
) -> None:
    """kill -9, restart, SIGSTOP past T and SIGCONT of the primary, under steady writes."""

    def report(name: str, value: Any) -> None:
        record_property(name, value)
        print(f"hotwarm fault [{pair.name}] {name} = {value}")

    # 1. kill -9 of the primary
    load, old, t_kill, took = kill_under_load(pair)
    ctl = load.ctl
    t = ctl.detection_bound
    assert took is not None, f"no write acknowledged within {SETUP_T} x T after kill -9 of {old}"
    report("kill.failover_s", round(took, 3))
    load.run(20)
    lost = load.lost(pair.client("reader").read)
    report("kill.acked", len(load.acked))
    report("kill.lost", len(lost))
    assert took <= t, f"failover after kill -9 took {took:.2f}s > T = {t}s"
    if ctl.mode == "sync":
        assert not lost, f"sync mode lost acknowledged writes after kill -9: {sorted(lost)[:5]}"
    else:
        late = {k: t_kill - at for k, (_, at, _) in lost.items() if t_kill - at > ctl.loss_window}
        assert not late, f"async mode lost writes older than L: {late}"

    # 2. restart of the old primary: it rejoins as a replica and catches up
    t0 = ctl.now()
    ctl.restart(old)
    assert wait_role(ctl, old, "warm", SETUP_T * t), f"{old} did not rejoin as warm"
    report("restart.rejoin_s", round(ctl.now() - t0, 3))
    load.run(10)
    new = ctl.hot()
    assert new == other(ctl, old), f"after the restart, discovery names {new}"

    # 3. SIGSTOP of the new primary past T, SIGCONT, stale writes to it
    # Spans so that a fail is true: the loss window from the pause call's
    # START (a lost write looks no older than it is), the failover from its END.
    t_pause_start = ctl.now()
    ctl.pause(new)
    t_pause = ctl.now()
    t_ack = load.until_ack(SETUP_T * t)
    assert t_ack is not None, f"no failover within {SETUP_T} x T after SIGSTOP of {new}"
    report("pause.failover_s", round(t_ack - t_pause, 3))
    ctl.resume(new)
    stale = stale_writes(ctl, new, load, 20)
    assert wait_role(ctl, new, "warm", SETUP_T * t), f"{new} did not rejoin after SIGCONT"
    load.run(10)
    reader = pair.client("reader2").read
    lost_stale, lost_all = stale.lost(reader), load.lost(reader)
    lost_pause = {k: v for k, v in lost_all.items() if k not in lost}
    report("pause.stale_acked", len(stale.acked))
    report("pause.stale_lost", len(lost_stale))
    report("pause.lost", len(lost_pause))
    assert not lost_stale, f"split brain: {len(lost_stale)} stale writes acknowledged and lost"
    if ctl.mode == "sync":
        assert not lost_pause, f"sync mode lost writes across the pause: {sorted(lost_pause)[:5]}"
    else:
        # Only writes acknowledged within L before the pause may be lost.
        late = {
            k: t_pause_start - at
            for k, (_, at, _) in lost_pause.items()
            if not t_pause_start - ctl.loss_window <= at <= t_pause
        }
        assert not late, f"async mode lost writes older than L across the pause: {late}"
    assert try_write(pair.client("last").write, "last", "1"), "the pair takes no write at the end"


#: Seconds the request is delayed in the "client gave up, server did it" case:
#: past the client's socket timeout (NODE_TIMEOUT + WAIT_MS = 1.5 s).
LATE_REQUEST = 2.0


@clause("HW-13")
def test_unacknowledged_writes_through_a_fault_proxy_end_the_same_on_both_nodes(
    pair: Subject, record_property: Callable[[str, Any], None]
) -> None:
    """Forced schedules on the write path, then probes of what each write left.

    A client reaches the primary through a fault proxy (the reference's own
    commit over a connection to the proxy):

    1. reply held, then the connection cut: the server did the write (and in
       sync mode the WAIT), the client heard nothing and got an error;
    2. request delayed past the client's timeout: the client gave up first.
       (Measured: the write never reaches the server, because the proxy drops
       a delayed request whose client closed its side; the probes hold either
       way.)

    Neither is acknowledged. Each is followed by probes: the primary is
    unchanged and says it is hot, the pair takes a new write, and the key
    reads the same on both nodes (within 3 T): the write happened on both or
    on neither, never on one.
    """
    from distconform.faultproxy import FaultProxy
    from distconform.reference.hotwarm.redis import _connect

    c = pair.client("a")
    raw = c.control()
    ctl = Guarded(raw, f"{pair.name}.control", 60.0)
    hot = ctl.hot()
    warm = other(ctl, hot)
    proxy = FaultProxy(("127.0.0.1", raw._servers[hot].port)).start()
    try:
        conn = _connect(proxy.address[1])
        assert raw.commit(conn, "pre", "1") is True, "a write through the proxy is acknowledged"
        outcomes = {}
        proxy.hold("reply")
        outcomes["held"] = _attempt(raw, conn, "held")
        proxy.cut()
        proxy.reset()
        conn = _connect(proxy.address[1])
        proxy.delay(LATE_REQUEST, "request")
        outcomes["late"] = _attempt(raw, conn, "late")
        # Let the delayed request reach the server after the client gave up.
        ctl.sleep(LATE_REQUEST)
        proxy.reset()
        proxy.cut()
    finally:
        proxy.stop()
    for key, what in outcomes.items():
        record_property(f"proxy.{key}", what)
        print(f"hotwarm fault [{pair.name}] {key}: {what}")
        assert what != "acknowledged", f"{key}: a write with a held/late exchange was acknowledged"
    # Probes: the same primary, hot by its own account, taking writes.
    now = (ctl.hot(), ctl.role(hot))
    assert now == (hot, "hot"), f"after the proxy faults, discovery and role of {hot}: {now}"
    assert try_write(pair.client("b").write, "after", "1"), "no write acknowledged after the faults"
    end = ctl.now() + SETUP_T * ctl.detection_bound
    split = _split(ctl, hot, warm, outcomes)
    while split and ctl.now() <= end:
        ctl.sleep(0.1)
        split = _split(ctl, hot, warm, outcomes)
    applied = {k: ctl.read_direct(hot, k) for k in outcomes}
    record_property("proxy.applied", applied)
    print(f"hotwarm fault [{pair.name}] applied on both nodes: {applied}")
    assert not split, f"unacknowledged writes differ between {hot} and {warm}: {split}"


def _attempt(raw: Any, conn: Any, key: str) -> str:
    try:
        return "acknowledged" if raw.commit(conn, key, "x") is True else "refused"
    except Exception as exc:
        return f"raised {type(exc).__name__}"


def _split(ctl: Any, hot: str, warm: str, keys: Any) -> dict[str, tuple[Any, Any]]:
    out = {}
    for k in keys:
        on_hot, on_warm = ctl.read_direct(hot, k), ctl.read_direct(warm, k)
        if on_hot != on_warm:
            out[k] = (on_hot, on_warm)
    return out

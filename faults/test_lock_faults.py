"""Fault tests for the server-backed lock references: spec/lock.md, "Fault model".

Each test runs the Redis and the MySQL reference on a private server of its own
(faults/conftest.py), then SIGKILLs, SIGSTOPs or restarts the server or a
holder process. Time limits: TOLERANCE is the spec's (1 s); GRACE only bounds
waits that set up a state and is not held against the implementation.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from distconform import mechanisms
from distconform.adapters import resolve
from distconform.api import Context, new_namespace
from distconform.backends import SERVER_TIMEOUT, redis_client
from distconform.conformance.test_lock import GRACE, TOLERANCE, FencedResource, poll_acquire
from distconform.errors import CallTimeout
from distconform.guard import DEFAULT_CALL_TIMEOUT
from distconform.plugin import Subject
from distconform.workers import spawn

pytestmark = pytest.mark.faults
clause = pytest.mark.clause

REFERENCES = ("redis", "mysql")
HOLD = "distconform.conformance.lock_roles:hold"


@dataclass
class Served:
    """A reference lock on a private server the test may break."""

    reference: str
    server: Any
    subject: Subject

    def restart(self) -> None:
        """SIGKILL the server, start it again on the same data, wait until it answers."""
        self.server.restart()
        wait_until_answers(self.reference, self.server.url)


def make_subject(reference: str, url: str) -> Subject:
    mech = mechanisms.get("lock")
    adapter = resolve(mech, reference)
    key = "redis_url" if reference == "redis" else "mysql_url"
    ctx = Context(namespace=new_namespace(), **{key: url})
    return Subject(adapter, adapter.build(ctx), ctx, mech, DEFAULT_CALL_TIMEOUT)


def wait_until_answers(reference: str, url: str, limit: float = 30.0) -> None:
    """Redis opens its port before it has loaded the AOF; wait out ``LOADING``."""
    if reference != "redis":
        return  # PrivateMariaDB.start() already waits for a query to succeed
    deadline = time.monotonic() + limit
    r = redis_client(url)
    try:
        while True:
            try:
                r.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        r.close()


@pytest.fixture(params=REFERENCES)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """Each reference on a durable private server: fsync-always Redis, or MariaDB."""
    fixture = "durable_redis" if request.param == "redis" else "private_mariadb"
    server = request.getfixturevalue(fixture)
    subject = make_subject(request.param, server.url)
    try:
        yield Served(request.param, server, subject)
    finally:
        subject.close()


def burn_tokens(client: Any, name: str, n: int) -> int:
    """Acquire and release ``name`` ``n`` times; the last token drawn."""
    token = 0
    for _ in range(n):
        h = client.acquire(name, 30.0, 0)
        assert h is not None, "acquire of a free lock failed"
        token = client.token(h)
        assert client.release(h) is True, "the holder's release returned something but True"
    return token


# ------------------------------------------------------------- server restarts


@clause("LOCK-1", "LOCK-12")
def test_grant_and_counter_survive_a_durable_server_crash(served: Served) -> None:
    """A grant made before a SIGKILL of the server holds after its restart, and runs out on time."""
    ttl = 3.0  # long against a restart (Redis ~0.1 s, MariaDB ~0.5 s)
    a = served.subject.client("a")
    burn_tokens(a, "res", 3)
    t0 = time.monotonic()
    ha = a.acquire("res", ttl, 0)
    assert ha is not None, "acquire of a free lock failed"
    token_a = a.token(ha)

    served.restart()
    t_up = time.monotonic()
    assert t_up < t0 + ttl - 1.0, f"setup: the restart took {t_up - t0:.2f} s, too long to tell"

    b = served.subject.client("b")
    hb, t_b = poll_acquire(b, "res", 30.0, t0 + ttl + TOLERANCE + GRACE)
    assert hb is not None, (
        f"repro: A acquires res (ttl {ttl} s); the {served.reference} server is killed -9 and "
        f"restarted; res is still held {t_b - t0:.2f} s after A's acquire began"
    )
    assert t_b >= t0 + ttl, (
        f"repro: A acquires res (ttl {ttl} s); the {served.reference} server is killed -9 and "
        f"restarted; B acquires res {t_b - t0:.3f} s after A's acquire began: the restart "
        "lost A's grant"
    )
    # "Expiry uses absolute times": the restart neither restarts nor stretches the TTL.
    assert t_b <= t0 + ttl + TOLERANCE, (
        f"A's {ttl} s grant ran out {t_b - t0:.3f} s after its acquire began, after a restart"
    )
    assert b.token(hb) > token_a, (
        f"token {b.token(hb)} after the restart does not exceed token {token_a} before it"
    )
    # A's client sat idle through the crash: its next call works without an
    # error, and its stale handle frees nothing (spec/lock.md, "Server restarts").
    assert a.release(ha) is False, "a release through a handle that ran out returned True"
    assert b.release(hb) is True, "B's grant was gone after A's stale release"


@clause("LOCK-1", "LOCK-12")
def test_volatile_redis_forgets_grants_and_counter_on_restart(volatile_redis: Any) -> None:
    """The documented limit: without persistence a restart frees every lock and restarts tokens.

    spec/lock.md, "Server restarts": "Without that, a restart forgets every
    grant (LOCK-1 can be broken) and restarts the fencing counter (LOCK-12 can
    be broken)." If this test fails, the spec's paragraph is out of date.
    """
    subject = make_subject("redis", volatile_redis.url)
    try:
        a = subject.client("a")
        burn_tokens(a, "res", 3)
        t0 = time.monotonic()
        ha = a.acquire("res", 30.0, 0)
        assert ha is not None, "acquire of a free lock failed"
        assert a.token(ha) == 4, f"tokens of a new lock: expected 1..4, last is {a.token(ha)}"

        volatile_redis.restart()
        wait_until_answers("redis", volatile_redis.url)

        b = subject.client("b")
        hb = b.acquire("res", 30.0, 0)
        assert time.monotonic() < t0 + 30.0, "setup: the restart outlasted A's grant"
        assert hb is not None, "the restarted Redis without persistence kept A's grant"
        assert b.token(hb) == 1, (
            f"the restarted Redis without persistence drew token {b.token(hb)}: expected the "
            "counter to restart at 1"
        )
    finally:
        subject.close()


# ------------------------------------------------------------ holder faults


@clause("LOCK-5", "LOCK-7")
def test_killed_holder_blocks_for_its_ttl_only(served: Served) -> None:
    """A holder process SIGKILLed without releasing blocks others for its TTL, no more, no less."""
    ttl = 1.0
    w = spawn(served.subject, HOLD, "res", ttl, False)
    try:
        _, ok, call_start, _ = w.recv(60, "grant")
        assert ok, "setup: the holder could not acquire a free lock"
        assert w.is_process, "the reference declares 'distributed': its holder must be a process"
        w.signal(signal.SIGKILL)
        w.join(10)
    finally:
        w.kill()
    b = served.subject.client("b")
    hb, t_b = poll_acquire(b, "res", 30.0, call_start + ttl + TOLERANCE + GRACE)
    assert hb is not None and t_b <= call_start + ttl + TOLERANCE, (
        f"repro: a holder acquires res (ttl {ttl} s) and is killed -9; res is still held "
        f"{t_b - call_start:.2f} s after its acquire began"
    )
    assert t_b >= call_start + ttl, (
        f"repro: a holder acquires res (ttl {ttl} s) and is killed -9; B acquires res "
        f"{t_b - call_start:.3f} s after the holder's acquire began: its connection's end "
        "freed the grant early"
    )


@pytest.mark.parametrize("restart", [False, True], ids=["server-up", "server-restarted"])
@clause("LOCK-12", "LOCK-13")
def test_paused_holder_is_fenced_off(served: Served, restart: bool) -> None:
    """A holder SIGSTOPped past its TTL cannot overwrite the next holder's write once resumed.

    With ``server-restarted`` the server is also killed -9 and restarted while
    the holder is stopped: the fencing counter must carry across the crash.
    """
    ttl = 1.0
    store = FencedResource()
    w = spawn(served.subject, HOLD, "res", ttl, True)
    try:
        _, ok, call_start, token_a = w.recv(60, "grant")
        assert ok, "setup: the holder could not acquire a free lock"
        w.signal(signal.SIGSTOP)  # stopped between acquiring and writing
        if restart:
            served.restart()
        b = served.subject.client("b")
        hb, _ = poll_acquire(b, "res", 30.0, call_start + ttl + TOLERANCE + GRACE)
        assert hb is not None, "setup: B could not acquire after A's grant ran out (see LOCK-7)"
        token_b = b.token(hb)
        assert token_b > token_a, f"B's token {token_b} does not exceed paused A's {token_a}"
        assert store.write(token_b, "B"), "the resource rejected the current holder's write"
        w.signal(signal.SIGCONT)
        w.send(("token",))
        _, token_a = w.recv(30, "token")
        store.write(token_a, "A")
        w.send(("exit",))
        w.join(10)
    finally:
        w.kill()
    assert store.value == "B", (
        f"repro: A acquires res (ttl {ttl} s, token {token_a}) and is SIGSTOPped"
        f"{'; the server restarts' if restart else ''}; B acquires res (token {token_b}) and "
        "writes; A resumes and writes with its token: the resource accepted A's stale write"
    )


# -------------------------------------------------------------- server paused

#: How late past its socket timeout a call to a silent server may return:
#: the spec's tolerance, twice, for scheduling on a loaded 2-core machine and
#: the one round trip that was already in flight.
SILENT_MARGIN = 2 * TOLERANCE


@pytest.mark.parametrize("timeout", [0.0, 1.0], ids=["non-blocking", "blocking"])
@clause("LOCK-7")
def test_acquire_against_a_paused_server_fails_in_bounded_time(
    served: Served, timeout: float
) -> None:
    """With the server SIGSTOPped, acquire fails or answers within its socket timeout.

    spec/lock.md, "Fault model": clauses that bound a call's duration assume a
    server that answers; while it does not, a reference client's call raises
    an error after its socket timeout. The outcome of that call is unknown: it
    may be granted when the server resumes, and then blocks others for no
    longer than its TTL (like a dead holder, LOCK-7).
    """
    ttl = 1.0
    a = served.subject.client("a")
    burn_tokens(a, "other", 1)  # connect, create the table, load the scripts
    served.server.pause()
    try:
        t0 = time.monotonic()
        outcome: object
        try:
            outcome = a.acquire("res", ttl, timeout)
        except CallTimeout:
            raise  # the guard gave up on it: a hang, reported as such
        except Exception as exc:  # the server did not answer: an error is allowed
            outcome = exc
        elapsed = time.monotonic() - t0
    finally:
        served.server.resume()
    t_resume = time.monotonic()
    bound = timeout + SERVER_TIMEOUT + SILENT_MARGIN
    assert elapsed <= bound, (
        f"acquire(timeout={timeout}) against a paused {served.reference} server returned "
        f"after {elapsed:.2f} s ({outcome!r}); expected within {bound:.1f} s"
    )
    assert elapsed >= timeout or isinstance(outcome, Exception), (
        f"acquire(timeout={timeout}) returned {outcome!r} after {elapsed:.2f} s"
    )
    # The same client recovers, and the lost call's grant (if the server ran it
    # on resuming) lasts no longer than its TTL from then.
    h, t_h = poll_acquire(a, "res", 30.0, t_resume + ttl + TOLERANCE + GRACE)
    assert h is not None and t_h <= t_resume + ttl + TOLERANCE, (
        f"after the {served.reference} server resumed, res stayed held "
        f"{t_h - t_resume:.2f} s: longer than the lost acquire's {ttl} s TTL"
    )


# --------------------------------------------------------------- renewing grants


@clause("LOCK-18", "LOCK-20")
def test_renewing_grant_survives_a_server_restart(served: Served) -> None:
    """A renewing grant outlives a kill -9 and restart of its server shorter than its TTL.

    The restart (Redis ~0.1 s) makes one or two renewals fail with an error;
    the holder is alive and the server is back within the TTL, so the grant
    must still hold three TTLs later (LOCK-18), and the holder must still say
    it owns it (LOCK-20's converse: owned() is False only once the grant is gone).
    """
    if not served.subject.has("auto-renew"):
        pytest.skip(f"not applicable: the {served.reference} reference has no 'auto-renew'")
    ttl = 2.0  # long against a restart, so that the server is back within it
    a = served.subject.client("a")
    burn_tokens(a, "other", 1)  # connect and load the scripts first
    t0 = time.monotonic()
    ha = a.acquire_renewing("res", ttl, 0)
    assert ha is not None, "acquire_renewing of a free lock failed"
    time.sleep(ttl / 2)
    served.restart()
    assert time.monotonic() < t0 + ttl + ttl / 2, "setup: the restart took longer than the TTL"
    b = served.subject.client("b")
    hb, t_b = poll_acquire(b, "res", 30.0, t0 + 3 * ttl)
    assert hb is None, (
        f"repro: A acquires res renewing (ttl {ttl} s); the {served.reference} server is killed "
        f"-9 and restarted; B acquires res {t_b - t0:.2f} s after A's acquire began: renewal "
        "gave up on the restart while A lived"
    )
    assert a.owned(ha) is True, "after the restart, the living holder's owned() is not True"
    assert a.release(ha) is True, "the holder's release after the restart did not return True"

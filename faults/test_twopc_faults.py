"""Fault tests for two-phase commit over MariaDB XA: spec/twopc.md, "Fault model".

Two private ``mariadbd`` servers (faults/conftest.py) hold the participants;
the decision log is a :class:`FileJournal` (fsync per record) in the test's
temporary folder: the coordinator's own disk. The tests SIGKILL a server that
holds a prepared XA branch and restart it, and run the bank test: concurrent
transfers between accounts on the two servers under random coordinator
crashes and one SIGKILL of each server; the total must be conserved and no
transfer half applied.
"""

from __future__ import annotations

import random
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from distconform.backends import PrivateMariaDB, mysql_connect
from distconform.conformance.twopc_hooks import Crash, Hooked, Trace
from distconform.reference.twopc.coordinator import Coordinator, FileJournal
from distconform.reference.twopc.mysql import XAParticipant, rollback_namespace

pytestmark = pytest.mark.faults
clause = pytest.mark.clause

ACCOUNTS, START = 20, 100
#: Bank test: rounds of concurrent transfers, a recovery after each.
ROUNDS, ROUND_SECONDS, WORKERS = 3, 3.0, 4
#: Chance that a transfer's coordinator crashes at a random step.
CRASH_RATE = 0.15


@pytest.fixture
def two_servers() -> Iterator[tuple[PrivateMariaDB, PrivateMariaDB]]:
    """Two private MariaDB servers, each its own process and data directory."""
    if not PrivateMariaDB.available():
        pytest.skip("fault tests need mariadbd and mariadb-install-db on PATH")
    servers: list[PrivateMariaDB] = []
    try:
        for _ in range(2):
            servers.append(PrivateMariaDB())
            servers[-1].start()
        yield servers[0], servers[1]
    finally:
        for s in servers:
            s.stop()


def namespace() -> str:
    return f"dc_{uuid.uuid4().hex[:12]}_"


# --------------------------------------------------------- a prepared branch


@pytest.mark.parametrize(
    ("point", "plans", "committed"),
    [
        ("after-the-decision", {0: {("commit", "before"): "crash-coordinator"}}, True),
        ("after-some-prepares", {1: {("prepare", "before"): "crash-coordinator"}}, False),
    ],
)
@clause("TWOPC-5", "TWOPC-6")
def test_prepared_branch_survives_kill_9(
    two_servers: tuple[PrivateMariaDB, PrivateMariaDB],
    tmp_path: Path,
    point: str,
    plans: dict[int, dict[tuple[str, str], str]],
    committed: bool,
) -> None:
    """The coordinator dies with a branch prepared on A; A is killed -9 and restarted;
    the branch is in XA RECOVER, invisible to reads, and recovery resolves it."""
    a, b = two_servers
    ns = namespace()
    log = str(tmp_path / "decisions.log")
    trace = Trace()
    pa, pb = XAParticipant(a.url, "bank", ns), XAParticipant(b.url, "bank", ns)
    parts = [
        Hooked(pa, lambda: pa, trace, plans.get(0)),
        Hooked(pb, lambda: pb, trace, plans.get(1)),
    ]
    for p in parts:
        p.write("t1", "k", 1)
    with pytest.raises(Crash):
        Coordinator(FileJournal(log)).run("t1", parts)
    for p in parts:
        p.plan = {}

    a.kill()  # SIGKILL with the branch prepared, its connection still open
    a.start()
    pa2 = XAParticipant(a.url, "bank", ns)
    assert pa2.in_doubt() == ["t1"], f"XA RECOVER on A after kill -9 shows {pa2.in_doubt()}"
    assert pa2.read("k") == 0, "a prepared branch's write is visible after the restart"

    out = Coordinator(FileJournal(log)).recover([pa2, pb])
    assert out == {"t1": committed}, f"recovery after a crash {point} decided {out}"
    want = 1 if committed else 0
    assert [pa2.read("k"), pb.read("k")] == [want, want], (
        f"after recovery from a crash {point}: A reads {pa2.read('k')}, B {pb.read('k')}"
    )
    assert pa2.in_doubt() == [] and pb.in_doubt() == [], "a branch is still in doubt"


# ------------------------------------------- a coordinator process killed -9

#: The coordinator's process: prepares t1 on A and B, then stalls at its decision
#: log write, before it ("before-log": nothing durable yet) or after it
#: ("after-log": the commit is on disk, no participant has heard it), and prints
#: a line so that the test kills it -9 exactly there.
_CHILD = """
import sys, time
from distconform.reference.twopc.coordinator import Coordinator, FileJournal
from distconform.reference.twopc.mysql import XAParticipant
url_a, url_b, ns, log, where = sys.argv[1:]
parts = [XAParticipant(url_a, "bank", ns), XAParticipant(url_b, "bank", ns)]
for p in parts:
    p.write("t1", "k", 1)
class Stalling(FileJournal):
    def record(self, txid, state):
        if where == "before-log":
            print("STALLED", flush=True)
            time.sleep(120)
        super().record(txid, state)
        if where == "after-log":
            print("STALLED", flush=True)
            time.sleep(120)
Coordinator(Stalling(log)).run("t1", parts)
"""


@pytest.mark.parametrize(("where", "committed"), [("before-log", False), ("after-log", True)])
@clause("TWOPC-6", "TWOPC-8")
def test_coordinator_process_killed_at_its_decision(
    two_servers: tuple[PrivateMariaDB, PrivateMariaDB], tmp_path: Path, where: str, committed: bool
) -> None:
    """SIGKILL of the coordinator's process with both branches prepared, just before or just
    after its decision reached the log: recovery in a new process ends t1 as the log says."""
    a, b = two_servers
    ns = namespace()
    log = str(tmp_path / "decisions.log")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, a.url, b.url, ns, log, where],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 60)
        line = child.stdout.readline() if ready and child.stdout else ""
        assert line.strip() == "STALLED", (
            f"the coordinator process did not reach its decision in 60 s: {line!r}"
        )
        child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(30)
    pa, pb = XAParticipant(a.url, "bank", ns), XAParticipant(b.url, "bank", ns)
    try:
        # The dead process's connections are gone; its prepared branches are not.
        assert pa.in_doubt() == ["t1"] and pb.in_doubt() == ["t1"], (
            f"after kill -9 {where}: XA RECOVER shows A {pa.in_doubt()}, B {pb.in_doubt()}"
        )
        out = Coordinator(FileJournal(log)).recover([pa, pb])
        assert out == {"t1": committed}, f"recovery after kill -9 {where} decided {out}"
        want = int(committed)
        assert [pa.read("k"), pb.read("k")] == [want, want], (
            f"after kill -9 {where} and recovery: A reads {pa.read('k')}, B {pb.read('k')}"
        )
        assert pa.in_doubt() == [] and pb.in_doubt() == [], "a branch is still in doubt"
    finally:
        for s in (a, b):
            rollback_namespace(s.url, ns)


# ------------------------------------------------------------------- bank test


@dataclass
class Tally:
    committed: int = 0
    aborted: int = 0
    crashed: int = 0
    in_doubt_after_error: int = 0
    recovered_commit: int = 0
    recovered_abort: int = 0
    kills: int = 0
    mutex: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str) -> None:
        with self.mutex:
            setattr(self, what, getattr(self, what) + 1)


STEPS = [(op, when) for op in ("prepare", "commit") for when in ("before", "after")]


def transfer(
    journal: FileJournal, pa: XAParticipant, pb: XAParticipant, rng: random.Random, tally: Tally
) -> None:
    """One transfer between an account on A and one on B, in either direction."""
    txid = uuid.uuid4().hex[:16]
    amount = rng.randint(1, 10)
    src, dst = (pa, pb) if rng.random() < 0.5 else (pb, pa)
    trace = Trace()
    plans: list[dict[tuple[str, str], str]] = [{}, {}]
    if rng.random() < CRASH_RATE:
        plans[rng.randrange(2)][rng.choice(STEPS)] = "crash-coordinator"
    parts = [Hooked(p, lambda p=p: p, trace, plan) for p, plan in zip((pa, pb), plans, strict=True)]
    try:
        src.write(txid, f"a{rng.randrange(ACCOUNTS)}", -amount)
        dst.write(txid, f"a{rng.randrange(ACCOUNTS)}", amount)
        for p in (pa, pb):
            p.write(txid, f"t:{txid}", 1)  # the ledger: both sides, or neither
    except Exception:
        for p in (pa, pb):
            try:
                p.abort(txid)
            except Exception:
                p.drop(txid)  # the server is down: its restart rolls the branch back
        tally.add("aborted")
        time.sleep(0.02)
        return
    try:
        ok = Coordinator(journal, retries=2).run(txid, parts)
        tally.add("committed" if ok else "aborted")
    except Crash:
        # The coordinator's process died: so did its connections.
        pa.drop(txid)
        pb.drop(txid)
        tally.add("crashed")
    except Exception:
        tally.add("in_doubt_after_error")  # phase two incomplete: recovery finishes it


def total(url: str, ns: str) -> tuple[int, set[str]]:
    conn = mysql_connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT k, v FROM `{ns}bank`")
            rows = cur.fetchall()
    finally:
        conn.close()
    money = sum(int(v) for k, v in rows if k.startswith("a"))
    ledger = {k for k, v in rows if k.startswith("t:")}
    return money, ledger


@clause("TWOPC-1", "TWOPC-6", "TWOPC-8")
def test_bank_transfers_under_crashes(
    two_servers: tuple[PrivateMariaDB, PrivateMariaDB], tmp_path: Path, capsys: Any
) -> None:
    """Concurrent transfers between two servers, random coordinator crashes, kill -9 of each
    server once: money is conserved, no transfer is half applied, nothing stays in doubt."""
    servers = two_servers
    ns = namespace()
    journal = FileJournal(str(tmp_path / "decisions.log"))
    # Lock waits behind a crashed transfer's prepared branch give up after 1 s.
    pa = XAParticipant(servers[0].url, "bank", ns, lock_wait_timeout=1)
    pb = XAParticipant(servers[1].url, "bank", ns, lock_wait_timeout=1)
    for s in servers:
        conn = mysql_connect(s.url)
        with conn.cursor() as cur:
            for i in range(ACCOUNTS):
                cur.execute(f"INSERT INTO `{ns}bank` (k, v) VALUES (%s, %s)", (f"a{i}", START))
        conn.close()
    tally = Tally()
    rng = random.Random(20261126)
    started = time.monotonic()

    for rnd in range(ROUNDS):
        stop = time.monotonic() + ROUND_SECONDS
        seeds = [rng.randrange(2**32) for _ in range(WORKERS)]

        def work(seed: int, stop: float = stop) -> None:
            r = random.Random(seed)
            while time.monotonic() < stop:
                transfer(journal, pa, pb, r, tally)

        threads = [threading.Thread(target=work, args=(sd,)) for sd in seeds]
        for th in threads:
            th.start()
        if rnd > 0:
            # Round 1 kills A, round 2 kills B, mid-round, with transfers in flight.
            time.sleep(ROUND_SECONDS / 3)
            victim = servers[(rnd - 1) % 2]
            victim.kill()
            tally.kills += 1
            time.sleep(0.3)
            victim.start()
        for th in threads:
            th.join(ROUND_SECONDS + 60)
        assert not any(th.is_alive() for th in threads), "a transfer hung for over 60 s"
        # No transfer is in flight now, so presumed abort cannot hit a live one.
        out = Coordinator(journal).recover([pa, pb])
        tally.recovered_commit += sum(out.values())
        tally.recovered_abort += sum(not c for c in out.values())

    money_a, ledger_a = total(servers[0].url, ns)
    money_b, ledger_b = total(servers[1].url, ns)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\nbank: {tally.committed} committed, {tally.aborted} aborted, "
            f"{tally.crashed} coordinator crashes, {tally.in_doubt_after_error} left to "
            f"recovery by errors; recovery committed {tally.recovered_commit} and aborted "
            f"{tally.recovered_abort}; {tally.kills} kill -9; {len(ledger_a)} transfers "
            f"applied; total {money_a + money_b} (start {2 * ACCOUNTS * START}); {elapsed:.1f} s"
        )
    assert money_a + money_b == 2 * ACCOUNTS * START, (
        f"money not conserved: A {money_a} + B {money_b} != {2 * ACCOUNTS * START}"
    )
    half = sorted(ledger_a ^ ledger_b)
    assert not half, f"{len(half)} transfers applied on one side only, e.g. {half[:5]}"
    assert pa.in_doubt() == [] and pb.in_doubt() == [], "branches left in doubt after recovery"
    assert len(ledger_a) == tally.committed + tally.recovered_commit, (
        f"{len(ledger_a)} transfers applied, but {tally.committed} committed and "
        f"{tally.recovered_commit} recovered as committed"
    )
    expected_floor = 20  # a few hundred on this machine; 20 only says the test did something
    assert tally.committed >= expected_floor, f"only {tally.committed} transfers committed"
    for s in servers:
        rollback_namespace(s.url, ns)

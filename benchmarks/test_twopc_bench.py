"""Two-phase commit throughput: transfers per second over two MariaDB servers.

Group ``twopc-transfer``, on two private ``mariadbd`` servers started once for
the module:

- ``xa-2pc``: the reference coordinator (decision log: an fsynced file) over
  two XA participants; one transfer adds -amount to an account on A and
  +amount to one on B and writes a ledger row on each, as XA branches, then
  prepares both, logs the commit, commits both and logs the end.
- ``floor``: the same writes as one local transaction per server (``BEGIN``,
  two statements, ``COMMIT``), no XA and no decision log: what the transfer
  costs without atomicity across the two servers.

One iteration is a batch of ``BATCH`` transfers, one after another on one
thread. ``benchmarks/summary.py`` prints transfers/s and the ratio to the
floor. About fifteen seconds:
``pytest benchmarks/test_twopc_bench.py --benchmark-json=...``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distconform.backends import PrivateMariaDB, mysql_connect
from distconform.reference.twopc.coordinator import Coordinator, FileJournal
from distconform.reference.twopc.mysql import XAParticipant

BATCH, ROUNDS, ACCOUNTS = 20, 30, 20
_seq = itertools.count()


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivateMariaDB, PrivateMariaDB]]:
    if not PrivateMariaDB.available():
        pytest.skip("the twopc benchmark needs mariadbd and mariadb-install-db on PATH")
    started: list[PrivateMariaDB] = []
    try:
        for _ in range(2):
            started.append(PrivateMariaDB())
            started[-1].start()
        yield started[0], started[1]
    finally:
        for s in started:
            s.stop()


def _record(benchmark: Any, label: str) -> None:
    per_s = round(BATCH / benchmark.stats.stats.median)
    benchmark.extra_info.update(
        implementation=label, cycles_per_iteration=BATCH, ops_per_s=per_s, cycles_per_s=per_s
    )


@pytest.mark.benchmark(group="twopc-transfer")
def test_xa_two_phase_commit(
    benchmark: Any, servers: tuple[PrivateMariaDB, PrivateMariaDB], tmp_path: Path
) -> None:
    """The reference coordinator with XA participants on both servers."""
    ns = f"dc_{uuid.uuid4().hex[:12]}_"
    pa, pb = XAParticipant(servers[0].url, "bank", ns), XAParticipant(servers[1].url, "bank", ns)
    coordinator = Coordinator(FileJournal(str(tmp_path / "decisions.log")))

    def batch() -> None:
        for _ in range(BATCH):
            n = next(_seq)
            txid = f"x{n}"
            pa.write(txid, f"a{n % ACCOUNTS}", -1)
            pb.write(txid, f"a{(n * 7) % ACCOUNTS}", 1)
            pa.write(txid, f"t:{txid}", 1)
            pb.write(txid, f"t:{txid}", 1)
            assert coordinator.run(txid, [pa, pb]) is True

    try:
        benchmark.pedantic(batch, rounds=ROUNDS, warmup_rounds=1)
        _record(benchmark, "xa-2pc")
    finally:
        pa.close()
        pb.close()


# Same statements as the XA participant's, in a local transaction. Args: key, delta.
_ADD = "INSERT INTO `{t}` (k, v) VALUES (%s, %s) ON DUPLICATE KEY UPDATE v = v + VALUES(v)"


@pytest.mark.benchmark(group="twopc-transfer")
def test_floor_local_transactions(
    benchmark: Any, servers: tuple[PrivateMariaDB, PrivateMariaDB]
) -> None:
    """The same writes as one local transaction per server: no XA, no log."""
    table = f"dc_{uuid.uuid4().hex[:12]}_bank"
    conns = [mysql_connect(s.url, autocommit=False) for s in servers]
    for c in conns:
        with c.cursor() as cur:
            cur.execute(f"CREATE TABLE `{table}` (k VARCHAR(128) PRIMARY KEY, v BIGINT NOT NULL)")
        c.commit()
    add = _ADD.format(t=table)

    def batch() -> None:
        for _ in range(BATCH):
            n = next(_seq)
            for c, key, delta in (
                (conns[0], f"a{n % ACCOUNTS}", -1),
                (conns[1], f"a{(n * 7) % ACCOUNTS}", 1),
            ):
                with c.cursor() as cur:
                    cur.execute("BEGIN")
                    cur.execute(add, (key, delta))
                    cur.execute(add, (f"t:f{n}", 1))
                    cur.execute("COMMIT")

    try:
        benchmark.pedantic(batch, rounds=ROUNDS, warmup_rounds=1)
        _record(benchmark, "floor")
    finally:
        for c in conns:
            c.close()

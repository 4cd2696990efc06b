"""MariaDB/MySQL XA participants, and the ``twopc/mysql`` reference.

An :class:`XAParticipant` runs each transaction as one XA branch on a
connection of its own: ``XA START``, the writes, then ``XA END`` and ``XA
PREPARE`` as its vote. The xid is (namespace + txid, participant name), so
that ``XA RECOVER`` is filtered to our own branches and two participants on
one server never share an xid. A prepared branch survives its connection and
the server's crash (InnoDB writes it to the redo log at prepare); once its
connection is gone, any connection may ``XA COMMIT`` or ``XA ROLLBACK`` it.

The decision log (:class:`MySQLJournal`) is an InnoDB table on the
coordinator's own database, not on a participant, so that it is there while a
participant is down; an autocommitted insert is on disk when it returns
(``innodb_flush_log_at_trx_commit=1``, the default).
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import mysql_connect
from distconform.reference.twopc.coordinator import Coordinator
from distconform.reference.twopc.memory import PREPARE_TIMEOUT

__all__ = ["MySQLJournal", "MySQLTwoPC", "XAParticipant", "factory", "rollback_namespace"]

#: MariaDB's "unknown XID": the branch already ended (or never prepared).
XAER_NOTA = 1397
#: Idle connections a participant keeps for its next branches.
_IDLE_MAX = 8
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")

# Table per participant. Columns: k the key, v its committed value.
_CREATE = "CREATE TABLE IF NOT EXISTS `{t}` (k VARCHAR(128) PRIMARY KEY, v BIGINT NOT NULL)"
# Adds a delta inside the branch. Args: key, delta. Locks the row until the branch ends.
_ADD = "INSERT INTO `{t}` (k, v) VALUES (%s, %s) ON DUPLICATE KEY UPDATE v = v + VALUES(v)"


class ProtocolError(RuntimeError):
    """A call the protocol forbids, such as commit before prepare."""


def _recover(conn: Any, namespace: str) -> list[tuple[str, str]]:
    """(gtrid, bqual) of every prepared branch whose gtrid starts with ``namespace``."""
    with conn.cursor() as cur:
        cur.execute("XA RECOVER")
        rows = cur.fetchall()
    out = []
    for _fmt, glen, blen, data in rows:
        raw = data if isinstance(data, bytes) else str(data).encode()
        g, b = raw[:glen].decode(), raw[glen : glen + blen].decode()
        if g.startswith(namespace):
            out.append((g, b))
    return out


def rollback_namespace(url: str, namespace: str) -> None:
    """Roll back every prepared branch of ``namespace``: they would block dropping its tables."""
    conn = mysql_connect(url)
    try:
        for g, b in _recover(conn, namespace):
            with contextlib.suppress(Exception), conn.cursor() as cur:
                cur.execute("XA ROLLBACK %s, %s", (g, b))
    finally:
        conn.close()


class XAParticipant:
    """One participant: table ``<namespace><name>`` on ``url``, one XA branch per transaction."""

    def __init__(
        self, url: str, name: str, namespace: str, lock_wait_timeout: int | None = None
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"participant name {name!r}: use 1-31 of a-z, 0-9, _")
        self.name, self.url, self.namespace = name, url, namespace
        self.table = f"{namespace}{name}"
        self.lock_wait_timeout = lock_wait_timeout
        self._branches: dict[str, tuple[Any, str]] = {}  # txid -> (connection, state)
        self._idle: list[Any] = []  # connections whose branch ended cleanly, for reuse
        self._mutex = threading.Lock()
        conn = mysql_connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute(_CREATE.format(t=self.table))
        finally:
            conn.close()

    def _xid(self, txid: str) -> tuple[str, str]:
        return (self.namespace + txid, self.name)

    def _connect(self) -> Any:
        with self._mutex:
            if self._idle:
                return self._idle.pop()
        conn = mysql_connect(self.url)
        if self.lock_wait_timeout is not None:
            with conn.cursor() as cur:
                cur.execute("SET SESSION innodb_lock_wait_timeout = %s", (self.lock_wait_timeout,))
        return conn

    def _take(self, txid: str) -> tuple[Any, str] | None:
        with self._mutex:
            return self._branches.pop(txid, None)

    def write(self, txid: str, key: str, delta: int) -> None:
        with self._mutex:
            held = self._branches.get(txid)
        if held is None:
            conn = self._connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("XA START %s, %s", self._xid(txid))
            except Exception:
                with contextlib.suppress(Exception):
                    conn.close()
                raise
            held = (conn, "active")
            with self._mutex:
                self._branches[txid] = held
        if held[1] != "active":
            raise ProtocolError(f"{self.name}: {txid!r} is prepared; it takes no more writes")
        try:
            with held[0].cursor() as cur:
                cur.execute(_ADD.format(t=self.table), (key, delta))
        except Exception:
            # A failed statement (lock wait timeout, deadlock) may have rolled
            # back the branch: drop the connection, which ends it for sure.
            self._take(txid)
            with contextlib.suppress(Exception):
                held[0].close()
            raise

    def prepare(self, txid: str) -> bool:
        held = self._take(txid)
        if held is None:
            return txid in self.in_doubt()  # prepared before a restart, or nothing: no
        conn, state = held
        if state == "prepared":
            with self._mutex:
                self._branches[txid] = held
            return True
        try:
            with conn.cursor() as cur:
                cur.execute("XA END %s, %s", self._xid(txid))
                cur.execute("XA PREPARE %s, %s", self._xid(txid))
        except Exception:
            # Closing ends an unprepared branch; had PREPARE got through
            # after all, the branch stays in XA RECOVER for recovery.
            with contextlib.suppress(Exception):
                conn.close()
            raise
        with self._mutex:
            self._branches[txid] = (conn, "prepared")
        return True

    def _end(self, txid: str, verb: str) -> None:
        held = self._take(txid)
        if held is not None and held[1] == "active":
            if verb == "COMMIT":
                with self._mutex:
                    self._branches[txid] = held
                raise ProtocolError(f"{self.name}: commit of {txid!r} before it was prepared")
            # Closing the connection rolls back an unprepared branch.
            with contextlib.suppress(Exception):
                held[0].close()
            return
        # The branch's own connection must end it: another one gets XAER_NOTA
        # while the branch is still attached.
        conn = held[0] if held is not None else mysql_connect(self.url)
        try:
            with conn.cursor() as cur:
                cur.execute(f"XA {verb} %s, %s", self._xid(txid))
        except Exception as exc:
            with contextlib.suppress(Exception):
                conn.close()
            if getattr(exc, "args", (None,))[0] != XAER_NOTA:
                raise
            # Unknown xid: the branch already ended, so a repeat is a no-op.
            return
        with self._mutex:
            if held is not None and len(self._idle) < _IDLE_MAX:
                self._idle.append(conn)
                return
        conn.close()

    def commit(self, txid: str) -> None:
        self._end(txid, "COMMIT")

    def abort(self, txid: str) -> None:
        self._end(txid, "ROLLBACK")

    def in_doubt(self) -> list[str]:
        with self._mutex:
            attached = {t for t, (_c, s) in self._branches.items() if s == "prepared"}
        conn = mysql_connect(self.url)
        try:
            found = {
                g[len(self.namespace) :]
                for g, b in _recover(conn, self.namespace)
                if b == self.name
            }
        finally:
            conn.close()
        return sorted(found | attached)

    def read(self, key: str) -> int:
        conn = mysql_connect(self.url)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT v FROM `{self.table}` WHERE k = %s", (key,))
                row = cur.fetchone()
            return int(row[0]) if row else 0
        finally:
            conn.close()

    def drop(self, txid: str) -> None:
        """Drop ``txid``'s connection as if its client died: only a prepared branch stays."""
        held = self._take(txid)
        if held is not None:
            with contextlib.suppress(Exception):
                held[0].close()

    def close(self) -> None:
        """Drop every connection: unprepared branches roll back, prepared ones stay."""
        with self._mutex:
            held, self._branches = list(self._branches.values()), {}
            idle, self._idle = self._idle, []
        for conn in [c for c, _state in held] + idle:
            with contextlib.suppress(Exception):
                conn.close()


class MySQLJournal:
    """The decision log: table ``<namespace>twopc_log``, one autocommitted row per state."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url
        self.table = f"{namespace}twopc_log"
        self._conn: Any = None
        self._mutex = threading.Lock()

    def _cursor_run(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._mutex:
            if self._conn is None:
                self._conn = mysql_connect(self.url)
                with self._conn.cursor() as cur:
                    cur.execute(
                        f"CREATE TABLE IF NOT EXISTS `{self.table}` "
                        "(txid VARCHAR(191) PRIMARY KEY, state VARCHAR(8) NOT NULL)"
                    )
            try:
                with self._conn.cursor() as cur:
                    cur.execute(sql, args)
                    return list(cur.fetchall())
            except Exception:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None  # connect again next time
                raise

    def record(self, txid: str, state: str) -> None:
        # Autocommit: the row is durable when execute returns.
        self._cursor_run(
            f"INSERT INTO `{self.table}` (txid, state) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE state = VALUES(state)",
            (txid, state),
        )

    def states(self) -> dict[str, str]:
        return {t: s for t, s in self._cursor_run(f"SELECT txid, state FROM `{self.table}`")}

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None


class MySQLTwoPC(Coordinator):
    """The reference coordinator over a MySQL decision log, offering XA participants."""

    def __init__(
        self,
        url: str,
        namespace: str,
        log_url: str | None = None,
        prepare_timeout: float | None = PREPARE_TIMEOUT,
    ) -> None:
        self._journal = MySQLJournal(log_url or url, namespace)
        super().__init__(self._journal, prepare_timeout=prepare_timeout)
        self.url, self.namespace = url, namespace

    def participant(self, name: str) -> XAParticipant:
        return XAParticipant(self.url, name, self.namespace)

    def close(self) -> None:
        self._journal.close()


def factory(ctx: Context) -> Implementation:
    url = ctx.mysql_url

    def client() -> MySQLTwoPC:
        if url is None:
            raise RuntimeError("twopc/mysql needs a MySQL URL: pass --mysql-url")
        return MySQLTwoPC(url, ctx.namespace)

    def close() -> None:
        if url is not None:
            rollback_namespace(url, ctx.namespace)

    return Implementation(
        client=client,
        capabilities={"participants", "prepare-timeout", "outcome"},
        needs={"mysql"},
        close=close,
        package="PyMySQL",
        description="reference coordinator, decision log in InnoDB, MariaDB XA participants",
    )

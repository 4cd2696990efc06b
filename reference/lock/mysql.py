"""MySQL/MariaDB lock: a lease table whose rows expire by the server's clock.

Scope: one MySQL or MariaDB server (InnoDB), any number of clients in any
number of processes. Each lock is a row of ``{ns}lock``::

    name        the lock's name (bytes, compared exactly)
    owner       the current grant's random 128-bit owner token (hex)
    token       the last fencing token handed out; never goes down
    expires_at  when the current grant runs out, in UTC by the server's clock

A lock is free when ``expires_at <= UTC_TIMESTAMP(6)``. Every decision is one
conditional ``UPDATE`` evaluated by the server, so client clocks do not matter
and two clients can never both see a free row and both take it. Rows are never
deleted: the fencing counter lives in them, and grants that expire must not
reset it (LOCK-12). A committed grant survives a server crash (InnoDB's redo
log), so grants and tokens survive a restart (spec/lock.md, "Server restarts").

Why not ``GET_LOCK()``: it binds the lock to the session that took it. It has
no TTL, so a holder that is paused (GC, SIGSTOP) but whose connection stays
open holds the lock for ever, instead of for its TTL (LOCK-7's bound, and the
lease model of the spec). It hands out no fencing token, so a paused holder
that resumes cannot be told apart from the current one (LOCK-13). And it
cannot be released or extended from another connection, which a client that
reconnects after a network error needs.

Why ``UTC_TIMESTAMP(6)`` and not ``NOW(6)``: ``NOW()`` is in the session's time
zone, so two clients with different ``time_zone`` settings would disagree on
expiry, and a daylight-saving change would move every grant by an hour.
A step of the server's own wall clock still moves every grant: run the server
with a slewed clock (NTP), as for any lease.

Release and extend compare the owner token, for the reason the Redis reference
gives (see its module docstring): a holder whose grant ran out must not free
or prolong the next holder's grant (LOCK-3, LOCK-15).

Non-goals: replication and failover, Group Replication, Galera, fairness,
re-entrancy (spec/lock.md, "Non-guarantees").
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import select
import time
from dataclasses import dataclass
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import mysql_connect
from distconform.errors import BackendUnavailable

__all__ = ["MySQLLockClient", "MySQLLockHandle", "factory"]

#: Seconds between two attempts of a blocking acquire (jittered by +-50 %).
_POLL = 0.01
#: The longest name the table holds (bytes of UTF-8): the primary key's width.
MAX_NAME_BYTES = 255
#: InnoDB errors that mean "try the statement again": deadlock, lock wait timeout.
_TRANSIENT = {1213, 1205}
#: Attempts of one statement that keeps failing with a transient error.
_ATTEMPTS = 5

# Every statement is one autocommit transaction that locks one row for a few
# microseconds, so a lock wait longer than a second means the server is stuck;
# fail fast (and retry) rather than wait InnoDB's default 50 s.
_SESSION_SETUP = "SET SESSION innodb_lock_wait_timeout = 1"

CREATE_TABLE = """
-- The lease table: one row per lock name, kept for ever (it holds the token).
CREATE TABLE IF NOT EXISTS `{table}` (
    name       VARBINARY(255) NOT NULL PRIMARY KEY,
    owner      CHAR(32) CHARACTER SET ascii NULL,
    token      BIGINT NOT NULL,
    expires_at DATETIME(6) NOT NULL
) ENGINE=InnoDB
"""

ENSURE_ROW = """
-- Make sure the lock's row exists, free and with token 0; a no-op when it exists.
-- args:     name
-- rowcount: 1 when the row was created, 0 when it was there
INSERT IGNORE INTO `{table}` (name, owner, token, expires_at)
VALUES (%s, NULL, 0, '1000-01-01 00:00:00')
"""

ACQUIRE = """
-- Take the lock if its grant has run out, and draw the next fencing token.
-- args:     owner token, TTL in microseconds, name
-- rowcount: 1 when granted (the token is then this connection's LAST_INSERT_ID()),
--           0 when someone holds the lock
UPDATE `{table}`
   SET owner = %s,
       token = LAST_INSERT_ID(token + 1),
       expires_at = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND
 WHERE name = %s AND expires_at <= UTC_TIMESTAMP(6)
"""

RELEASE = """
-- Free the lock only if this grant still holds it.
-- args:     name, owner token
-- rowcount: 1 when our grant was freed, 0 when it had run out or was someone else's
UPDATE `{table}`
   SET owner = NULL, expires_at = '1000-01-01 00:00:00'
 WHERE name = %s AND owner = %s AND expires_at > UTC_TIMESTAMP(6)
"""

EXTEND = """
-- Make the grant last the new TTL from now, only if this grant still holds it.
-- args:     TTL in microseconds, name, owner token
-- rowcount: 1 when our grant was extended, 0 when it had run out or was someone else's
UPDATE `{table}`
   SET expires_at = UTC_TIMESTAMP(6) + INTERVAL %s MICROSECOND
 WHERE name = %s AND owner = %s AND expires_at > UTC_TIMESTAMP(6)
"""


@dataclass(frozen=True)
class MySQLLockHandle:
    """One grant: the lock's name, its owner token and its fencing token."""

    name: str
    owner: str
    token: int


def _ttl_us(ttl: object) -> int:
    """The TTL in whole microseconds, rounded up so a grant never lasts less than asked."""
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise ValueError(f"ttl must be a number of seconds, got {ttl!r}")
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"ttl must be a positive, finite number of seconds, got {ttl!r}")
    return max(1, math.ceil(ttl * 1_000_000))


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    return float(timeout)


def _name_bytes(name: str) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) > MAX_NAME_BYTES:
        raise ValueError(
            f"lock name is {len(raw)} bytes of UTF-8; the MySQL lock takes at most "
            f"{MAX_NAME_BYTES}: hash longer names before locking them"
        )
    return raw


def _dropped(conn: Any) -> bool:
    """True when ``conn`` cannot carry a query: closed by us, or by the server.

    Between calls the server has nothing to say; a socket that is readable
    then holds an end-of-file (or a parting error packet). redis-py's pool
    makes the same check before it hands out a connection.
    """
    sock = getattr(conn, "_sock", None)
    if sock is None:
        return True
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class MySQLLockClient:
    """A lock client over one MySQL/MariaDB connection."""

    def __init__(self, url: str, namespace: str) -> None:
        if "`" in namespace:
            raise ValueError(f"namespace {namespace!r} cannot name a table: it holds a backtick")
        self._url = url
        self._table = f"{namespace}lock"
        self._sql = {
            k: q.format(table=self._table)
            for k, q in (
                ("create", CREATE_TABLE),
                ("ensure", ENSURE_ROW),
                ("acquire", ACQUIRE),
                ("release", RELEASE),
                ("extend", EXTEND),
            )
        }
        #: Names whose row this client has seen exist; rows are never deleted.
        self._rows: set[bytes] = set()
        self._conn = self._connect()
        self._execute("create", ())

    def _connect(self) -> Any:
        from pymysql.constants import CLIENT

        # FOUND_ROWS: rowcount counts matched rows, so an extend that happens
        # to set the same expires_at still reports success.
        return mysql_connect(self._url, client_flag=CLIENT.FOUND_ROWS, init_command=_SESSION_SETUP)

    def _execute(self, statement: str, args: tuple[Any, ...]) -> int:
        """Run one statement; retry deadlocks and lock-wait timeouts; return rowcount."""
        import pymysql

        if _dropped(self._conn):
            # The server closed this connection while it sat idle (it restarted,
            # or timed us out); nothing of this call was sent yet, so start it
            # on a new connection instead of failing it. A call whose own
            # connection breaks mid-way still fails: its outcome is unknown.
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = self._connect()
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._conn.cursor() as cur:
                    return int(cur.execute(self._sql[statement], args))
            except pymysql.err.MySQLError as exc:
                # Each statement is its own transaction, so InnoDB rolled it
                # back whole: running it again cannot apply it twice.
                if not exc.args or exc.args[0] not in _TRANSIENT or attempt == _ATTEMPTS:
                    raise
                time.sleep(random.uniform(0.001, 0.01) * attempt)
        raise AssertionError("unreachable")

    def _try_acquire(self, name: bytes, owner: str, us: int) -> int | None:
        if name not in self._rows:
            self._execute("ensure", (name,))
            self._rows.add(name)
        if self._execute("acquire", (owner, us, name)) != 1:
            return None
        with self._conn.cursor() as cur:
            cur.execute("SELECT LAST_INSERT_ID()")
            return int(cur.fetchone()[0])

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> MySQLLockHandle | None:
        """The grant, or None when the lock stayed held for ``timeout`` seconds."""
        us = _ttl_us(ttl)
        deadline = time.monotonic() + _check_timeout(timeout)
        raw = _name_bytes(name)
        while True:
            owner = secrets.token_hex(16)
            sent = time.monotonic()
            token = self._try_acquire(raw, owner, us)
            if token is not None:
                if time.monotonic() - sent < ttl:
                    return MySQLLockHandle(name, owner, token)
                # The reply came back after the grant had run out: hand out
                # nothing that is already over (LOCK-29; see the Redis reference).
                self._execute("release", (raw, owner))
            # Checked after the attempt, so a blocking acquire never gives up
            # before its deadline and timeout=0 asks exactly once (LOCK-8, LOCK-9).
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, _POLL * random.uniform(0.5, 1.5)))

    def release(self, handle: MySQLLockHandle) -> bool:
        """True when this call freed the handle's own grant."""
        return self._execute("release", (_name_bytes(handle.name), handle.owner)) == 1

    def extend(self, handle: MySQLLockHandle, ttl: float) -> bool:
        """Make the handle's grant last ``ttl`` seconds from now; False if it holds nothing."""
        us = _ttl_us(ttl)
        return self._execute("extend", (us, _name_bytes(handle.name), handle.owner)) == 1

    def token(self, handle: MySQLLockHandle) -> int:
        """The grant's fencing token: greater than every earlier grant's of the same lock."""
        return handle.token

    def close(self) -> None:
        if self._conn.open:
            self._conn.close()


def factory(ctx: Context) -> Implementation:
    """The MySQL/MariaDB reference lock for ``ctx``; connects only when a client is made."""

    def client() -> MySQLLockClient:
        if not ctx.mysql_url:
            raise BackendUnavailable("the MySQL lock needs a MySQL URL: pass --mysql-url")
        return MySQLLockClient(ctx.mysql_url, ctx.namespace)

    return Implementation(
        client=client,
        capabilities=frozenset({"distributed", "extend", "fencing"}),
        needs=frozenset({"mysql"}),
        package="distconform",
        description="MySQL/MariaDB reference (lease table by server clock, token column)",
    )

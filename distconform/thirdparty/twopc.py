"""Adapter for a third-party two-phase commit coordinator: SQLAlchemy's two-phase Session.

Registered name (pyproject ``distconform.implementations``):

===================================  ================================================
``sqlalchemy-twophase``              ``sqlalchemy.orm.Session(twophase=True)`` over
                                     one Engine per participant, MariaDB XA through
                                     PyMySQL; recovery calls on ``engine.connect()``
``sqlalchemy-twophase-autocommit``   the same, recovery calls on a connection with
                                     ``execution_options(isolation_level=
                                     "AUTOCOMMIT")``, and ``pool_pre_ping=True``
                                     (recommended, see below)
===================================  ================================================

Why two: SQLAlchemy's recovery calls (``commit_prepared``/``rollback_prepared``
with ``recover=True``) on a default ``engine.connect()`` connection fail on
MariaDB with ``XAER_OUTSIDE`` (1400): PyMySQL runs with autocommit off, and
MariaDB refuses ``XA COMMIT``/``XA ROLLBACK`` of a detached branch inside the
session's implicit transaction, even right after a ``ROLLBACK``. The
recommended name runs them (and ``recover_twophase``) in AUTOCOMMIT mode, and
pings pooled connections before use (``pool_pre_ping=True``, SQLAlchemy's
documented remedy for connections that died in the pool): without it the
first recovery call after a cut connection gets the dead one ("MySQL server
has gone away").

How the suite's interface (spec/twopc.md) maps onto SQLAlchemy, and every
library call the adapter makes:

- A participant is a table ``<namespace><name>`` behind an Engine of its own
  (``create_engine("mysql+pymysql://...")``, default pool), as an application
  binds each database of a two-phase Session to its own Engine.
- ``write(txid, ...)`` runs ``Session.execute(text(INSERT ... ON DUPLICATE
  KEY UPDATE), bind_arguments={"bind": engine})`` on the transaction's
  Session, one ``Session(twophase=True)`` per transaction, shared by its
  participants. SQLAlchemy begins each Engine's branch with
  ``Connection.begin_twophase()`` and its own random xid
  (``dialect.create_xid()``, ``_sa_<32 hex>``): one xid per branch, unrelated
  to the transaction or to the other branches.
- ``run(txid, participants)`` is ``Session.prepare()`` then
  ``Session.commit()``, the documented two-phase sequence: ``prepare``
  runs ``XA END``/``XA PREPARE`` on every branch and, when one fails, rolls
  every branch back and re-raises (run returns False); ``commit`` runs ``XA
  COMMIT`` on each branch in turn and re-raises the first failure (run
  raises; the rest of the branches stay prepared).
- ``recover(participants)``: SQLAlchemy keeps no decision log and offers
  only ``Connection.recover_twophase()``, ``commit_prepared(xid,
  recover=True)`` and ``rollback_prepared(xid, recover=True)``; the
  application decides. With no record of any decision, the only recovery an
  application can write rolls back every prepared branch it started
  (presumed abort without a log), which is what ``recover`` does.
- A participant's ``commit``/``abort`` end a branch on its own connection while
  it is attached, else with ``commit_prepared``/``rollback_prepared(...,
  recover=True)``; XAER_NOTA (the branch already ended) is a no-op.
  ``in_doubt`` is ``recover_twophase()`` mapped back to the suite's txids
  (the adapter remembers which xid SQLAlchemy gave each branch).

- The suite's own calls: ``read`` is a ``SELECT`` on ``engine.connect()``;
  ``close`` (a participant crash) is ``Connection.invalidate()`` on every
  branch's connection and ``Engine.dispose()``; a coordinator crash (the
  suite's ``Crash``) invalidates the transaction's connections before the
  adapter's ``Session.close()`` runs, as a dead process's would be.

Deviations from the library's defaults, each with its reason:

- ``sqlalchemy-twophase-autocommit`` only: the recovery calls run on
  AUTOCOMMIT connections, and the pool pings (the reasons are above).
- ``connect_args`` with PyMySQL connect/read/write timeouts of 10 s
  (PyMySQL's default read timeout is none): every network call of the suite
  has a time limit.
- Fault injection: each Engine's dialect methods ``do_prepare_twophase``,
  ``do_commit_twophase`` and ``do_rollback_twophase`` are wrapped so that,
  inside ``run``, the XA statement SQLAlchemy issues goes through the
  participant object the suite passed to ``run`` (its fault hooks), which
  then issues the same statement. SQLAlchemy's own sequence (which branch
  when, what on an error) is unchanged. ``do_begin_twophase`` is wrapped to
  record the xid SQLAlchemy chose.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import SERVER_TIMEOUT, parse_mysql_url
from distconform.thirdparty import _require

__all__ = ["sqlalchemy_twophase", "sqlalchemy_twophase_autocommit"]

#: MariaDB's "unknown XID": the branch already ended.
XAER_NOTA = 1397


class VoteNo(RuntimeError):
    """A participant voted no: what ``XA PREPARE`` failing looks like to SQLAlchemy."""


class _Registry:
    """Per namespace: the open Session of each transaction and the xid of each branch."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.sessions: dict[str, Any] = {}
        #: participant name -> txid -> xid SQLAlchemy gave the branch
        self.xids: dict[str, dict[str, str]] = {}
        #: participant name -> the participant object now open under that name
        self.current: dict[str, SAParticipant] = {}
        #: (participant name, txid) -> the object run() was handed for it (the suite's hooks)
        self.fronts: dict[tuple[str, str], Any] = {}
        #: (participant name, txid) -> the Session's Connection of that branch
        self.conns: dict[tuple[str, str], Any] = {}
        #: every participant object opened, for cleanup
        self.opened: list[SAParticipant] = []


def _recovered(conn: Any) -> set[str]:
    """``Connection.recover_twophase()`` as str: under PyMySQL it returns bytes, while
    the xids SQLAlchemy makes (``create_xid()``) are str."""
    return {x.decode() if isinstance(x, bytes) else str(x) for x in conn.recover_twophase()}


_REGISTRIES: dict[str, _Registry] = {}
_REGISTRIES_MUTEX = threading.Lock()


def _registry(namespace: str) -> _Registry:
    with _REGISTRIES_MUTEX:
        return _REGISTRIES.setdefault(namespace, _Registry())


def _engine(url: str, pre_ping: bool = False) -> Any:
    sa = _require("sqlalchemy", "SQLAlchemy")
    a = parse_mysql_url(url)
    return sa.create_engine(
        sa.engine.URL.create(
            "mysql+pymysql",
            username=a["user"],
            password=a["password"] or None,
            host=a["host"],
            port=a["port"],
            database=a["database"],
        ),
        connect_args={
            "connect_timeout": SERVER_TIMEOUT,
            "read_timeout": SERVER_TIMEOUT,
            "write_timeout": SERVER_TIMEOUT,
        },
        pool_pre_ping=pre_ping,
    )


def _is_nota(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    return bool(getattr(orig, "args", None)) and orig.args[0] == XAER_NOTA


class SAParticipant:
    """One participant: a table behind an Engine whose XA calls the suite can hook."""

    def __init__(self, url: str, name: str, namespace: str, autocommit: bool) -> None:
        self.name, self.namespace = name, namespace
        self.autocommit = autocommit
        self.table = f"{namespace}{name}"
        self.reg = _registry(namespace)
        self.engine = _engine(url, pre_ping=autocommit)
        self._local = threading.local()
        #: txid -> (the Session's Connection, "active" | "prepared" | "ended")
        self._branches: dict[str, tuple[Any, str]] = {}
        d = self.engine.dialect
        self._orig = {
            "begin": d.do_begin_twophase,
            "prepare": d.do_prepare_twophase,
            "commit": d.do_commit_twophase,
            "rollback": d.do_rollback_twophase,
        }
        d.do_begin_twophase = self._on_begin
        d.do_prepare_twophase = self._on_prepare
        d.do_commit_twophase = self._on_commit
        d.do_rollback_twophase = self._on_rollback
        sa = _require("sqlalchemy", "SQLAlchemy")
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"CREATE TABLE IF NOT EXISTS `{self.table}` "
                    "(k VARCHAR(128) PRIMARY KEY, v BIGINT NOT NULL)"
                )
            )
        with self.reg.mutex:
            self.reg.current[name] = self
            self.reg.opened.append(self)
            self.reg.xids.setdefault(name, {})

    # -- what SQLAlchemy calls (wrapped dialect methods)

    def _front(self, xid: str) -> tuple[str | None, Any]:
        """The txid of ``xid`` and the object run() was handed for this participant, if any."""
        with self.reg.mutex:
            for t, x in self.reg.xids[self.name].items():
                if x == xid:
                    front = self.reg.fronts.get((self.name, t))
                    return (t, front) if front is not None else (None, None)
        return None, None

    def _on_begin(self, connection: Any, xid: Any) -> None:
        txid = self._local.txid
        with self.reg.mutex:
            self.reg.xids[self.name][txid] = xid
            self.reg.conns[(self.name, txid)] = connection
            self._branches[txid] = (connection, "active")
        self._orig["begin"](connection, xid)

    def _on_prepare(self, connection: Any, xid: Any) -> None:
        txid, front = self._front(xid)
        if txid is None:
            self._orig["prepare"](connection, xid)
            return
        if front.prepare(txid) is not True:
            raise VoteNo(f"{self.name} voted no on {txid!r}")

    def _on_commit(
        self, connection: Any, xid: Any, is_prepared: bool = True, recover: bool = False
    ) -> None:
        txid, front = self._front(xid)
        if txid is None or recover:
            self._orig["commit"](connection, xid, is_prepared=is_prepared, recover=recover)
            return
        self._local.from_sqlalchemy = True
        try:
            front.commit(txid)
        finally:
            self._local.from_sqlalchemy = False

    def _on_rollback(
        self, connection: Any, xid: Any, is_prepared: bool = True, recover: bool = False
    ) -> None:
        txid, front = self._front(xid)
        if txid is None or recover:
            self._orig["rollback"](connection, xid, is_prepared=is_prepared, recover=recover)
            return
        self._local.from_sqlalchemy = True
        try:
            front.abort(txid)
        finally:
            self._local.from_sqlalchemy = False

    # -- the suite's participant interface

    def write(self, txid: str, key: str, delta: int) -> None:
        sa = _require("sqlalchemy", "SQLAlchemy")
        orm = _require("sqlalchemy.orm", "SQLAlchemy")
        with self.reg.mutex:
            session = self.reg.sessions.get(txid)
            if session is None:
                session = self.reg.sessions[txid] = orm.Session(twophase=True)
        self._local.txid = txid
        session.execute(
            sa.text(
                f"INSERT INTO `{self.table}` (k, v) VALUES (:k, :d) "
                "ON DUPLICATE KEY UPDATE v = v + VALUES(v)"
            ),
            {"k": key, "d": delta},
            bind_arguments={"bind": self.engine},
        )

    def _branch(self, txid: str) -> tuple[Any, str] | None:
        with self.reg.mutex:
            return self._branches.get(txid)

    def _set(self, txid: str, conn: Any, state: str) -> None:
        with self.reg.mutex:
            self._branches[txid] = (conn, state)

    def _xid(self, txid: str) -> str | None:
        with self.reg.mutex:
            return self.reg.xids[self.name].get(txid)

    def prepare(self, txid: str) -> bool:
        held, xid = self._branch(txid), self._xid(txid)
        if held is None or xid is None:
            return txid in self.in_doubt()
        conn, state = held
        if state == "prepared":
            return True
        if state != "active":
            return False
        try:
            self._orig["prepare"](conn, xid)
        except Exception:
            with contextlib.suppress(Exception):
                conn.invalidate()  # the server rolls the unprepared branch back
            self._set(txid, conn, "ended")
            raise
        self._set(txid, conn, "prepared")
        return True

    def _end(self, txid: str, commit: bool) -> None:
        held, xid = self._branch(txid), self._xid(txid)
        if xid is None:
            return  # never began here: nothing to end
        conn: Any = None
        state = "detached"
        if held is not None:
            conn, state = held
        if state == "ended":
            return
        if commit and state == "active":
            raise RuntimeError(f"{self.name}: commit of {txid!r} before it was prepared")
        attached = state in ("active", "prepared") and not (conn.closed or conn.invalidated)
        try:
            if attached:
                verb = self._orig["commit" if commit else "rollback"]
                try:
                    verb(conn, xid, is_prepared=state == "prepared")
                except Exception as exc:
                    sqlalchemy_flow = getattr(self._local, "from_sqlalchemy", False)
                    if _is_nota(exc) or state == "active" or sqlalchemy_flow:
                        raise  # inside Session.commit/rollback: SQLAlchemy sees the error
                    # Its connection died (a cut): the server detached the branch.
                    with contextlib.suppress(Exception):
                        conn.invalidate()
                    attached = False
            if not attached:
                with self._recovery_connection() as c:
                    (c.commit_prepared if commit else c.rollback_prepared)(xid, recover=True)
        except Exception as exc:
            if not _is_nota(exc):
                raise
        self._set(txid, conn, "ended")

    def commit(self, txid: str) -> None:
        self._end(txid, True)

    def abort(self, txid: str) -> None:
        self._end(txid, False)

    def _recovery_connection(self) -> Any:
        conn = self.engine.connect()
        if self.autocommit:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn

    def in_doubt(self) -> list[str]:
        with self._recovery_connection() as c:
            found = _recovered(c)
            c.rollback()
        with self.reg.mutex:
            mine = self.reg.xids[self.name]
            attached = {t for t, (_c, s) in self._branches.items() if s == "prepared"}
            return sorted({t for t, x in mine.items() if x in found} | attached)

    def read(self, key: str) -> int:
        sa = _require("sqlalchemy", "SQLAlchemy")
        with self.engine.connect() as c:
            row = c.execute(sa.text(f"SELECT v FROM `{self.table}` WHERE k = :k"), {"k": key})
            value = row.scalar()
            c.rollback()
        return int(value) if value is not None else 0

    def close(self) -> None:
        """A crash: every connection dropped; unprepared branches roll back, prepared stay."""
        with self.reg.mutex:
            held, self._branches = list(self._branches.values()), {}
        for conn, _state in held:
            with contextlib.suppress(Exception):
                conn.invalidate()
        self.engine.dispose()


class SATwoPC:
    """The coordinator: a two-phase Session's prepare() and commit()."""

    def __init__(self, url: str, namespace: str, autocommit: bool) -> None:
        self.url, self.namespace, self.autocommit = url, namespace, autocommit
        self.reg = _registry(namespace)

    def participant(self, name: str) -> SAParticipant:
        return SAParticipant(self.url, name, self.namespace, self.autocommit)

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        with self.reg.mutex:
            session = self.reg.sessions.pop(txid, None)
            for p in participants:
                self.reg.fronts[(p.name, txid)] = p
        if session is None:
            raise RuntimeError(f"run({txid!r}): no work was written for it")
        try:
            try:
                session.prepare()
            except Exception:
                return False  # SQLAlchemy rolled every branch back
            session.commit()
            return True
        except BaseException as exc:
            if not isinstance(exc, Exception):
                # The process dies here (the suite's Crash): so do its connections,
                # before anything else could run. Prepared branches outlive them.
                with self.reg.mutex:
                    conns: list[Any] = [self.reg.conns.get((p.name, txid)) for p in participants]
                for conn in conns:
                    with contextlib.suppress(Exception):
                        conn.invalidate()
            raise
        finally:
            with contextlib.suppress(Exception):
                session.close()
            with self.reg.mutex:
                for p in participants:
                    self.reg.fronts.pop((p.name, txid), None)

    def recover(self, participants: Sequence[Any]) -> dict[str, bool]:
        out: dict[str, bool] = {}
        for p in participants:
            for txid in p.in_doubt():
                p.abort(txid)  # no log: nothing says any of them committed
                out[txid] = False
        return out


def _cleanup(url: str, namespace: str) -> None:
    """Roll back every branch of the namespace still prepared; forget its registry."""
    with _REGISTRIES_MUTEX:
        reg = _REGISTRIES.pop(namespace, None)
    if reg is None:
        return
    xids = {x for by_txid in reg.xids.values() for x in by_txid.values()}
    # Detach every branch first: another connection cannot end an attached one.
    for conn in reg.conns.values():
        with contextlib.suppress(Exception):
            conn.invalidate()
    for part in reg.opened:
        with contextlib.suppress(Exception):
            part.close()
    for session in reg.sessions.values():
        with contextlib.suppress(Exception):
            session.close()
    engine = _engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for xid in _recovered(c) & xids:
                with contextlib.suppress(Exception):
                    c.rollback_prepared(xid, recover=True)
    finally:
        engine.dispose()


def sqlalchemy_twophase(ctx: Context) -> Implementation:
    """Recovery calls on default connections, as SQLAlchemy's docs show them."""
    return _factory(ctx, autocommit=False)


def sqlalchemy_twophase_autocommit(ctx: Context) -> Implementation:
    """Recovery calls on AUTOCOMMIT connections: the configuration that works on MariaDB."""
    return _factory(ctx, autocommit=True)


def _factory(ctx: Context, autocommit: bool) -> Implementation:
    url = ctx.mysql_url

    def client() -> SATwoPC:
        if url is None:
            raise RuntimeError("sqlalchemy-twophase needs a MySQL URL: pass --mysql-url")
        return SATwoPC(url, ctx.namespace, autocommit)

    def close() -> None:
        if url is not None:
            _cleanup(url, ctx.namespace)

    return Implementation(
        client=client,
        capabilities=frozenset({"participants"}),
        needs=frozenset({"mysql"}),
        close=close,
        package="SQLAlchemy",
        description="Session(twophase=True) over one Engine per participant, MariaDB XA"
        + (", AUTOCOMMIT recovery connections" if autocommit else ""),
    )

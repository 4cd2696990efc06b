"""Where the servers come from, and how the suite cleans up after itself.

Order for each backend (Redis, MySQL/MariaDB):

1. a URL given by option or environment (``DISTCONFORM_REDIS_URL``,
   ``DISTCONFORM_MYSQL_URL``); it must answer, or the run stops with one line;
2. a testcontainers container, when a Docker engine answers;
3. a private server started from the binaries on PATH (``redis-server``;
   ``mariadb-install-db`` then ``mariadbd``) on a free port in a temporary
   directory, run by mirakuru, which stops it at exit even after Ctrl-C;
4. nothing: tests that need it skip with a one-line reason.

The suite never flushes or drops what it did not create: every test works
under a unique namespace and :func:`cleanup_namespace` removes exactly the keys
and tables that start with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from distconform.api import Clock, Context, RealClock, new_namespace
from distconform.errors import BackendUnavailable

__all__ = [
    "Backends",
    "PrivateMariaDB",
    "PrivateRedis",
    "PrivateSentinel",
    "cleanup_namespace",
    "context_for",
    "mysql_connect",
    "parse_mysql_url",
    "resolve",
]

#: Seconds for connecting to a server and for any one command on it.
SERVER_TIMEOUT = 5.0
ENV_REDIS = "DISTCONFORM_REDIS_URL"
ENV_MYSQL = "DISTCONFORM_MYSQL_URL"
ENV_MASTERS = "DISTCONFORM_REDIS_MASTERS"
#: Servers started by a process, as JSON {url: origin}, for the processes it starts:
#: `verify` hands its servers to the run's pytest (and its xdist workers) as URLs,
#: which the report would otherwise call given.
ENV_STARTED = "DISTCONFORM_STARTED_SERVERS"


#: Tries of a private server's first start, each on a new free port (see _PrivateServer.start).
START_ATTEMPTS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_taken(port: int) -> bool:
    """True when something else holds ``port`` on 127.0.0.1 (a bind there fails)."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# --------------------------------------------------------------------------- URLs


def parse_mysql_url(url: str) -> dict[str, Any]:
    """``mysql://user:pass@host:port/db`` -> PyMySQL connect() arguments."""
    u = urlparse(url)
    if u.scheme not in ("mysql", "mariadb", "mysql+pymysql"):
        raise BackendUnavailable(
            f"MySQL URL {url!r} must look like mysql://user:password@host:3306/database"
        )
    return {
        "host": u.hostname or "127.0.0.1",
        "port": u.port or 3306,
        "user": unquote(u.username or "root"),
        "password": unquote(u.password or ""),
        "database": (u.path or "/test").lstrip("/") or "test",
    }


#: Hosts where TLS protects nothing (the suite's own servers, a local one).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def mysql_connect(url: str, **kw: Any) -> Any:
    """A PyMySQL connection with timeouts on connect, read and write.

    To a loopback host without TLS: PyMySQL otherwise builds an SSL context
    for every connection, loading the system's CA certificates (about 20 ms of
    CPU each, even when the server offers no TLS), and a verify run opens
    over a thousand connections. Other hosts keep PyMySQL's default (TLS when
    the server offers it).
    """
    import pymysql

    args = parse_mysql_url(url)
    if args["host"] in LOOPBACK_HOSTS:
        args["ssl_disabled"] = True
    args.update(
        connect_timeout=SERVER_TIMEOUT,
        read_timeout=kw.pop("read_timeout", SERVER_TIMEOUT),
        write_timeout=SERVER_TIMEOUT,
        autocommit=True,
    )
    args.update(kw)
    return pymysql.connect(**args)


def redis_client(url: str, **kw: Any) -> Any:
    import redis

    kw.setdefault("socket_timeout", SERVER_TIMEOUT)
    kw.setdefault("socket_connect_timeout", SERVER_TIMEOUT)
    return redis.Redis.from_url(url, **kw)


def check_redis(url: str) -> str:
    """Ping the server; return its version, or raise a one-line error."""
    if urlparse(url).scheme not in ("redis", "rediss", "unix"):
        raise BackendUnavailable(
            f"Redis URL {url!r} must start with redis://, rediss:// or unix://"
        )
    try:
        r = redis_client(url)
        try:
            r.ping()
            return str(r.info("server").get("redis_version", "?"))
        finally:
            r.close()
    except Exception as exc:
        raise BackendUnavailable(
            f"cannot reach Redis at {url} ({type(exc).__name__}: {exc}); start it or pass "
            f"a reachable URL with --redis-url / {ENV_REDIS}"
        ) from None


def check_mysql(url: str) -> str:
    parse_mysql_url(url)
    try:
        conn = mysql_connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                return str(cur.fetchone()[0])
        finally:
            conn.close()
    except Exception as exc:
        raise BackendUnavailable(
            f"cannot reach MySQL at {url} ({type(exc).__name__}: {exc}); start it or pass "
            f"a reachable URL with --mysql-url / {ENV_MYSQL}"
        ) from None


# ------------------------------------------------------------------ private servers


class _Foreign(Exception):
    """The private server's port is answered by another process."""


class _PrivateServer:
    """A server process of our own that a fault test may kill, pause and restart."""

    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=f"distconform-{self.name}-")
        self._executor: Any = None
        self._started = False

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> _PrivateServer:
        from mirakuru import TCPExecutor
        from mirakuru.exceptions import AlreadyRunning, ProcessExitedWithError

        # free_port() only says the port was free a moment ago: another process
        # (a pytest-xdist worker, a helper's run) may take it before the server
        # binds it. Before the first start nobody has the URL yet, so take
        # another port and try again; a restart keeps its port.
        for attempt in range(START_ATTEMPTS):
            # The server's own output goes to a file in its folder: not to the
            # user's terminal (MariaDB's max_open_files warning), and not to a
            # pipe nobody reads, which would stop a talkative server once full.
            # (The file stays open in the server: Popen gives it its own copy.)
            with open(os.path.join(self.dir, "server.out"), "ab") as out:
                self._executor = TCPExecutor(
                    self.command(), host="127.0.0.1", port=self.port, timeout=30,
                    shell=False, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
                try:
                    self._executor.start()
                    # mirakuru only sees the port open: when another server took
                    # it first, ours fails to bind and exits while the port
                    # answers, and every client (and a fault test's SIGSTOP,
                    # sent to our pid) would miss. Seen in a full run: a lock
                    # acquire "against a paused server" granted at once.
                    self._ready()
                except (AlreadyRunning, ProcessExitedWithError, _Foreign) as exc:
                    if isinstance(exc, _Foreign):
                        with contextlib.suppress(Exception):
                            self._executor.kill(wait=True, sig=signal.SIGKILL)
                    self._executor = None
                    if self._started or attempt == START_ATTEMPTS - 1 or not _port_taken(self.port):
                        if isinstance(exc, _Foreign):
                            raise BackendUnavailable(
                                f"{self.name}: port {self.port} is answered by another server "
                                f"({exc}); ours could not bind it"
                            ) from None
                        raise
                    self.port = free_port()
                    self._new_port()
                    continue
            self._started = True
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _ready(self) -> None:
        """Return once this process serves on the port; raise :class:`_Foreign` if another does."""

    def _new_port(self) -> None:
        """Forget whatever was written for the old port (a config file)."""

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        return int(self._executor.process.pid)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to save anything."""
        if self._executor is not None and self._executor.running():
            self.resume()  # a stopped process must be able to die
            self._executor.kill(wait=True, sig=signal.SIGKILL)

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self._executor is not None:
            with contextlib.suppress(Exception):
                self.resume()
                self._executor.stop()
            self._executor = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> _PrivateServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _same_redis_process(server: _PrivateServer) -> None:
    """Raise :class:`_Foreign` unless the Redis or Sentinel on ``server``'s port is its process."""
    r = redis_client(server.url)
    try:
        pid = int(r.info("server")["process_id"])
    finally:
        r.close()
    if pid != server.pid:
        raise _Foreign(f"the process answering is pid {pid}, ours is {server.pid}")


class PrivateRedis(_PrivateServer):
    """``redis-server`` on a free port; ``persist`` keeps an fsync-always AOF."""

    name = "redis"

    def __init__(self, persist: bool = False, args: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.persist = persist
        self.args = args

    def command(self) -> list[str]:
        cmd = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
            "--save", "", "--daemonize", "no", "--logfile", os.path.join(self.dir, "log"),
        ]  # fmt: skip
        if self.persist:
            cmd += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            cmd += ["--appendonly", "no"]
        return cmd + list(self.args)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ready(self) -> None:
        _same_redis_process(self)

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None


class PrivateSentinel(_PrivateServer):
    """A Redis Sentinel on a free port watching one primary; config in its own folder.

    ``redis-sentinel`` is ``redis-server --sentinel``; either binary will do.
    ``lines`` are extra ``sentinel ...`` config lines (known replicas and
    sentinels, timings); Sentinel rewrites the file as the topology changes.
    """

    name = "sentinel"

    def __init__(self) -> None:
        super().__init__()
        self.myid = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.lines: list[str] = []

    def command(self) -> list[str]:
        conf = os.path.join(self.dir, "sentinel.conf")
        if not os.path.exists(conf):  # a restart keeps the rewritten topology
            with open(conf, "w", encoding="utf-8") as f:
                f.write(
                    f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {self.dir}\n"
                    f"logfile {os.path.join(self.dir, 'log')}\nsentinel myid {self.myid}\n"
                    + "".join(line + "\n" for line in self.lines)
                )
        exe = shutil.which("redis-sentinel")
        if exe:
            return [exe, conf]
        return [shutil.which("redis-server") or "redis-server", conf, "--sentinel"]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _new_port(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(self.dir, "sentinel.conf"))

    def _ready(self) -> None:
        _same_redis_process(self)

    @staticmethod
    def available() -> bool:
        return bool(shutil.which("redis-sentinel") or shutil.which("redis-server"))


class PrivateMariaDB(_PrivateServer):
    """``mariadbd`` on a free port over a data directory made by ``mariadb-install-db``."""

    name = "mariadb"

    def __init__(self) -> None:
        super().__init__()
        self.datadir = os.path.join(self.dir, "data")
        # A temporary folder of its own: MariaDB removes the #sql* files it
        # finds in its tmpdir when it starts, so servers sharing /tmp delete
        # each other's temporary tables (a bootstrap failed with "Can't find
        # file: '/tmp/#sql-temptable-...MAI'" while other private servers started).
        self.tmpdir = os.path.join(self.dir, "tmp")
        os.makedirs(self.tmpdir, exist_ok=True)
        install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if install is None:
            raise BackendUnavailable("mariadb-install-db is not on PATH")
        # Twice: the bootstrap failed now and then on a loaded machine (twice in
        # a day of full runs beside other work, never when tried alone); a second
        # failure is reported with the tool's own last words.
        for attempt in (1, 2):
            shutil.rmtree(self.datadir, ignore_errors=True)
            done = subprocess.run(
                [install, "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                 "--auth-root-authentication-method=normal", "--skip-test-db",
                 f"--tmpdir={self.tmpdir}"],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if done.returncode == 0:
                break
            if attempt == 2:
                tail = " / ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
                raise BackendUnavailable(
                    f"{install} exited {done.returncode} twice in {self.datadir}: {tail}"
                )

    def command(self) -> list[str]:
        return [
            shutil.which("mariadbd") or "mariadbd", "--no-defaults",
            f"--datadir={self.datadir}", "--user=root", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--socket={self.dir}/sock", "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M", f"--log-error={self.dir}/err.log",
            f"--tmpdir={self.tmpdir}",
        ]  # fmt: skip

    def _ready(self) -> None:
        # The port opens before the server takes queries; wait until one works.
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = mysql_connect(f"mysql://root@127.0.0.1:{self.port}/mysql")
                try:
                    with conn.cursor() as cur:
                        cur.execute("SELECT @@datadir")
                        datadir = str(cur.fetchone()[0])
                        if os.path.realpath(datadir) != os.path.realpath(self.datadir):
                            raise _Foreign(f"a MariaDB over {datadir}, ours is {self.datadir}")
                        cur.execute("CREATE DATABASE IF NOT EXISTS test")
                finally:
                    conn.close()
                return
            except _Foreign:
                raise
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/test"

    @staticmethod
    def available() -> bool:
        return bool(
            shutil.which("mariadbd")
            and (shutil.which("mariadb-install-db") or shutil.which("mysql_install_db"))
        )


# ------------------------------------------------------------------- containers


def _docker_answers() -> bool:
    """True when a Docker engine answers within a few seconds."""
    if not (os.environ.get("DOCKER_HOST") or os.path.exists("/var/run/docker.sock")):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _container(kind: str) -> tuple[Any, str]:
    if kind == "redis":
        from testcontainers.redis import RedisContainer

        c: Any = RedisContainer("redis:7.0").start()
        return c, f"redis://{c.get_container_host_ip()}:{c.get_exposed_port(6379)}/0"
    from testcontainers.mysql import MySqlContainer

    m: Any = MySqlContainer("mariadb:10.11", dialect="pymysql").start()
    url = m.get_connection_url().replace("mysql+pymysql://", "mysql://")
    return m, url


# ------------------------------------------------------------------- resolution


@dataclass
class Backends:
    """The servers of one run: URLs, versions, why one is missing, what to stop.

    A URL given by option or environment is checked at once; a server of our
    own is started only when a test first needs that kind (:meth:`ensure`).
    """

    redis_url: str | None = None
    mysql_url: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    private: bool = True
    _tried: set[str] = field(default_factory=set)
    _docker: bool | None = None
    _owned: list[Any] = field(default_factory=list)
    _masters: list[str] = field(default_factory=list)
    #: URLs of the servers this object started (see ENV_STARTED).
    _started: list[str] = field(default_factory=list)

    def url(self, kind: str) -> str | None:
        return self.redis_url if kind == "redis" else self.mysql_url

    def _use(self, kind: str, url: str, origin: str) -> None:
        self.versions[kind] = _CHECKS[kind](url)
        self.origin[kind] = origin
        setattr(self, f"{kind}_url", url)
        if origin != "given" and url not in _started():  # not one a parent process started
            self._started.append(url)
            _set_started({**_started(), url: origin})

    def ensure(self, kind: str) -> str | None:
        """The URL for ``kind``, starting a server of our own the first time if need be."""
        if kind in self._tried:
            return self.url(kind)
        self._tried.add(kind)
        if self.url(kind) is not None or not self.private:
            if self.url(kind) is None:
                self.missing[kind] = _missing_text(kind)
            return self.url(kind)
        try:
            if self._docker is None:
                self._docker = _docker_answers()
            if self._docker:
                container, url = _container(kind)
                self._owned.append(container)
                self._use(kind, url, "testcontainers")
                return url
            server: PrivateRedis | PrivateMariaDB | None = None
            if kind == "redis" and PrivateRedis.available():
                server = PrivateRedis()
            elif kind == "mysql" and PrivateMariaDB.available():
                server = PrivateMariaDB()
            if server is None:
                self.missing[kind] = _missing_text(kind)
                return None
            self._owned.append(server)
            server.start()
            self._use(kind, server.url, "private")
            return server.url
        except Exception as exc:
            self.missing[kind] = f"could not start a {kind} server: {type(exc).__name__}: {exc}"
            return None

    def redis_masters(self, n: int = 3) -> list[str]:
        """URLs of ``n`` independent private Redis servers (for Redlock), started once.

        ``DISTCONFORM_REDIS_MASTERS`` (comma-separated URLs) takes precedence.
        """
        given = os.environ.get(ENV_MASTERS)
        if given:
            urls = [u.strip() for u in given.split(",") if u.strip()]
            if len(urls) < n:
                raise BackendUnavailable(f"{ENV_MASTERS} names {len(urls)} servers, {n} needed")
            for u in urls:
                check_redis(u)
            return urls[:n]
        while len(self._masters) < n:
            if not PrivateRedis.available():
                raise BackendUnavailable(
                    f"{n} Redis masters needed: put redis-server on PATH or set {ENV_MASTERS}"
                )
            server = PrivateRedis()
            self._owned.append(server)
            server.start()
            self._masters.append(server.url)
        return self._masters[:n]

    def close(self) -> None:
        for thing in reversed(self._owned):
            with contextlib.suppress(Exception):
                thing.stop()
        self._owned.clear()
        _set_started({u: o for u, o in _started().items() if u not in self._started})
        self._started.clear()


def _started() -> dict[str, str]:
    """The servers ENV_STARTED names: URL -> origin (private, testcontainers)."""
    try:
        started = json.loads(os.environ.get(ENV_STARTED) or "{}")
    except ValueError:
        return {}
    return started if isinstance(started, dict) else {}


def _set_started(started: dict[str, str]) -> None:
    if started:
        os.environ[ENV_STARTED] = json.dumps(started)
    else:
        os.environ.pop(ENV_STARTED, None)


_CHECKS = {"redis": check_redis, "mysql": check_mysql}


def _missing_text(kind: str) -> str:
    env = ENV_REDIS if kind == "redis" else ENV_MYSQL
    return f"no {kind} server: pass --{kind}-url or set {env}"


def resolve(
    redis_url: str | None = None,
    mysql_url: str | None = None,
    private: bool = True,
    kinds: tuple[str, ...] = (),
    needed: tuple[str, ...] | None = None,
) -> Backends:
    """Check the given URLs (a bad one raises :class:`BackendUnavailable`); start ``kinds`` now.

    Other kinds are started later, on first :meth:`Backends.ensure`. With
    ``needed``, a URL of another kind is not checked nor used: a stale
    environment variable does not stop a run that needs no such server.
    """
    b = Backends(private=private)
    given = {
        "redis": (redis_url, "--redis-url")
        if redis_url
        else (os.environ.get(ENV_REDIS), f"${ENV_REDIS}"),
        "mysql": (mysql_url, "--mysql-url")
        if mysql_url
        else (os.environ.get(ENV_MYSQL), f"${ENV_MYSQL}"),
    }
    for kind, (url, source) in given.items():
        if not url or (needed is not None and kind not in needed):
            continue
        try:
            # A server a parent process started is still not the user's.
            b._use(kind, url, _started().get(url, "given"))
        except BackendUnavailable as exc:
            raise BackendUnavailable(f"{exc} (the URL came from {source})") from None
    for kind in kinds:
        b.ensure(kind)
    return b


def context_for(b: Backends, clock: Clock | None = None) -> Context:
    """A fresh context for one test: a new namespace on this run's servers."""
    return Context(
        namespace=new_namespace(),
        redis_url=b.redis_url,
        mysql_url=b.mysql_url,
        clock=clock or RealClock(),
    )


# --------------------------------------------------------------------- cleanup


def cleanup_namespace(namespace: str, redis_url: str | None, mysql_url: str | None) -> None:
    """Remove the keys and tables whose names start with ``namespace``: only those."""
    if not namespace or len(namespace) < 8:
        raise ValueError(f"refusing to clean up a short namespace {namespace!r}")
    if redis_url:
        with contextlib.suppress(Exception):
            r = redis_client(redis_url)
            try:
                batch = list(r.scan_iter(match=f"{namespace}*", count=500))
                for i in range(0, len(batch), 500):
                    r.delete(*batch[i : i + 500])
            finally:
                r.close()
    if mysql_url:
        with contextlib.suppress(Exception):
            conn = mysql_connect(mysql_url)
            try:
                with conn.cursor() as cur:
                    like = namespace.replace("_", "\\_") + "%"
                    cur.execute("SHOW TABLES LIKE %s", (like,))
                    for (table,) in cur.fetchall():
                        if table.startswith(namespace):
                            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
            finally:
                conn.close()

"""Where servers come from: URLs, the Docker check, private servers and their cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distconform import backends
from distconform.errors import BackendUnavailable


def _children(pid: int) -> dict[int, str]:
    """pid -> command line of the direct children of ``pid`` (read from /proc)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                out[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError, IndexError):
            continue
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_docker_check_is_fast_and_false_without_an_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """With DOCKER_HOST on a closed port, the container path is passed over quickly."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    t0 = time.monotonic()
    assert backends._docker_answers() is False
    assert time.monotonic() - t0 < 10


def test_mysql_url_is_parsed() -> None:
    """A mysql:// URL gives PyMySQL's arguments; another scheme says what to write."""
    args = backends.parse_mysql_url("mysql://u:p%40ss@db.example:3307/app")
    assert args == {"host": "db.example", "port": 3307, "user": "u", "password": "p@ss",
                    "database": "app"}  # fmt: skip
    with pytest.raises(BackendUnavailable, match="mysql://user:password@host:3306/database"):
        backends.parse_mysql_url("postgres://x")


@pytest.mark.parametrize(
    ("host", "tls_off"),
    [("127.0.0.1", True), ("localhost", True), ("[::1]", True), ("db.example", False)],
)
def test_mysql_connections_to_loopback_build_no_ssl_context(
    monkeypatch: pytest.MonkeyPatch, host: str, tls_off: bool
) -> None:
    """Loopback: TLS off (no SSL context, ~20 ms of CPU, per connection); elsewhere PyMySQL's default."""
    import pymysql

    seen: dict[str, object] = {}
    monkeypatch.setattr(pymysql, "connect", lambda **kw: seen.update(kw))
    backends.mysql_connect(f"mysql://root@{host}:3306/test")
    assert seen.get("ssl_disabled") is (True if tls_off else None)


def test_cleanup_refuses_a_short_namespace() -> None:
    """A namespace too short to be ours is never used as a deletion pattern."""
    with pytest.raises(ValueError, match="short namespace"):
        backends.cleanup_namespace("dc", "redis://127.0.0.1:6379/0", None)


@pytest.mark.skipif(
    not (backends.PrivateRedis.available() and backends.PrivateMariaDB.available()),
    reason="redis-server and mariadbd are not on PATH",
)
def test_private_servers_stop_after_ctrl_c(tmp_path: Path) -> None:
    """Ctrl-C during `distconform verify` with no URLs leaves no private server running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTCONFORM_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "distconform.cli", "verify", "lock", "redis", "mysql",
         "--report-dir", str(tmp_path)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, as a shell's foreground job
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        servers: dict[int, str] = {}
        while time.monotonic() < deadline:
            servers = {p: c for p, c in _children(proc.pid).items()
                       if "redis-server" in c or "mariadbd" in c}  # fmt: skip
            if len(servers) == 2:
                break
            time.sleep(0.1)
        assert len(servers) == 2, f"private servers did not start: {servers}"
        time.sleep(2)  # let the run get going
        # Ctrl-C in a terminal signals the whole foreground process group: verify
        # and its test workers (a SIGINT to verify alone, while pytest-xdist was
        # starting its workers, was once lost and the run went on to the end).
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=90)
        # 130, as a shell reports Ctrl-C; no clause table (a partial one read as verdicts).
        assert proc.returncode == 130, (proc.returncode, out[-2000:], err[-2000:])
        assert "score" not in out, out[-2000:]
        assert "interrupted; no verdict" in err, err[-2000:]
        # The servers' own output stays in their folders (it showed MariaDB's warnings).
        assert "max_open_files" not in err + out, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [c for p, c in servers.items() if _alive(p)], "a private server outlived Ctrl-C"


@pytest.mark.skipif(not backends.PrivateRedis.available(), reason="redis-server is not on PATH")
def test_a_private_server_whose_port_another_server_took_moves_on(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Another server takes the port between mirakuru's check and our server's bind.

    mirakuru then sees the port answer while ours exits (it could not bind),
    and the suite would talk to the other server: a fault test's SIGSTOP,
    sent to our pid, stopped nothing, and a lock acquire "against a paused
    server" was granted at once (seen in a full run). Played here by a
    mirakuru that finds the port free when it is not.
    """
    from mirakuru import TCPExecutor

    other = backends.PrivateRedis().start()
    try:
        ours = backends.PrivateRedis()
        ours.port = other.port
        real_check, checked = TCPExecutor.pre_start_check, set()

        def port_looks_free_at_first(self) -> bool:  # type: ignore[no-untyped-def]
            # mirakuru asks before starting (AlreadyRunning when it answers), then
            # polls the same check until the port answers.
            if id(self) not in checked:
                checked.add(id(self))
                return False
            return bool(real_check(self))

        monkeypatch.setattr(TCPExecutor, "pre_start_check", port_looks_free_at_first)
        ours.start()
        try:
            assert ours.port != other.port
            r = backends.redis_client(ours.url)
            try:
                assert int(r.info("server")["process_id"]) == ours.pid
            finally:
                r.close()
        finally:
            ours.stop()
    finally:
        other.stop()


@pytest.mark.skipif(not backends.PrivateMariaDB.available(), reason="mariadbd is not on PATH")
def test_a_private_mariadb_knows_another_server_on_its_port(dc_backends) -> None:  # type: ignore[no-untyped-def]
    """The readiness check of a private MariaDB tells another MariaDB on its port by its datadir."""
    dc_backends.ensure("mysql")  # the run's server stands in for the other one
    given = backends.parse_mysql_url(dc_backends.mysql_url)
    if given["host"] != "127.0.0.1" or given["user"] != "root" or given["password"]:
        pytest.skip("the check logs in as a private server's root: needs such a server here")
    fake = object.__new__(backends.PrivateMariaDB)
    fake.port = given["port"]
    fake.datadir = "/nonexistent/distconform-datadir"
    with pytest.raises(backends._Foreign, match="ours is /nonexistent"):
        fake._ready()


@pytest.mark.skipif(not backends.PrivateMariaDB.available(), reason="mariadbd is not on PATH")
def test_a_private_mariadb_keeps_its_temporary_files_to_itself() -> None:
    """Its bootstrap and its server use a tmpdir in its own folder, not the shared /tmp.

    MariaDB removes the #sql* files it finds in its tmpdir when it starts: with
    /tmp shared, a starting private server deleted another's temporary tables,
    and a bootstrap failed twice ("Can't find file: '/tmp/#sql-temptable-...MAI'")
    in a fresh-clone run.
    """
    server = backends.PrivateMariaDB()
    try:
        assert server.tmpdir.startswith(server.dir + os.sep) and os.path.isdir(server.tmpdir)
        assert f"--tmpdir={server.tmpdir}" in server.command()
        server.start()
        conn = backends.mysql_connect(server.url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@tmpdir")
                assert os.path.realpath(cur.fetchone()[0]) == os.path.realpath(server.tmpdir)
        finally:
            conn.close()
    finally:
        server.stop()

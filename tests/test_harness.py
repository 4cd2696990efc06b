"""The harness on its own: not-applicable by capability, hangs, reports, isolation."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from distconform import backends, clauses, report


def _results(folder: Path) -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    data = json.loads((folder / "report.json").read_text())
    return {(r["implementation"], r["clause"]): r for r in data["results"]}


def test_undeclared_capability_is_not_applicable_and_base_clauses_run(cli, tmp_path: Path) -> None:
    """Without `fencing`/`extend`, those clauses are n/a; base clauses still run and pass."""
    out = tmp_path / "rep"
    r = cli("verify", "lock", "dc_samples:no_fencing", "--report-dir", str(out),
            "-k", "tokens or paused or extend or release_frees")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    res = _results(out)
    for cid in ("LOCK-12", "LOCK-13", "LOCK-14", "LOCK-15"):
        assert res[("dc_samples:no_fencing", cid)]["outcome"] == "n/a", cid
    assert res[("dc_samples:no_fencing", "LOCK-2")]["outcome"] == "pass"
    # A clause with no capability requirement can never be n/a.
    for c in clauses.load("lock"):
        if c.requires is None:
            assert res[("dc_samples:no_fencing", c.id)]["outcome"] != "n/a", c.id
    assert "n/a" in r.stdout and "LOCK-12" in r.stdout


def test_hanging_implementation_fails_with_the_call_named(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    """A call that never returns fails its test after --call-timeout; the run goes on."""
    import subprocess
    import sys

    out = tmp_path / "rep"
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "distconform.conformance.test_lock",
         "--impl", "lock=dc_samples:hanging", "--call-timeout", "1", "-p", "no:cacheprovider",
         "-k", "release_frees or different_names", "--dc-report-dir", str(out), "-q"],
        capture_output=True, text=True, timeout=120, env=child_env, cwd=tmp_path,
    )  # fmt: skip
    elapsed = time.monotonic() - t0
    res = _results(out)
    hung = res[("dc_samples:hanging", "LOCK-2")]
    assert hung["outcome"] == "fail", hung
    assert "acquire() did not return within 1.0s" in hung["message"]
    # The other test (names other than "res") ran and passed after the hang.
    assert res[("dc_samples:hanging", "LOCK-11")]["outcome"] == "pass"
    assert elapsed < 60, f"the run took {elapsed:.0f}s"
    assert r.returncode == 1


def test_report_scores_count_only_applicable() -> None:
    """score() is passed / applicable; n/a and not-run are left out."""
    data = {"results": [
        {"mechanism": "lock", "implementation": "x", "outcome": o, "clause": f"LOCK-{i}"}
        for i, o in enumerate(["pass", "pass", "fail", "n/a", "not-run", "skipped", "error"])
    ]}  # fmt: skip
    assert report.score(data, "lock", "x") == (2, 5)


def test_spec_parser_refuses_a_repeated_id() -> None:
    """A clause ID defined twice is an error."""
    text = "| LOCK-1 | MUST | - | One. |\n| LOCK-1 | MUST | - | Two. |\n"
    with pytest.raises(clauses.SpecError, match="defined twice"):
        clauses.parse(text, "lock")


def test_check_passes_on_this_tree() -> None:
    """Every clause has a test, every cited clause exists."""
    from distconform import check

    assert check.run(Path(__file__).resolve().parents[1]) == []


def test_check_finds_an_unknown_citation(tmp_path: Path) -> None:
    """A test citing a clause that no spec defines is reported."""
    from distconform import check

    (tmp_path / "properties").mkdir()
    (tmp_path / "properties" / "test_x.py").write_text(
        "import pytest\n@pytest.mark.clause('LOCK-99')\ndef test_x(): pass\n"
    )
    problems = check.run(tmp_path)
    assert any("LOCK-99" in p for p in problems), problems


def test_shared_servers_keep_unrelated_data(cli, tmp_path: Path) -> None:
    """Keys and tables the suite did not create survive a conformance run on the shared servers."""
    import os

    redis_url = os.environ.get(backends.ENV_REDIS, "redis://127.0.0.1:6379/0")
    mysql_url = os.environ.get(backends.ENV_MYSQL, "mysql://root@127.0.0.1:3306/test")
    tag = uuid.uuid4().hex[:10]
    canary_keys = {f"canary_{tag}_{i}": f"v{i}" for i in range(5)}
    # A key that starts like our namespaces but is not one of this run's.
    canary_keys[f"dc_{tag}"] = "looks-like-ours"
    table = f"canary_{tag}"
    r = backends.redis_client(redis_url)
    conn = backends.mysql_connect(mysql_url)
    try:
        r.mset(canary_keys)
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{table}` (id INT PRIMARY KEY, v VARCHAR(10))")
            cur.execute(f"INSERT INTO `{table}` VALUES (1, 'kept')")
        res = cli("verify", "lock", "redis", "mysql", "--report-dir", str(tmp_path / "rep"))
        assert res.returncode == 0, res.stdout + res.stderr
        assert r.mget(list(canary_keys)) == [v.encode() for v in canary_keys.values()]
        with conn.cursor() as cur:
            cur.execute(f"SELECT v FROM `{table}`")
            assert cur.fetchall() == (("kept",),)
    finally:
        r.delete(*canary_keys)
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")  # our own canary only
        r.close()
        conn.close()


@pytest.mark.parametrize("mech", ["lock", "lru", "ratelimit", "twopc", "hotwarm"])
def test_memory_reference_follows_its_protocols(mech: str) -> None:
    """The in-memory reference's client is an instance of the mechanism's Protocol classes."""
    from distconform import mechanisms
    from distconform.adapters import resolve
    from distconform.api import Context, new_namespace

    m = mechanisms.get(mech)
    impl = resolve(m, "memory").build(Context(namespace=new_namespace()))
    client = impl.client()
    try:
        assert isinstance(client, m.protocol)
        for cap in impl.capabilities & set(m.capability_protocols):
            assert isinstance(client, m.capability_protocols[cap]), cap
        assert not isinstance(object(), m.protocol)
    finally:
        if impl.close is not None:
            impl.close()


class _ThreadProbe:
    """A client whose calls report the thread they run on, or block."""

    def __init__(self) -> None:
        import threading

        self.gate = threading.Event()

    def where(self) -> int:
        import threading

        return threading.get_ident()

    def block(self) -> None:
        self.gate.wait(30)


def test_on_thread_runs_calls_on_one_thread_per_index() -> None:
    """on_thread(k) runs on the client's k-th thread: distinct per k, the same for the same k."""
    import threading

    from distconform.guard import Guarded

    g = Guarded(_ThreadProbe(), "probe", limit=5.0)
    try:
        t0, t1, t2 = (g.on_thread(k).where() for k in (0, 1, 2))
        assert len({t0, t1, t2, threading.get_ident()}) == 4
        assert g.where() == t0 and g.on_thread(0).where() == t0
        assert g.on_thread(1).where() == t1 and g.on_thread(1).on_thread(2).where() == t2
        assert g.on_thread(1).unwrapped is g.unwrapped
        with pytest.raises(ValueError, match="thread index"):
            g.on_thread(-1)
    finally:
        g.shutdown()
    live = {t.ident for t in threading.enumerate()}
    deadline = time.monotonic() + 5
    while {t0, t1, t2} & live and time.monotonic() < deadline:
        time.sleep(0.01)
        live = {t.ident for t in threading.enumerate()}
    assert not {t0, t1, t2} & live, "shutdown() left a worker thread running"


def test_on_thread_keeps_the_time_limit_and_the_call_note() -> None:
    """A call on thread k > 0 that hangs times out naming the call; thread 0 is still free."""
    from distconform.errors import CallTimeout
    from distconform.guard import Guarded

    probe = _ThreadProbe()
    g = Guarded(probe, "probe", limit=0.3)
    try:
        t0 = time.monotonic()
        with pytest.raises(CallTimeout, match=r"probe@thread1\.block\(\) did not return") as info:
            g.on_thread(1).block()
        assert 0.3 <= time.monotonic() - t0 < 5
        assert any("call: probe@thread1.block()" in n for n in info.value.__notes__)
        # Thread 1 is stuck; the client's other threads still serve calls.
        assert isinstance(g.where(), int) and isinstance(g.on_thread(2).where(), int)
    finally:
        probe.gate.set()
        g.shutdown()


def test_clause_option_selects_tests_by_clause(cli, tmp_path: Path) -> None:
    """``--clause`` runs only the tagged tests; ``IMPL=ID`` only for that implementation."""
    import json

    res = cli(
        "verify", "lock", "memory", "distconform.known_bad.lock:release_noop",
        "--clause", "LOCK-1[01]", "--clause", "memory=LOCK-9",
        "--report-dir", str(tmp_path / "rep"), "-n", "0",
    )  # fmt: skip
    assert res.returncode in (0, 1), res.stdout + res.stderr
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    ran = {
        (r["implementation"], r["clause"])
        for r in data["results"]
        if r["outcome"] not in ("not-run", "n/a")
    }
    noop = "distconform.known_bad.lock:release_noop"
    assert ran == {("memory", "LOCK-10"), ("memory", "LOCK-11"), ("memory", "LOCK-9")} | {
        (noop, "LOCK-10"),
        (noop, "LOCK-11"),
    }, sorted(ran)


def test_a_vote_that_came_after_the_prepare_timeout_excuses_the_abort(cli, tmp_path: Path) -> None:
    """TWOPC-10: p1's yes is due at 0.7 T but a starved participant answers after T: inconclusive.

    The coordinator (the memory reference) rightly aborts; a failed clause
    would blame it for the machine's slowness.
    """
    out = tmp_path / "rep"
    r = cli("verify", "twopc", "dc_samples:starved_participants", "--report-dir", str(out),
            "-k", "votes_before", "-n", "0")  # fmt: skip
    res = _results(out)[("dc_samples:starved_participants", "TWOPC-10")]
    assert res["outcome"] == "error", r.stdout + r.stderr
    assert "after the prepare timeout" in res["message"], res["message"]

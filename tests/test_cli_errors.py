"""Bad input ends with one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import pytest


def _one_line_error(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["verify", "nosuchmech"], ["unknown mechanism 'nosuchmech'", "lock"]),
        (["verify", "lock", "no_such_module:factory"], ["cannot import module 'no_such_module'"]),
        (
            ["verify", "lock", "distconform.api:no_such_factory"],
            ["has no attribute 'no_such_factory'"],
        ),
        (
            ["verify", "lock", "no-such-name"],
            ["unknown lock implementation 'no-such-name'", "memory"],
        ),
        (["verify", "lock", "distconform.api:FORMAT"], ["has no attribute"]),
        (["verify", "lock", "dc_samples:no_methods"], ["lacks method(s) acquire, release"]),
        (["verify", "lock", "dc_samples:claims_extend"], ["lacks method(s) extend"]),
        (
            ["verify", "lock", "dc_samples:not_an_implementation"],
            ["returned dict", "Implementation"],
        ),
        (
            ["verify", "lock", "redis", "--redis-url", "redis://127.0.0.1:1/0"],
            ["cannot reach Redis"],
        ),
        (
            ["verify", "lock", "mysql", "--mysql-url", "mysql://root@127.0.0.1:1/test"],
            ["cannot reach MySQL"],
        ),
        (
            ["verify", "lock", "redis", "--redis-url", "http://127.0.0.1:6379"],
            ["must start with redis://"],
        ),
        (["report", "/nonexistent/report.json"], ["no report at"]),
        (["verify", "lock", "memory", "--clause", "LOCK-99x"], ["--clause", "matches no clause"]),
        (["verify", "lock", "memory", "--clause", "=LOCK-1"], ["--clause", "IMPL=LOCK-8"]),
        (["verify", "lock", "memory", "--workers", "-1"], ["--workers -1", "0 (one process)"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, args, needles) -> None:  # type: ignore[no-untyped-def]
    """Each kind of bad input names the problem and what to do, in one line."""
    _one_line_error(cli(*args, timeout=120), *needles)


def test_pytest_with_bad_impl_is_a_usage_error(tmp_path, child_env) -> None:  # type: ignore[no-untyped-def]
    """Under plain pytest, a bad --impl is a usage error, not a crash in a test."""
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "distconform.conformance",
         "--impl", "lock=no_such_module:f", "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=120, env=child_env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 4, r.stdout + r.stderr
    assert "cannot import module 'no_such_module'" in r.stderr
    assert "Traceback" not in r.stderr


def test_empty_selection_is_exit_2_and_keeps_the_last_report(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A -k that matches nothing says so (exit 2) and leaves the previous report as it was."""
    rep = tmp_path / "rep"
    first = cli(
        "verify", "lock", "memory", "--clause", "LOCK-9", "--report-dir", str(rep), "-n", "0"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    before = {p.name: p.read_bytes() for p in rep.iterdir()}
    assert {"report.json", "report.md"} <= set(before)
    res = cli(
        "verify", "lock", "memory", "-k", "matches_no_test", "--report-dir", str(rep), "-n", "0"
    )
    _one_line_error(res, "no test matched -k 'matches_no_test'", "left as it was")
    assert {p.name: p.read_bytes() for p in rep.iterdir()} == before


def test_version_and_no_benchmarks_folder(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--version names the package version; verify leaves no .benchmarks/ in the current folder."""
    from importlib.metadata import version

    res = cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"distconform {version('distconform')}"
    run = cli("verify", "lock", "memory", "--clause", "LOCK-9", "--report-dir", "rep", "-n", "0")
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_stale_server_url_in_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A dead $DISTCONFORM_REDIS_URL stops only runs that need Redis, and the error says whence."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, DISTCONFORM_REDIS_URL="redis://127.0.0.1:1/0")
    env["PYTEST_ADDOPTS"] = ""

    def verify(impl: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "distconform.cli", "verify", "lock", impl,
             "--clause", "LOCK-9", "-n", "0", "--report-dir", str(tmp_path / impl)],
            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
        )  # fmt: skip

    memory = verify("memory")
    assert memory.returncode == 0, memory.stdout[-2000:] + memory.stderr[-2000:]
    _one_line_error(verify("redis"), "cannot reach Redis", "came from $DISTCONFORM_REDIS_URL")

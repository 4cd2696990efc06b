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

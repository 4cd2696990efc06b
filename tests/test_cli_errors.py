"""Bad input ends with one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

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


@pytest.mark.parametrize(("value", "needle"), [("many", "write a number"), ("-2", "0 (one")])
def test_bad_workers_in_the_environment_is_one_line(cli, monkeypatch, value, needle) -> None:  # type: ignore[no-untyped-def]
    """$DISTCONFORM_WORKERS, verify's default for -n, is checked as -n is, and named."""
    monkeypatch.setenv("DISTCONFORM_WORKERS", value)
    _one_line_error(cli("verify", "lock", "memory", timeout=120), "$DISTCONFORM_WORKERS", needle)


def test_workers_default_comes_from_the_environment(monkeypatch) -> None:
    """-n's default is $DISTCONFORM_WORKERS when set, 8 otherwise; -n wins over both."""
    from distconform import cli as dc_cli

    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("DISTCONFORM_WORKERS", raising=False)
    assert dc_cli._worker_args(None)[:2] == ["-n", str(dc_cli.DEFAULT_WORKERS)]
    monkeypatch.setenv("DISTCONFORM_WORKERS", "3")
    assert dc_cli._worker_args(None)[:2] == ["-n", "3"]
    assert dc_cli._worker_args(5)[:2] == ["-n", "5"]
    monkeypatch.setenv("DISTCONFORM_WORKERS", "0")
    assert dc_cli._worker_args(None) == ["-p", "no:xdist"]


def test_a_factory_that_fails_stops_verify_before_any_server(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """A factory that raises is one line and exit 2, and no server is looked for or started first."""
    from distconform import backends
    from distconform import cli as dc_cli
    from distconform.errors import UsageError

    (tmp_path / "broken_factory.py").write_text(
        "def factory(ctx):\n    raise RuntimeError('no settings file')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    looked_for: list[object] = []

    def resolve(*args, **kwargs):  # type: ignore[no-untyped-def]
        looked_for.append(kwargs.get("kinds"))
        raise UsageError(f"looked for servers {kwargs.get('kinds')}")

    monkeypatch.setattr(backends, "resolve", resolve)
    code = dc_cli.main(["verify", "lock", "broken_factory:factory", "--report-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert looked_for == [], f"servers were looked for first: {err}"
    assert code == 2 and len(err.splitlines()) == 1, (code, err)
    assert "'broken_factory:factory' failed to start: RuntimeError: no settings file" in err


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


@pytest.mark.parametrize("where", ["conformance", "--pyargs distconform.conformance"])
def test_pytest_with_one_mechanism_skips_the_others(where, tmp_path, child_env) -> None:  # type: ignore[no-untyped-def]
    """`pytest conformance --impl lock=memory`: other mechanisms' tests skip, saying why.

    They ended in INTERNALERROR ('NotSetType' object has no attribute
    'mechanism'): pytest's empty parameter set reached the report hook (issue 18).
    """
    import subprocess
    import sys
    from pathlib import Path

    r = subprocess.run(
        [sys.executable, "-m", "pytest", *where.split(), "--impl", "lock=memory",
         "--clause", "LOCK-2", "--clause", "LRU-1", "-rs", "--dc-report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=child_env,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "INTERNALERROR" not in r.stdout + r.stderr
    assert "no lru implementation selected (--impl lru=...)" in r.stdout, r.stdout[-3000:]
    results = json.loads((tmp_path / "report.json").read_text())["results"]
    assert {(x["clause"], x["implementation"]) for x in results if x["outcome"] == "pass"} == {
        ("LOCK-2", "memory")
    }


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (history/ too) with its content."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_empty_selection_is_exit_2_and_keeps_the_last_report(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A -k that matches nothing says so (exit 2) and leaves the previous report as it was."""
    rep = tmp_path / "rep"
    first = cli(
        "verify", "lock", "memory", "--clause", "LOCK-9", "--report-dir", str(rep), "-n", "0"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    before = _files(rep)
    assert {"report.json", "report.md"} <= set(before)
    res = cli(
        "verify", "lock", "memory", "-k", "matches_no_test", "--report-dir", str(rep), "-n", "0"
    )
    _one_line_error(res, "no test matched -k 'matches_no_test'", "left as it was")
    assert _files(rep) == before


def test_version_names_the_package_version(cli) -> None:  # type: ignore[no-untyped-def]
    """--version prints the installed package's version."""
    from importlib.metadata import version

    res = cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"distconform {version('distconform')}"


def test_verify_leaves_no_benchmarks_folder(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """verify leaves only its report in the current folder (pytest-benchmark left .benchmarks/)."""
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


def test_list_is_a_table_that_marks_what_cannot_load(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`list` aligns its columns, and an adapter whose library is missing says how to get it."""
    import subprocess
    import sys

    from distconform import cli as dc_cli
    from distconform import mechanisms

    res = subprocess.run(
        [sys.executable, "-m", "distconform.cli", "list", "lock"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = res.stdout.splitlines()
    assert res.returncode == 0 and lines[0].split() == [
        "MECHANISM",
        "NAME",
        "KIND",
        "SPEC",
        "STATUS",
    ]
    assert any(ln.split()[:3] == ["lock", "memory", "reference"] for ln in lines[1:])
    assert (
        len({ln.index(" reference ") if " reference " in ln else None for ln in lines} - {None})
        == 1
    )
    (tmp_path / "needs_lib.py").write_text(
        "from distconform.thirdparty import _require\n"
        "def factory(ctx):\n    _require('no_such_lib_dc', 'no-such-lib')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    status = dc_cli._loads(mechanisms.get("lock"), "needs_lib:factory")
    assert status.startswith("cannot load: the no-such-lib adapter needs the 'no-such-lib' package")


def test_clauses_prints_the_spec_table() -> None:
    """`clauses MECH` lists id, level, capability and text."""
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "distconform.cli", "clauses", "lock"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    rows = res.stdout.splitlines()
    assert res.returncode == 0 and rows[0].split() == ["CLAUSE", "LEVEL", "NEEDS", "TEXT"]
    assert rows[1].startswith("LOCK-1 ") and "no other client is granted the same lock" in rows[1]
    assert any(r.split()[:3] == ["LOCK-12", "MUST", "fencing"] for r in rows)


class _ClosedPipe:
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_list_quietly(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`distconform list | head -1`: the reader left; list exits 0 without a traceback."""
    from distconform import cli as dc_cli

    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    assert dc_cli.main(["list"]) == 0


def test_clause_table_of_many_implementations_fits_the_terminal(tmp_path, child_env) -> None:  # type: ignore[no-untyped-def]
    """Four implementations, one MODULE:FACTORY: the table fits 80 columns, a legend names them.

    With full names as column heads it was 113 characters wide and wrapped (issue 18).
    """
    import subprocess
    import sys

    impls = ["memory", "redis", "redis-py-thread-local-off", "dc_samples:no_fencing"]
    env = dict(child_env, COLUMNS="80")
    r = subprocess.run(
        [sys.executable, "-m", "distconform.cli", "verify", "lock", *impls,
         "--clause", "LOCK-2", "-n", "0", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    table = r.stdout[r.stdout.index("[lock]") : r.stdout.rindex("\nreport: ")].splitlines()
    assert max(len(line) for line in table) <= 80, "\n".join(table)
    assert table[1].split() == ["clause", "level", "A", "B", "C", "D"], table[1]
    assert [line.split() for line in table if line.strip()][-4:] == [
        [key, name] for key, name in zip("ABCD", impls, strict=True)
    ], "\n".join(table)
    assert ["LOCK-2", "MUST", "pass", "pass", "pass", "pass"] in [ln.split() for ln in table]

"""Side-by-side runs (pytest-xdist): one merged report, and the same verdicts as one process.

The project's pyproject.toml sets ``distconform_workers``; the plugin then adds
``-n N --dist loadgroup`` unless the command line says otherwise. Each worker
sends its results with its test reports and its servers and calibration at the
end; the controller alone writes report.json and report.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

#: Child runs of a few seconds each; the bound only stops a hung run on a loaded machine.
CHILD_TIMEOUT = 600


PAR_TEST = textwrap.dedent(
    """
    import time
    import pytest

    MECHANISM = "lock"


    @pytest.mark.clause("LOCK-8")
    @pytest.mark.parametrize("n", range(4))
    def test_timed(impl, timing, n):
        c = impl.client("a")
        spans = []
        for _ in range(3):
            t0 = time.monotonic()
            g = c.acquire(f"res{n}", 5.0, 0.0)
            spans.append(time.monotonic() - t0)
            assert g is not None and c.release(g)
        time.sleep(0.3)  # keeps this worker busy, so that the other one takes tests too
        timing.check("fast acquire", spans, at_most=0.0, tight=timing.tight(impl), loose=1.0)


    @pytest.mark.clause("LOCK-9")
    def test_planted_failure(impl):
        assert False, "planted"

    """
)

TOGETHER_TEST = textwrap.dedent(
    """
    import os
    import pathlib
    import time

    import pytest


    @pytest.mark.parametrize("n", range(3))
    def test_grouped(n):
        # Each test notes the worker it ran on (none without workers).
        with open(pathlib.Path(__file__).parent / "grouped.txt", "a") as f:
            print(os.environ.get("PYTEST_XDIST_WORKER", "-"), file=f)
        time.sleep(0.2)
    """
)

PYPROJECT = textwrap.dedent(
    """
    [tool.pytest.ini_options]
    distconform_workers = "2"
    distconform_one_worker = ["test_together.py"]
    """
)


def _run(
    tmp: Path, env: dict[str, str], *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp / "rep"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_par.py", "test_together.py", "--impl", "lock=memory",
         "-p", "no:cacheprovider", "--dc-report-dir", str(out), *extra],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=env, cwd=tmp,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the planted failure
    return proc, json.loads((out / "report.json").read_text(encoding="utf-8"))


def _verdicts(data: dict[str, Any]) -> dict[tuple[str, str], tuple[str, list[str]]]:
    return {
        (r["implementation"], r["clause"]): (r["outcome"], sorted(r["tests"]))
        for r in data["results"]
        if r["outcome"] != "not-run"
    }


@pytest.fixture
def project(tmp_path: Path, child_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A folder whose ini file asks for 2 workers, and an environment that does not forbid them."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "test_par.py").write_text(PAR_TEST)
    (tmp_path / "test_together.py").write_text(TOGETHER_TEST)
    env = {k: v for k, v in child_env.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    return tmp_path, env


@pytest.mark.timeout(CHILD_TIMEOUT + 60)
def test_workers_write_one_merged_report(project: tuple[Path, dict[str, str]]) -> None:
    """The ini file starts 2 workers; the one report holds every test, implementation and calibration."""
    tmp, env = project
    proc, data = _run(tmp, env)
    assert "2 workers" in proc.stdout, proc.stdout
    names = {f"test_par.py::test_timed[memory-{n}]" for n in range(4)}
    rows = _verdicts(data)
    assert rows[("memory", "LOCK-8")] == ("pass", sorted(names))
    assert rows[("memory", "LOCK-9")] == ("fail", ["test_par.py::test_planted_failure[memory]"])
    assert [(i["mechanism"], i["name"], i["package"]) for i in data["implementations"]] == [
        ("lock", "memory", "distconform")
    ]
    # Both workers measured their calibration; the headline one is the widest.
    per_worker = data["calibration_per_worker"]
    assert set(per_worker) == {"gw0", "gw1"}
    widest = max(c["tolerance"]["memory"] for c in per_worker.values())
    assert data["calibration"]["tolerance"]["memory"] == widest
    timing = next(r for r in data["results"] if r["clause"] == "LOCK-8")["timing"]
    assert len(timing) == 4 and all(t["tight_ok"] is not None for t in timing)
    assert "distconform timing calibration (gw0)" in proc.stdout
    assert "distconform timing calibration (gw1)" in proc.stdout
    assert "## Timing calibration" in (tmp / "rep" / "report.md").read_text(encoding="utf-8")
    # distconform_one_worker keeps a file's tests on one worker.
    ran_on = (tmp / "grouped.txt").read_text(encoding="utf-8").split()
    assert len(ran_on) == 3 and len(set(ran_on)) == 1 and ran_on[0].startswith("gw"), ran_on


@pytest.mark.timeout(CHILD_TIMEOUT + 60)
@pytest.mark.parametrize("off", [["-p", "no:xdist"], ["-n", "0"]], ids=["no-xdist", "n0"])
def test_one_process_gives_the_same_verdicts(
    project: tuple[Path, dict[str, str]], off: list[str]
) -> None:
    """``-p no:xdist`` and ``-n 0`` still work, and decide every clause as the workers do."""
    tmp, env = project
    proc, single = _run(tmp, env, *off)
    assert "workers" not in proc.stdout, proc.stdout
    # The verdicts test_workers_write_one_merged_report requires of the workers.
    names = sorted(f"test_par.py::test_timed[memory-{n}]" for n in range(4))
    assert _verdicts(single) == {
        ("memory", "LOCK-8"): ("pass", names),
        ("memory", "LOCK-9"): ("fail", ["test_par.py::test_planted_failure[memory]"]),
    }
    assert "calibration_per_worker" not in single
    assert single["calibration"] is not None
    assert "distconform timing calibration:" in proc.stdout


def test_child_runs_of_tests_use_one_process(child_env: dict[str, str]) -> None:
    """Child pytest runs started by tests (child_env) do not start workers of their own."""
    assert "-p no:xdist" in child_env["PYTEST_ADDOPTS"]


@pytest.mark.parametrize("listening", [True, False], ids=["listening", "bound"])
def test_private_server_moves_off_a_taken_port(listening: bool) -> None:
    """A port taken between free_port() and the first start does not stop a private server.

    Workers side by side start private servers at the same time; a port one of
    them was given may be taken by another before its server binds it.
    """
    import socket

    from distconform import backends

    if not backends.PrivateRedis.available():
        pytest.skip("redis-server is not on PATH")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        if listening:
            taken.listen()
        port = taken.getsockname()[1]
        server = backends.PrivateRedis()
        server.port = port
        try:
            server.start()
            assert server.port != port
            assert backends.check_redis(server.url)
            # A restart keeps the port it was started on: the URL is out by then.
            started_on = server.port
            server.restart()
            assert server.port == started_on
            assert backends.check_redis(server.url)
        finally:
            server.stop()

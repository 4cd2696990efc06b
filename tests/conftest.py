from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# The suite's own run starts about a hundred Python processes (pytest-xdist
# workers, the known-bad child runs, verify runs). On a machine that turns
# bytecode caching off (PYTHONDONTWRITEBYTECODE, as this project's CI machines
# do) each of them compiles every module it imports and rewrites every test
# module anew: the full run took 494 s of CPU and 5:35 on 2 cores, against
# 388 s and 4:48 with caching. So this run and the processes it starts cache
# bytecode (in __pycache__ folders, which .gitignore lists); this conftest is
# loaded before pytest-xdist starts its workers, which inherit the
# environment. A user's own runs of the suite's tests against their
# implementation (pytest --pyargs distconform.conformance) are left alone.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def servers_env() -> dict[str, str]:
    """The environment for a child run: this run's servers, and tests/ on the path."""
    env = dict(os.environ)
    env.setdefault("DISTCONFORM_REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("DISTCONFORM_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    # A child pytest runs in one process (the ini file's distconform_workers
    # would start pytest-xdist workers in it); the parent runs children side by side.
    env["PYTEST_ADDOPTS"] = " ".join(filter(None, [env.get("PYTEST_ADDOPTS"), "-p no:xdist"]))
    return env


def run_cli(
    *args: str, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``distconform ARGS`` as a user would, in a child process with a time limit.

    As a user would: ``verify`` starts its own test processes (-n), so the
    ``-p no:xdist`` that child pytest runs get is not passed on.
    """
    env = servers_env()
    env["PYTEST_ADDOPTS"] = os.environ.get("PYTEST_ADDOPTS", "")
    # One pytest-xdist worker, not verify's default 8: the results still come
    # through xdist as in a user's run, without seven more interpreters
    # starting (about 1 s of CPU each) in each of the some 45 child runs that
    # share the suite's 2 cores. A test that needs more workers says -n.
    env.setdefault("DISTCONFORM_WORKERS", "1")
    return subprocess.run(
        [sys.executable, "-m", "distconform.cli", *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd or REPO,
    )  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    def call(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, timeout=timeout, cwd=tmp_path)

    return call


@pytest.fixture(scope="session")
def child_env() -> dict[str, str]:
    """Read-only: copy it before changing anything."""
    return servers_env()

"""Installed from a wheel, distconform runs without warnings (issue 18).

The editable install of a clone hides packaging mistakes: a wheel without
``distconform/__init__.py`` made every run warn ``PytestAssertRewriteWarning:
Module already imported so cannot be rewritten; html`` (pytest took
``distconform/html.py`` for a top-level module ``html``). So this test builds
the wheel, installs it alone into a fresh virtual environment and runs a small
``verify`` there.

Offline and quick: the wheel is built by pip from a copy of the tree (build
isolation takes setuptools from the machine's configured package sources, as
``pip install -e`` did), and the new environment has no pip and no
dependencies of its own: a ``.pth`` file puts this environment's
site-packages behind its own, so it imports the wheel's distconform and this
environment's pytest, redis, ... . Building the wheel takes most of the time
(9 s of the 23 s
the whole test took on a 2-core machine shared with other runs), so it is
marked ``slow``: the full suite runs it, ``-m 'not slow'`` leaves it out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Not part of the package: left out of the copy the wheel is built from.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "venv", ".nox", ".distconform", "__pycache__", "build", "dist", "*.egg-info"
)
#: Building a wheel through pip with build isolation; generous for a loaded machine.
BUILD_TIMEOUT = 240


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(
        args, capture_output=True, text=True, timeout=BUILD_TIMEOUT, cwd=cwd, env=env
    )
    assert r.returncode == 0, f"{args} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def _install_wheel(tmp: Path) -> Path:
    """Build the wheel and install it into a new environment; return its python."""
    shutil.copytree(REPO, tmp / "src", ignore=NOT_SOURCES)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(tmp / "src"),
          "-w", str(tmp / "dist")], cwd=tmp)  # fmt: skip
    (wheel,) = (tmp / "dist").glob("distconform-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], cwd=tmp)
    python = tmp / "venv" / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
             cwd=tmp).strip()
    )  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
         cwd=tmp)  # fmt: skip
    return python


@pytest.mark.slow
def test_runs_from_a_wheel_have_no_warnings(tmp_path: Path) -> None:
    """From the wheel, `distconform verify` and `pytest --pyargs` pass LRU-1 and warn nothing."""
    python = _install_wheel(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    where = _run([str(python), "-c", "import distconform.plugin as p; print(p.__file__)"],
                 cwd=tmp_path, env=env)  # fmt: skip
    assert where.startswith(str(tmp_path / "venv")), f"not the wheel's distconform: {where}"
    (tmp_path / "run").mkdir()
    out = _run([str(tmp_path / "venv" / "bin" / "distconform"), "verify", "lru", "memory",
                "--clause", "LRU-1", "-n", "0"], cwd=tmp_path / "run", env=env)  # fmt: skip
    assert "LRU-1" in out and "pass" in out, out
    assert "warning" not in out.lower(), out
    out = _run([str(python), "-m", "pytest", "--pyargs", "distconform.conformance",
                "--impl", "lru=memory", "--clause", "LRU-1"], cwd=tmp_path / "run", env=env)  # fmt: skip
    assert " passed" in out, out
    assert "warning" not in out.lower(), out

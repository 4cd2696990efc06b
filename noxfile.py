"""Developer and CI entry points: ``nox -l`` lists them, ``nox`` runs the default ones.

Arguments after ``--`` go to pytest (or to ``distconform verify`` in ``report``),
e.g. ``nox -s conformance -- --require-backends``. Servers come from the
environment like everywhere else (DISTCONFORM_REDIS_URL, DISTCONFORM_MYSQL_URL).
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "conformance", "properties", "faults", "check", "lint"]

ROOT = Path(__file__).resolve().parent
REPORT_DIR = ".distconform"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


def _pytest(session: nox.Session, folder: str, *extra: str) -> None:
    _install(session)
    session.run("pytest", folder, *extra, *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The harness's own tests."""
    _pytest(session, "tests")


@nox.session
def conformance(session: nox.Session) -> None:
    """The conformance suite against the reference implementations."""
    _pytest(session, "conformance")


@nox.session
def properties(session: nox.Session) -> None:
    """Hypothesis tests: references against the model."""
    _pytest(session, "properties")


@nox.session
def faults(session: nox.Session) -> None:
    """Fault tests on private servers (killed, paused, restarted)."""
    _pytest(session, "faults")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks of every registered implementation to .distconform/pytest-bench.json, summarized.

    (``distconform bench MECH IMPL...`` writes .distconform/bench.json, the report's.)
    """
    (ROOT / REPORT_DIR).mkdir(exist_ok=True)
    _pytest(session, "benchmarks", f"--benchmark-json={REPORT_DIR}/pytest-bench.json")
    session.run("python", "benchmarks/summary.py")


@nox.session
def report(session: nox.Session) -> None:
    """Verify the references, then render report.html, report.md and badges."""
    _install(session)
    # Exit 1 means a MUST clause failed: still render, the report shows which.
    # The `conformance` session is the gate that fails on it.
    session.run("distconform", "verify", "--report-dir", REPORT_DIR, *session.posargs,
                success_codes=[0, 1])  # fmt: skip
    session.run("distconform", "report", f"{REPORT_DIR}/report.json")


@nox.session
def mutate(session: nox.Session) -> None:
    """Mutation testing of the memory references: kill rate per mechanism (`-- lock` for one).

    cosmic-ray mutates a copy of the tree (.distconform/mutate/tree), never this one;
    tests/mutation/run.py says how, pyproject.toml [tool.distconform.mutate] what.
    `-- --jobs 2 lock lru` runs two mechanisms at once.
    """
    script = "tests/mutation/run.py"
    tree = session.run("python", script, "copy", silent=True)
    assert isinstance(tree, str)
    tree = tree.strip().splitlines()[-1]
    session.install("-e", f"{tree}[dev]", "cosmic-ray>=8.3")
    session.run("python", script, "run", "--tree", tree, *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """The suite lints itself: every clause tested, every cited clause real."""
    _install(session)
    session.run("distconform", "check")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")

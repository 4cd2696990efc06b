"""Hypothesis gets the project's profiles at its import; a run that does not use it never imports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: A child interpreter or collection takes a few seconds; the bound only stops a hung one.
CHILD_TIMEOUT = 120


def _python(code: str, env: dict[str, str], cwd: Path = REPO) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=cwd, timeout=CHILD_TIMEOUT)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip()


def test_importing_hypothesis_loads_the_named_profile(child_env: dict[str, str]) -> None:
    read = "from hypothesis import settings as s; d = s.default; print(d.max_examples, d.deadline)"
    env = {k: v for k, v in child_env.items() if k not in ("CI", "DISTCONFORM_HYPOTHESIS_PROFILE")}
    assert _python(read, env) == "30 None"
    assert _python(read, {**env, "DISTCONFORM_HYPOTHESIS_PROFILE": "ci"}) == "150 None"
    assert _python(read, {**env, "CI": "true"}) == "150 None"


def _watching(tmp_path: Path, env: dict[str, str], hook: str) -> dict[str, str]:
    """``env`` with a plugin ``saw_hypothesis`` on the path that says, at ``hook``, whether
    Hypothesis was imported."""
    (tmp_path / "saw_hypothesis.py").write_text(
        f"import sys\n\nimport pytest\n\n\n@pytest.hookimpl(trylast=True)\ndef {hook}():\n"
        "    print('hypothesis imported:', 'hypothesis' in sys.modules)\n"
    )
    return {**env, "PYTHONPATH": f"{tmp_path}:{env.get('PYTHONPATH', '')}"}


def test_a_conformance_run_does_not_import_hypothesis(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    env = _watching(tmp_path, child_env, "pytest_collection_finish")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist",
         "-p", "saw_hypothesis", "--impl", "lru=memory",
         "conformance/test_lru.py"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=CHILD_TIMEOUT,
    )  # fmt: skip
    assert "hypothesis imported: False" in out.stdout, out.stdout + out.stderr


def test_an_install_without_the_entry_point_still_gets_the_profiles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An install made before pyproject named the entry point: the plugin registers them."""
    import importlib.metadata

    from distconform import hypothesis_profiles, plugin

    calls: list[str] = []
    monkeypatch.setattr(hypothesis_profiles, "register", lambda: calls.append("registered"))
    plugin._hypothesis_profiles_without_entry_point()
    assert calls == []  # this install names it: Hypothesis's import does it
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: [])
    plugin._hypothesis_profiles_without_entry_point()
    assert calls == ["registered"]


def test_verify_never_imports_hypothesis(tmp_path: Path, child_env: dict[str, str]) -> None:
    """Not even at the end, where Hypothesis's pytest plugin imports it for its summary."""
    env = _watching(tmp_path, child_env, "pytest_unconfigure")
    env["PYTEST_ADDOPTS"] = "-p saw_hypothesis"
    out = subprocess.run(
        [sys.executable, "-m", "distconform.cli", "verify", "lru", "memory", "-n", "0",
         "-k", "capacity", "--report-dir", str(tmp_path / "rep")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=CHILD_TIMEOUT,
    )  # fmt: skip
    assert "hypothesis imported: False" in out.stdout, out.stdout + out.stderr

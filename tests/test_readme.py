"""The README's promises hold: its adapter runs, and CI runs its test command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    """`.ci/run` runs the README's test command verbatim (plus --require-backends)."""
    commands = [line for b in _blocks("sh") for line in b.splitlines() if line.strip()
                and not line.startswith("#")]  # fmt: skip
    assert len(commands) == 2, commands
    main_job, tests = commands
    assert "distconform verify" in main_job
    assert f"{tests} --require-backends" in (REPO / ".ci" / "run").read_text()


def test_readme_adapter_runs(tmp_path: Path, child_env: dict[str, str]) -> None:
    """The README's example adapter passes the clauses it is run on."""
    (tmp_path / "my_adapter.py").write_text(_blocks("python")[0])
    env = dict(child_env, PYTHONPATH=os.pathsep.join([str(tmp_path), child_env["PYTHONPATH"]]))
    out = tmp_path / "rep"
    r = subprocess.run(
        [sys.executable, "-m", "distconform.cli", "verify", "lock", "my_adapter:factory",
         "--report-dir", str(out), "-k", "release_frees or different_names or non_blocking"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((out / "report.json").read_text())
    # The selection may also match tests of optional abilities the example does
    # not declare (no-ttl, ...): those must be n/a, never run.
    ran = {
        x["clause"]: x["outcome"] for x in data["results"] if x["outcome"] not in ("not-run", "n/a")
    }
    assert ran == {"LOCK-2": "pass", "LOCK-9": "pass", "LOCK-11": "pass"}, ran


def test_readme_states_verifys_worker_count() -> None:
    """The number of test processes the README gives for `verify` is its default."""
    from distconform import cli

    said = re.search(r"`verify` runs (\d+) test\s+processes side by side", README)
    assert said is not None, "the README no longer says how many processes verify runs"
    assert int(said.group(1)) == cli.DEFAULT_WORKERS

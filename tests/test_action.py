"""The GitHub Action: action.yml's structure, the example workflow, and its script run here.

GitHub runs action.yml's steps; here the script they call runs with the inputs as
the environment variables action.yml sets, against the memory LRU (no server), so
what the action does besides setup-python and upload-artifact is tested as it is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
ACTION = REPO / "action.yml"
EXAMPLE = REPO / "examples" / "github-workflow.yml"
BAD = "distconform.known_bad.lru:HoldsOneMore.factory"


def _yaml(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


@pytest.fixture(scope="module")
def action() -> dict[Any, Any]:
    return _yaml(ACTION)


def _verify_step(action: dict[Any, Any]) -> dict[str, Any]:
    return next(s for s in action["runs"]["steps"] if s.get("id") == "verify")


def _script(action: dict[Any, Any]) -> Path:
    m = re.fullmatch(r'bash "\$DISTCONFORM_ACTION_PATH/(\S+)"', _verify_step(action)["run"])
    assert m, _verify_step(action)["run"]
    return REPO / m[1]


def test_action_structure(action: dict[Any, Any]) -> None:
    """A composite action whose steps are complete, whose every input is used and declared."""
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(action)
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert ("uses" in step) != ("run" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", "a composite run step must name its shell"
    for name, spec in action["inputs"].items():
        assert spec.get("description"), name
        assert spec.get("required") or "default" in spec, f"{name}: optional without a default"
    assert [n for n, s in action["inputs"].items() if s.get("required")] == ["mechanism"]
    text = ACTION.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", text))
    assert used == set(action["inputs"]), used ^ set(action["inputs"])
    steps_ids = {s.get("id") for s in action["runs"]["steps"]}
    for name, out in action["outputs"].items():
        m = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", out["value"])
        assert m and m[1] in steps_ids, (name, out)


def test_the_script_reads_what_the_action_sets(action: dict[Any, Any]) -> None:
    """Every INPUT_ variable the script reads is set by the step, and every one set is read."""
    script = _script(action)
    assert script.is_file() and os.access(script, os.R_OK)
    read = set(re.findall(r"\b(INPUT_[A-Z_]+)\b", script.read_text(encoding="utf-8")))
    env = _verify_step(action)["env"]
    assert read == {k for k in env if k.startswith("INPUT_")}
    for key, value in env.items():
        if key.startswith("INPUT_"):  # INPUT_EXTRA_ARGS <- inputs.extra-args
            assert value == "${{ inputs." + key[6:].lower().replace("_", "-") + " }}", key


def test_the_report_is_uploaded_whatever_the_verdict(action: dict[Any, Any]) -> None:
    upload = next(s for s in action["runs"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ steps.verify.outputs.report-dir }}"
    assert upload["with"]["name"] == "${{ inputs.artifact-name }}"


def test_example_workflow_uses_the_action_as_declared(action: dict[Any, Any]) -> None:
    """The example's services are the servers its URLs name; its inputs are the action's."""
    workflow = _yaml(EXAMPLE)
    assert workflow.get("on", workflow.get(True))  # PyYAML reads the key on as True
    (job,) = workflow["jobs"].values()
    ours = next(s for s in job["steps"] if "/distconform@" in s.get("uses", ""))
    given = ours["with"]
    required = {n for n, s in action["inputs"].items() if s.get("required")}
    assert required <= set(given) <= set(action["inputs"])
    assert {"redis", "mariadb"} <= set(job["services"])
    for service, url in (("redis", given["redis-url"]), ("mariadb", given["mysql-url"])):
        port = url.rsplit(":", 1)[1].split("/")[0]
        assert f"{port}:{port}" in job["services"][service]["ports"], (service, url)
        assert "--health-cmd" in job["services"][service]["options"]


def test_readme_shows_the_example_workflow() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"```yaml\n{EXAMPLE.read_text(encoding='utf-8')}```" in readme


def _run_script(
    action: dict[Any, Any], cwd: Path, path: str | None = None, **inputs: str
) -> subprocess.CompletedProcess[str]:
    """The script as the verify step runs it: inputs as INPUT_ variables, suite installed.

    ``path``: the PATH to run it with (default: this Python's folder first).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    if path is not None:
        env["PATH"] = path
    env.update(DISTCONFORM_ACTION_PATH=str(REPO), INPUT_INSTALL_SUITE="false",
               GITHUB_OUTPUT=str(cwd / "github-output"),
               GITHUB_STEP_SUMMARY=str(cwd / "step-summary"))  # fmt: skip
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    return subprocess.run(
        ["bash", str(_script(action))],
        capture_output=True, text=True, timeout=300, env=env, cwd=cwd,
    )  # fmt: skip


def _outputs(cwd: Path) -> dict[str, str]:
    lines = (cwd / "github-output").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_script_verifies_and_reports(action: dict[Any, Any], tmp_path: Path) -> None:
    """lru memory passes: exit 0, the report where the outputs say, the summary is report.md."""
    res = _run_script(action, tmp_path, mechanism="lru", implementations="memory",
                      extra_args="--clause 'LRU-1*' -n 0", report_dir="out/rep")  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    out = _outputs(tmp_path)
    assert out == {"report-dir": str(tmp_path / "out" / "rep"), "exit-code": "0"}
    report = tmp_path / "out" / "rep" / "report.json"
    results = json.loads(report.read_text())["results"]
    judged = {r["clause"] for r in results if r["outcome"] != "not-run"}
    # The glob reached verify unquoted: LRU-1 and LRU-10 ran, not every clause did.
    assert {"LRU-1", "LRU-10"} <= judged < {r["clause"] for r in results}
    assert {r["implementation"] for r in results} == {"memory"}
    assert (tmp_path / "step-summary").read_text() == (report.parent / "report.md").read_text()


def test_script_passes_on_verify_failure_and_the_expectations(
    action: dict[Any, Any], tmp_path: Path
) -> None:
    """A known-bad fails: exit 1 with an error annotation; recorded as expected, exit 0."""
    inputs = {"mechanism": "lru", "implementations": BAD, "extra_args": "--clause LRU-1 -n 0"}
    failed = _run_script(action, tmp_path, **inputs)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert _outputs(tmp_path)["exit-code"] == "1"
    assert "::error title=distconform verify lru::" in failed.stdout

    known = tmp_path / "known.toml"
    known.write_text(f'[lru."{BAD}"]\nLRU-1 = "fail"\nLRU-2 = "fail"\nLRU-3 = "fail"\n')
    matched = _run_script(action, tmp_path, **inputs, expectations=str(known))
    assert matched.returncode == 0, matched.stdout + matched.stderr
    assert f"expectations {known}: 3 clause result(s) judged, 0 mismatch(es)" in matched.stdout


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ({"mechanism": ""}, "the input mechanism is empty"),
        (
            {"mechanism": "lru", "extra_args": "--clause 'LRU-1"},
            "input extra-args: No closing quotation",
        ),
        (
            {"mechanism": "lru", "install_suite": "yes"},
            "install-suite is 'yes': write true or false",
        ),
    ],
)
def test_script_bad_input_is_one_line_and_exit_2(
    action: dict[Any, Any], tmp_path: Path, inputs: dict[str, str], error: str
) -> None:
    res = _run_script(action, tmp_path, **inputs)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.strip().splitlines() == [res.stderr.strip()] and error in res.stderr
    assert _outputs(tmp_path) == {"report-dir": str(tmp_path / ".distconform")}


@pytest.mark.parametrize(
    ("install_suite", "pip_install", "expected"),
    [
        ("true", "-e './my lib' limits==5.1", ["{repo}", "-e", "./my lib", "limits==5.1"]),
        ("true", "", ["{repo}"]),
        ("false", "-e .", ["-e", "."]),
        ("false", "", None),
    ],
)
def test_script_installs_the_suite_and_pip_install(
    action: dict[Any, Any], tmp_path: Path, install_suite: str, pip_install: str,
    expected: list[str] | None,
) -> None:  # fmt: skip
    """What pip is asked to install, seen through a python on PATH that logs pip's arguments.

    The real install of the action's checkout happens on GitHub (it would replace
    this environment's editable install); here only the words handed to pip are checked.
    """
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "pip-args"
    (shim / "python").write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "-m pip" ]; then shift 2; printf "%s\\n" "$@" > {log}; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    (shim / "python").chmod(0o755)
    env_path = os.pathsep.join([str(shim), os.environ["PATH"]])
    res = _run_script(action, tmp_path, mechanism="lru", implementations="memory",
                      extra_args="--clause LRU-8 -n 0", install_suite=install_suite,
                      pip_install=pip_install, path=env_path)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    if expected is None:
        assert not log.exists()
    else:
        words = [w.format(repo=REPO) for w in expected]
        assert log.read_text().splitlines() == [
            "install",
            "--disable-pip-version-check",
            "-q",
            *words,
        ]

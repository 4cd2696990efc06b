"""The report's provenance: where servers came from, whose code ran, which suite commit.

Each field was wrong once: servers `verify` started read as given (they reach
its pytest as URLs), the hot-warm memory reference showed package unknown,
twopc/mysql and hotwarm/redis-sentinel showed only their driver, and a suite
installed from a wheel inside some clone showed that clone's commit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from distconform import backends as _backends
from distconform import mechanisms, report
from distconform.adapters import resolve
from distconform.report import jsondata as _build
from distconform.report.view import provenance

REPO = Path(__file__).resolve().parents[1]
#: verify of one clause on a private Redis: about 3 s here, server start included;
#: 300 s allows for a loaded 2-core machine.
VERIFY_TIMEOUT = 300
#: Building a wheel without dependencies and installing it: about 5 s here.
PIP_TIMEOUT = 300


def _verify(tmp_path: Path, child_env: dict[str, str], *, given: bool) -> dict[str, Any]:
    env = dict(child_env)
    env["PYTEST_ADDOPTS"] = os.environ.get("PYTEST_ADDOPTS", "")
    env.pop(_backends.ENV_STARTED, None)
    if not given:
        env.pop(_backends.ENV_REDIS, None)
    tmp_path.mkdir()
    out = tmp_path / "rep"
    # -n 2: the servers reach pytest-xdist workers too, which resolve them again.
    proc = subprocess.run(
        [sys.executable, "-m", "distconform.cli", "verify", "lock", "redis", "--clause", "LOCK-1",
         "-n", "2", "--report-dir", str(out)],
        capture_output=True, text=True, timeout=VERIFY_TIMEOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data: dict[str, Any] = json.loads((out / "report.json").read_text())
    return data


def test_servers_verify_started_are_not_called_given(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not on PATH: verify could not start one")
    started = _verify(tmp_path / "started", child_env, given=False)["run"]["servers"]["redis"]
    assert started["origin"] in ("private", "testcontainers"), started
    given = _verify(tmp_path / "given", child_env, given=True)
    assert given["run"]["servers"]["redis"]["origin"] == "given"
    page = report.render_html(given)
    assert "given: a URL passed in" in page
    started_page = report.render_html(
        {**given, "run": {**given["run"], "servers": {"redis": started}}}
    )
    assert "started: a private server" in started_page or "started: a container" in started_page


def test_a_server_a_parent_started_is_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mechanism under the test above, without servers: the URL is looked up."""
    monkeypatch.setenv(_backends.ENV_STARTED, json.dumps({"redis://127.0.0.1:1/0": "private"}))
    assert _backends._started() == {"redis://127.0.0.1:1/0": "private"}
    monkeypatch.setenv(_backends.ENV_STARTED, "{not json")
    assert _backends._started() == {}


def _column(mech: str, name: str) -> dict[str, Any]:
    """The report's implementation entry for a registered implementation, as the plugin makes it."""
    mechanism = mechanisms.get(mech)
    adapter = resolve(mechanism, name)
    built = adapter.build(_backends.context_for(_backends.Backends()))
    meta = {"name": adapter.name, "mechanism": mech, "spec": adapter.spec,
            "package": built.package, "capabilities": sorted(built.capabilities),
            "description": built.description, "notes": dict(built.notes)}  # fmt: skip
    test = {"implementation": adapter.name, "mechanism": mech, "spec": adapter.spec,
            "clauses": [], "test": "t", "outcome": "pass", "message": "", "duration": 0.0}  # fmt: skip
    data = report.build([test], {f"{mech}/{name}": meta}, None)
    jsonschema.validate(data, report.json_schema())
    impl: dict[str, Any] = data["implementations"][0]
    return impl


def test_whose_code_ran() -> None:
    version = report.build([], {}, None)["suite"]["version"]
    memory = _column("hotwarm", "memory")
    assert memory["package"] is None, "the premise: the memory reference declares no package"
    assert provenance(memory) == f"distconform {version} (reference)"
    mysql = _column("twopc", "mysql")
    words = provenance(mysql)
    assert words.startswith(f"distconform {version} (reference), driver PyMySQL ")
    assert mysql["code"]["reference"] and mysql["package_version"] in words
    sentinel = provenance(_column("hotwarm", "redis-sentinel"))
    assert sentinel.startswith(f"distconform {version} (reference), driver redis ")
    # A third-party adapter: the library under test is its package, not distconform.
    third = _column("lock", "redis-py")
    assert not third["code"]["reference"]
    assert provenance(third) == f"redis {third['package_version']}"


def test_commit_from_a_clone() -> None:
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
    ).stdout.strip()
    assert _build.suite()["commit"] == head and _build.suite()["commit_source"] == "git"


def test_a_wheel_shows_its_version_and_no_commit(tmp_path: Path) -> None:
    """Built and installed as a user would (no dependencies: this venv has them),
    into a folder inside another git clone, whose commit must not be taken."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
         "-w", str(wheels), str(REPO)],
        check=True, timeout=PIP_TIMEOUT, capture_output=True,
    )  # fmt: skip
    wheel = next(wheels.glob("distconform-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "distconform/report/report.schema.json" in names, "the schema ships in the wheel"
    assert "distconform/report/templates/report.html.j2" in names
    clone = tmp_path / "clone"
    clone.mkdir()
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True, timeout=30)
    site = clone / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
         str(wheel)],
        check=True, timeout=PIP_TIMEOUT, capture_output=True,
    )  # fmt: skip
    probe = (
        "import json, distconform.report as r\n"
        "data = r.build([], {}, None)\n"
        "r.validate(data)\n"
        "print(json.dumps({'file': r.__file__, 'suite': data['suite'],"
        " 'md': r.markdown(data).splitlines()[0], 'html': r.render_html(data)}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env,
        cwd=tmp_path, check=True,
    ).stdout  # fmt: skip
    got = json.loads(out)
    assert got["file"].startswith(str(site)), "the wheel's copy was imported"
    suite = got["suite"]
    assert suite["commit"] is None and suite["commit_source"] is None
    assert suite["version"] == report.build([], {}, None)["suite"]["version"]
    assert (
        got["md"] == f"# distconform report ({suite['version']}, commit none known "
        f"(installed from a package: version {suite['version']}))"
    )
    assert "none known (installed from a package" in got["html"]

"""report.json: per-test outcomes folded into one outcome per implementation and clause.

This is the only module that reads the run (pytest's results, the servers, the
installed packages, git); everything else renders the data it returns.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

from distconform import clauses as _clauses

__all__ = ["FORMAT", "PRECEDENCE", "build"]

FORMAT = 1
#: How one clause's outcome follows from its tests': the first that occurs wins.
PRECEDENCE = ("fail", "error", "skipped", "pass", "n/a")


def _version(package: str | None) -> str | None:
    if not package:
        return None
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )  # fmt: skip
        return out.stdout.strip() or None
    except Exception:
        return None


def _implementations(
    tests: list[dict[str, Any]], impls: dict[str, dict[str, Any]], mechs: list[str]
) -> list[dict[str, Any]]:
    implementations = []
    for meta in impls.values():
        if meta["mechanism"] in mechs:
            implementations.append({**meta, "package_version": _version(meta.get("package"))})
    # Implementations that never got built (skipped before the factory ran).
    known = {(i["mechanism"], i["name"]) for i in implementations}
    for t in tests:
        key = (t["mechanism"], t["implementation"])
        if key not in known:
            known.add(key)
            implementations.append(
                {"name": t["implementation"], "mechanism": t["mechanism"], "spec": t["spec"],
                 "package": None, "package_version": None, "capabilities": [],
                 "description": ""}
            )  # fmt: skip
    return implementations


def _result(
    impl: dict[str, Any], clause: _clauses.Clause, mine: list[dict[str, Any]]
) -> dict[str, Any]:
    outcome = next((o for o in PRECEDENCE if any(t["outcome"] == o for t in mine)), "not-run")
    messages = [f"{t['test']}: {t['message']}" for t in mine if t["outcome"] == outcome
                and t["message"]]  # fmt: skip
    return {
        "implementation": impl["name"],
        "mechanism": impl["mechanism"],
        "clause": clause.id,
        "level": clause.level,
        "outcome": outcome,
        "message": "\n".join(messages)[:4000],
        "duration": round(sum(t["duration"] for t in mine), 4),
        "tests": [t["test"] for t in mine],
        "timing": [{**rec, "test": t["test"]} for t in mine for rec in t.get("timing") or ()],
    }


def build(
    tests: list[dict[str, Any]],
    impls: dict[str, dict[str, Any]],
    backends: Any,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fold per-test outcomes into per-(implementation, clause) outcomes.

    ``calibration`` is :meth:`distconform.calibrate.Calibration.to_json` when
    the run measured one; each result carries the timing checks of its tests.
    """
    mechs = sorted({t["mechanism"] for t in tests})
    clause_defs = {m: _clauses.load(m) for m in mechs}
    implementations = _implementations(tests, impls, mechs)
    results = []
    for impl in implementations:
        for c in clause_defs[impl["mechanism"]]:
            mine = [
                t for t in tests
                if t["implementation"] == impl["name"] and t["mechanism"] == impl["mechanism"]
                and c.id in t["clauses"]
            ]  # fmt: skip
            results.append(_result(impl, c, mine))
    servers = {}
    if backends is not None:
        for kind, version in backends.versions.items():
            servers[kind] = {"version": version, "origin": backends.origin.get(kind)}
    return {
        "format": FORMAT,
        "suite": {
            "name": "distconform",
            "version": _version("distconform"),
            "commit": _git_commit(),
        },
        "run": {
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "servers": servers,
        },
        "calibration": calibration,
        "implementations": implementations,
        "clauses": {
            m: [{"id": c.id, "level": c.level, "requires": c.requires, "text": c.text} for c in cs]
            for m, cs in clause_defs.items()
        },
        "results": results,
        "tests": tests,
    }

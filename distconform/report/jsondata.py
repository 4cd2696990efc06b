"""report.json: per-test outcomes folded into one outcome per implementation and clause.

This is the only module that reads the run (pytest's results, the servers, the
installed packages, git); everything else renders the data it returns.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.metadata
import json
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import distconform.reference
from distconform import clauses as _clauses
from distconform.report.view import scores

__all__ = ["FORMAT", "PRECEDENCE", "build", "code_of", "suite"]

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


def _git(here: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(here), *args], capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip() or None
    except Exception:
        return None


def _git_commit() -> str | None:
    """The commit of the clone this module runs from; None when it was installed.

    A wheel installed into a virtualenv inside some clone sits in that clone's
    folder too: only a file git tracks is the clone's own.
    """
    here = Path(__file__).resolve()
    if _git(here.parent, "ls-files", "--error-unmatch", "--", here.name) is None:
        return None
    return _git(here.parent, "rev-parse", "HEAD")


def _installed_commit() -> str | None:
    """The commit pip recorded when distconform was installed from a git URL (PEP 610)."""
    try:
        text = importlib.metadata.distribution("distconform").read_text("direct_url.json")
        info = json.loads(text or "{}")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    commit = (info.get("vcs_info") or {}).get("commit_id")
    return commit if isinstance(commit, str) else None


def suite() -> dict[str, Any]:
    """The suite's name, version and commit, and where the commit comes from.

    ``commit_source`` is ``git`` (run from a clone), ``installed`` (pip's record
    of a git URL) or None: installed from a wheel or an sdist, no commit is known.
    """
    commit, source = _git_commit(), "git"
    if commit is None:
        commit, source = _installed_commit(), "installed"
    return {
        "name": "distconform",
        "version": _version("distconform"),
        "commit": commit,
        "commit_source": source if commit else None,
    }


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    """Top-level module -> the distributions that install it (a scan of every installed one)."""
    return importlib.metadata.packages_distributions()


def code_of(spec: str) -> dict[str, Any]:
    """Where an adapter's factory lives: its module, that module's distribution and version.

    ``reference``: one of the suite's own reference implementations, whose
    declared ``package`` is then the driver it talks to its server through.
    """
    module = spec.partition(":")[0]
    dists = _distributions().get(module.partition(".")[0]) or []
    dist = dists[0] if dists else None
    return {
        "module": module,
        "distribution": dist,
        "version": _version(dist),
        "reference": module.startswith(distconform.reference.__name__ + "."),
    }


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
                 "description": "", "notes": {}}
            )  # fmt: skip
    for impl in implementations:
        impl["code"] = code_of(impl.get("spec") or "")
    return implementations


def _result(
    impl: dict[str, Any], clause: _clauses.Clause, mine: list[dict[str, Any]]
) -> dict[str, Any]:
    """One clause's outcome for one implementation, from the tests tagged with it.

    ``duration``: the tests' seconds together; ``duration_max``: the slowest's.
    ``note``: the adapter's note on the clause (``Implementation.notes``), if any.
    """
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
        "duration_max": round(max((t["duration"] for t in mine), default=0.0), 4),
        "note": (impl.get("notes") or {}).get(clause.id),
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
    for impl in implementations:
        by_level = scores({"results": results}, impl["mechanism"], impl["name"])
        impl["score"] = {level: s.to_json() for level, s in by_level.items()}
    servers = {}
    if backends is not None:
        for kind, version in backends.versions.items():
            servers[kind] = {"version": version, "origin": backends.origin.get(kind)}
    return {
        "format": FORMAT,
        "suite": suite(),
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

"""The suite lints itself: every clause tested, every cited clause real, IDs unique.

Citations are read statically (no test runs): string arguments of calls named
``clause`` (``@clause("LOCK-3")``, ``@pytest.mark.clause(...)``) in the test
folders, and the ``breaks`` lists of known-bad implementations.
"""

from __future__ import annotations

import ast
import re
from importlib import resources
from pathlib import Path

from distconform import clauses as _clauses
from distconform.mechanisms import MECHANISMS

__all__ = ["cited", "run"]

_ID = re.compile(r"^[A-Z][A-Z0-9]*-\d+$")
TEST_FOLDERS = ("properties", "faults")


def _calls_named(tree: ast.AST, name: str) -> list[ast.Call]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            fname = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if fname == name:
                out.append(node)
    return out


def cited(path: Path) -> list[tuple[str, int]]:
    """(clause id, line) for every clause a test file cites."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out = []
    for call in _calls_named(tree, "clause"):
        for arg in call.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                out.append((arg.value, call.lineno))
    return out


def _test_files(root: Path) -> list[Path]:
    files = sorted(Path(str(resources.files("distconform.conformance"))).glob("test_*.py"))
    for folder in TEST_FOLDERS:
        files += sorted((root / folder).glob("**/test_*.py"))
    return files


def run(root: Path) -> list[str]:
    problems: list[str] = []
    known: dict[str, _clauses.Clause] = {}
    for mech in MECHANISMS:
        try:
            for c in _clauses.load(mech):
                if c.id in known:
                    problems.append(f"clause {c.id} is defined in two specs")
                known[c.id] = c
        except (OSError, _clauses.SpecError) as exc:
            problems.append(f"spec for {mech}: {exc}")
    tested: set[str] = set()
    for path in _test_files(root):
        for cid, line in cited(path):
            if not _ID.match(cid) or cid not in known:
                problems.append(f"{path}:{line}: cites unknown clause {cid!r}")
            tested.add(cid)
    from distconform.known_bad import catalogue

    for bad in catalogue():
        for cid in bad.breaks:
            if cid not in known:
                problems.append(f"known-bad {bad.name}: breaks unknown clause {cid!r}")
    untested = sorted(set(known) - tested, key=lambda c: (c.split("-")[0], int(c.split("-")[1])))
    problems += [f"clause {cid} has no test" for cid in untested]
    return problems

"""``distconform diff OLD NEW``: which verdicts two reports disagree on.

A report is named by its file, by a report folder (its report.json, the latest
run) or by ``history:N``, the N-th newest run stored in the report folder's
history (``history:1`` is the newest). A *regression* is a MUST clause that
passed in OLD and failed or errored in NEW: the one change that makes the exit
status 1, as a failed MUST clause is the one that fails ``verify``. Other
changes (a SHOULD clause that broke, a pass that became a skip) are listed and
leave the status 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distconform.errors import UsageError
from distconform.report import history as _history
from distconform.report.text import text_table
from distconform.report.view import SYMBOL

__all__ = ["Diff", "compare", "resolve", "text"]

SHORTCUT = "history:"
BROKEN = ("fail", "error")


@dataclass
class Change:
    """One clause of one implementation whose outcome differs."""

    mechanism: str
    implementation: str
    clause: str
    level: str
    old: str
    new: str
    #: "regressed" (pass -> fail/error), "fixed" (fail/error -> pass) or "".
    kind: str


@dataclass
class Diff:
    old: dict[str, Any]
    new: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    #: (mechanism, implementation) in one report only.
    impls_only_old: list[tuple[str, str]] = field(default_factory=list)
    impls_only_new: list[tuple[str, str]] = field(default_factory=list)
    #: (mechanism, clause) of mechanisms both reports ran, in one report only.
    clauses_only_old: list[tuple[str, str]] = field(default_factory=list)
    clauses_only_new: list[tuple[str, str]] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        """The changes that fail the comparison: MUST clauses that broke."""
        return [c for c in self.changes if c.kind == "regressed" and c.level == "MUST"]

    def to_json(self) -> dict[str, Any]:
        def pairs(items: list[tuple[str, str]], second: str) -> list[dict[str, str]]:
            return [{"mechanism": m, second: x} for m, x in items]

        return {
            "old": self.old,
            "new": self.new,
            "changes": [asdict(c) for c in self.changes],
            "regressions": len(self.regressions),
            "appeared": {
                "implementations": pairs(self.impls_only_new, "implementation"),
                "clauses": pairs(self.clauses_only_new, "clause"),
            },
            "disappeared": {
                "implementations": pairs(self.impls_only_old, "implementation"),
                "clauses": pairs(self.clauses_only_old, "clause"),
            },
        }


def resolve(spec: str, report_dir: Path) -> Path:
    """The report file ``spec`` names: a file, a report folder or ``history:N``."""
    if spec.startswith(SHORTCUT):
        n = spec.removeprefix(SHORTCUT)
        if not n.isdigit() or int(n) < 1:
            raise UsageError(f"{spec}: write history:1 for the newest stored run, history:2 ...")
        runs = _history.stored(report_dir / _history.FOLDER)
        if int(n) > len(runs):
            raise UsageError(
                f"{spec}: {len(runs)} run(s) stored in {report_dir / _history.FOLDER}; "
                "run `distconform verify` again or name report files"
            )
        return runs[-int(n)]
    path = Path(spec)
    return path / "report.json" if path.is_dir() else path


def _source(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": str(path),
        "finished": data["run"].get("finished"),
        "commit": data["suite"].get("commit"),
    }


def _kind(old: str, new: str) -> str:
    if old == "pass" and new in BROKEN:
        return "regressed"
    if old in BROKEN and new == "pass":
        return "fixed"
    return ""


def _outcomes(data: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(r["mechanism"], r["implementation"], r["clause"]): r for r in data["results"]}


def _impls(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["mechanism"], i["name"]) for i in data["implementations"]]


def _clause_ids(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m, c["id"]) for m, cs in data["clauses"].items() for c in cs]


def _only(items: list[tuple[str, str]], other: list[tuple[str, str]]) -> list[tuple[str, str]]:
    there = set(other)
    return [x for x in items if x not in there]


def compare(old_path: Path, new_path: Path) -> Diff:
    """Load both reports (UsageError if either is not one) and compare their verdicts."""
    old, new = _history.load(old_path), _history.load(new_path)
    shared_mechs = set(old["clauses"]) & set(new["clauses"])
    diff = Diff(
        old=_source(old_path, old),
        new=_source(new_path, new),
        impls_only_old=_only(_impls(old), _impls(new)),
        impls_only_new=_only(_impls(new), _impls(old)),
        clauses_only_old=[c for c in _only(_clause_ids(old), _clause_ids(new))
                          if c[0] in shared_mechs],
        clauses_only_new=[c for c in _only(_clause_ids(new), _clause_ids(old))
                          if c[0] in shared_mechs],
    )  # fmt: skip
    before = _outcomes(old)
    for key, r in _outcomes(new).items():
        was = before.get(key)
        if was is None or was["outcome"] == r["outcome"]:
            continue
        diff.changes.append(Change(*key, r["level"], was["outcome"], r["outcome"],
                                   _kind(was["outcome"], r["outcome"])))  # fmt: skip
    return diff


def _heading(label: str, source: dict[str, Any]) -> str:
    commit = (source["commit"] or "unknown")[:12]
    return f"{label}: {source['path']} (finished {source['finished'] or '?'}, commit {commit})"


def _listing(title: str, items: list[tuple[str, str]]) -> list[str]:
    return [f"{title}: " + ", ".join(f"{m}/{x}" for m, x in items)] if items else []


def text(diff: Diff) -> str:
    """The comparison as aligned text, ending in a one-line verdict."""
    lines = [_heading("old", diff.old), _heading("new", diff.new), ""]
    if diff.changes:
        rows = [["MECHANISM", "IMPLEMENTATION", "CLAUSE", "LEVEL", "OLD", "NEW", "CHANGE"]]
        rows += [[c.mechanism, c.implementation, c.clause, c.level, SYMBOL[c.old],
                  SYMBOL[c.new], c.kind] for c in diff.changes]  # fmt: skip
        lines += [text_table(rows, rule=True), ""]
    else:
        lines += ["No clause changed verdict.", ""]
    listed = [
        *_listing("implementations only in old", diff.impls_only_old),
        *_listing("implementations only in new", diff.impls_only_new),
        *_listing("clauses only in old", diff.clauses_only_old),
        *_listing("clauses only in new", diff.clauses_only_new),
    ]
    lines += [*listed, ""] if listed else []
    fixed = sum(c.kind == "fixed" for c in diff.changes)
    lines.append(
        f"{len(diff.regressions)} MUST clause(s) regressed (pass -> FAIL/ERROR), {fixed} fixed, "
        f"{len(diff.changes)} change(s) in all"
    )
    return "\n".join(lines)

"""Expectations: each implementation's known failures, so that CI fails only on a change.

A library that fails some clauses today cannot gate its CI on ``verify``'s plain
exit status: it is 1 on every run, so a new failure goes unseen. As with WPT's
expectation files and test262's known-failure lists, the known failures are written
down, and a run is judged against them: it fails on a *regression* (a clause
expected to pass did not) and on an *unexpected pass* (a clause expected to fail
passed: the file is out of date, and keeping it so would hide the next regression).

The file is TOML, ``distconform-expectations.toml`` in the current folder unless
``--expectations PATH`` names another; one table per mechanism and implementation
(the report's name for it), one key per clause expected not to pass::

    [lru."distconform.known_bad.lru:HoldsOneMore.factory"]
    LRU-1 = "fail"               # an outcome of report.json
    LRU-6 = ["pass", "fail"]     # flaky: either outcome matches

A clause that is not listed is expected to pass (``n/a`` matches too: the clause
does not apply). Every level counts, SHOULD as well as MUST: a regression is one
whatever the level. A clause the run did not reach (``--clause``, ``-k``) is not
judged. ``--update-expectations`` writes the run's outcomes into the file and
keeps everything the run did not reach, and the file's comments (tomlkit edits the
document in place), so that a note on why a clause fails stays beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from tomlkit.toml_document import TOMLDocument

from distconform import clauses as _clauses
from distconform import mechanisms
from distconform.errors import UsageError

__all__ = ["DEFAULT_PATH", "Expectations", "Mismatch", "for_run"]

DEFAULT_PATH = Path("distconform-expectations.toml")
#: The outcomes of report.json a clause can be expected to have.
OUTCOMES = ("pass", "fail", "error", "skipped", "n/a")
#: What a clause that is not listed may get.
PASSING = frozenset({"pass", "n/a"})
NOT_RUN = "not-run"
_HEADER = (
    "# distconform expectations: the clauses each implementation is expected not to pass.\n"
    "# Unlisted clauses are expected to pass. Written by `distconform verify\n"
    "# --update-expectations`; comments are kept. Format: README, section CI.\n"
)

Key = tuple[str, str, str]  # mechanism, implementation, clause


@dataclass(frozen=True)
class Mismatch:
    """One clause result that the expectations did not foresee."""

    mechanism: str
    implementation: str
    clause: str
    expected: frozenset[str]
    got: str

    @property
    def kind(self) -> str:
        if self.expected == PASSING:
            return "regression"
        return "unexpected pass" if self.got in PASSING else "changed"

    def line(self) -> str:
        wanted = "pass" if self.expected == PASSING else " or ".join(sorted(self.expected))
        return (
            f"{self.kind}: {self.mechanism} {self.implementation} {self.clause}: "
            f"expected {wanted}, got {self.got}"
        )


@dataclass
class Expectations:
    """A parsed expectations file: the document (to edit in place) and its entries."""

    path: Path
    document: TOMLDocument
    entries: dict[Key, frozenset[str]]

    def expected(self, key: Key) -> frozenset[str]:
        return self.entries.get(key, PASSING)

    def mismatches(self, results: Iterable[Mapping[str, Any]]) -> list[Mismatch]:
        """The run's clause results whose outcome the file did not expect, in report order."""
        out = []
        for r in results:
            key: Key = (r["mechanism"], r["implementation"], r["clause"])
            if r["outcome"] != NOT_RUN and r["outcome"] not in self.expected(key):
                out.append(Mismatch(*key, expected=self.expected(key), got=r["outcome"]))
        return out

    def judge(self, report: Mapping[str, Any], update: bool) -> int:
        """Print every mismatch, one line each; 0 if none (or the file was updated), else 1."""
        results = report["results"]
        found = self.mismatches(results)
        for m in found:
            print(m.line())
        judged = {(r["mechanism"], r["implementation"], r["clause"]) for r in results
                  if r["outcome"] != NOT_RUN}  # fmt: skip
        if update:
            self.record(found)
            self.write()
            print(f"expectations {self.path}: {len(found)} change(s) written, "
                  f"{len(self.entries)} known failure(s) listed")  # fmt: skip
            return 0
        unjudged = len(set(self.entries) - judged)
        print(
            f"expectations {self.path}: {len(judged)} clause result(s) judged, "
            f"{len(found)} mismatch(es)"
            + (f"; {unjudged} listed clause(s) not run" if unjudged else "")
            + ("; after checking them, `--update-expectations` rewrites the file" if found else "")
        )
        return 1 if found else 0

    def record(self, found: Iterable[Mismatch]) -> None:
        """Make the file expect what the run got, for the clauses that mismatched."""
        for m in found:
            key = (m.mechanism, m.implementation, m.clause)
            impls = self.document.setdefault(m.mechanism, tomlkit.table(is_super_table=True))
            clauses = impls.setdefault(m.implementation, tomlkit.table())
            if m.got in PASSING:
                del clauses[m.clause]
                del self.entries[key]
                if not clauses:
                    del impls[m.implementation]
                if not impls:
                    del self.document[m.mechanism]
            else:
                clauses[m.clause] = m.got
                self.entries[key] = frozenset({m.got})

    def write(self) -> None:
        text = tomlkit.dumps(self.document)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(text if text.strip() else _HEADER, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the expectations file: {exc}") from None


def for_run(path: str | None, update: bool) -> Expectations | None:
    """The expectations a verify run is judged by; None: none (the plain exit status).

    ``path`` None means the default file, used when it exists. A named file must
    exist unless the run is to write it. A bad file is a usage error, so that it
    stops the run before any server starts.
    """
    file = Path(path) if path else DEFAULT_PATH
    if not file.exists():
        if update:
            return Expectations(file, tomlkit.parse(_HEADER), {})
        if path:
            raise UsageError(
                f"no expectations file at {path}: create it with --update-expectations"
            )
        return None
    return load(file)


def load(file: Path) -> Expectations:
    where = f"expectations file {file}"
    try:
        document = tomlkit.parse(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the {where}: {exc}") from None
    except tomlkit.exceptions.TOMLKitError as exc:
        raise UsageError(f"{where} is not valid TOML: {exc}") from None
    return Expectations(file, document, _entries(document.unwrap(), where))


def _entries(data: dict[str, Any], where: str) -> dict[Key, frozenset[str]]:
    """The file's tables as {(mechanism, implementation, clause): outcomes}, checked."""
    entries: dict[Key, frozenset[str]] = {}
    for mech, impls in data.items():
        if mech not in mechanisms.MECHANISMS:
            known = ", ".join(mechanisms.MECHANISMS)
            raise UsageError(f"{where}: {mech!r} is not a mechanism ({known}): "
                             "write [MECHANISM.\"IMPLEMENTATION\"] tables")  # fmt: skip
        if not isinstance(impls, dict) or not all(isinstance(v, dict) for v in impls.values()):
            raise UsageError(f"{where}: [{mech}] must hold one table per implementation, "
                             f"e.g. [{mech}.memory]")  # fmt: skip
        ids = {c.id for c in _clauses.load(mech)}
        for impl, expected in impls.items():
            for clause, value in expected.items():
                if clause not in ids:
                    raise UsageError(f"{where}: [{mech}.{impl!r}] {clause} is not a {mech} "
                                     f"clause (see `distconform clauses {mech}`)")  # fmt: skip
                entries[(mech, impl, clause)] = _outcomes(value, f"{where}: {clause} of {impl}")
    return entries


def _outcomes(value: Any, where: str) -> frozenset[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(v in OUTCOMES for v in values):
        raise UsageError(f"{where}: {value!r} is not an outcome or a list of outcomes "
                         f"({', '.join(OUTCOMES)})")  # fmt: skip
    return frozenset(values)

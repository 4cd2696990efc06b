"""Clauses, read from the table at the top of ``spec/<mechanism>.md``.

A clause row is ``| LOCK-3 | MUST | fencing | One present-tense sentence. |``;
the third column names the capability the clause needs, or ``-`` for none.
A clause with no capability applies to every implementation: it can never be
reported not applicable.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from distconform.errors import UsageError
from distconform.mechanisms import MECHANISMS, get

__all__ = ["Clause", "SpecError", "all_clauses", "load", "selection"]

_ROW = re.compile(
    r"^\|\s*(?P<id>[A-Z][A-Z0-9]*-\d+)\s*\|\s*(?P<level>MUST|SHOULD)\s*\|"
    r"\s*(?P<requires>[^|]*?)\s*\|\s*(?P<text>.+?)\s*\|\s*$"
)


class SpecError(ValueError):
    """A spec file breaks the clause-table format."""


@dataclass(frozen=True, order=True)
class Clause:
    id: str
    level: str
    requires: str | None
    text: str
    mechanism: str

    @property
    def number(self) -> int:
        return int(self.id.rsplit("-", 1)[1])


def parse(text: str, mechanism: str, source: str = "<spec>") -> list[Clause]:
    clauses: list[Clause] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _ROW.match(line)
        if not m:
            continue
        cid = m["id"]
        if cid in seen:
            raise SpecError(f"{source}:{lineno}: clause {cid} is defined twice")
        seen.add(cid)
        requires = m["requires"].strip()
        clauses.append(
            Clause(
                id=cid,
                level=m["level"],
                requires=None if requires in ("", "-", "—") else requires,
                text=m["text"],
                mechanism=mechanism,
            )
        )
    if not clauses:
        raise SpecError(f"{source}: no clause rows found")
    return sorted(clauses, key=lambda c: c.number)


def load(mechanism: str) -> list[Clause]:
    path: Path = get(mechanism).spec_path
    return parse(path.read_text(encoding="utf-8"), mechanism, str(path))


def all_clauses() -> dict[str, Clause]:
    out: dict[str, Clause] = {}
    for name in MECHANISMS:
        for c in load(name):
            out[c.id] = c
    return out


def selection(texts: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """``--clause`` values as (patterns for every implementation, patterns per implementation).

    A value is a clause id or glob (``LOCK-8``, ``LRU-1*``), or ``IMPL=ID`` for
    one implementation (the report's name for it). Upper-cased. A pattern that
    matches no clause of any spec is a usage error: a typo would otherwise
    select nothing and look like an empty run.
    """
    known = list(all_clauses())
    every: list[str] = []
    per: dict[str, list[str]] = {}
    for text in texts:
        impl, sep, pattern = text.rpartition("=")
        pattern = pattern.strip().upper()
        if not pattern or (sep and not impl):
            raise UsageError(f"{text!r}: write a clause id such as LOCK-8, or IMPL=LOCK-8")
        if not fnmatch.filter(known, pattern):
            raise UsageError(
                f"{text!r} matches no clause: ids look like LOCK-8 (globs: 'LRU-1*'); "
                "the tables are at the top of spec/<mechanism>.md"
            )
        (per.setdefault(impl, []) if sep else every).append(pattern)
    return every, per

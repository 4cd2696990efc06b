"""Known-bad implementations: each must fail the clauses it declares it breaks.

They are the suite's own test: a clause whose tests no known-bad
implementation fails has no teeth. ``tests/test_known_bad.py`` runs every
entry through the conformance tests and fails unless each declared clause
ends as fail or error.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["KnownBad", "catalogue"]

#: Modules of this package that define a ``KNOWN_BAD`` list, one per mechanism.
MODULES = ("lock", "lru", "hotwarm", "twopc", "ratelimit", "session", "jwt")


@dataclass(frozen=True)
class KnownBad:
    """One wrong implementation: where it comes from and what it must fail."""

    name: str
    mechanism: str
    #: ``module:factory``, as ``--impl`` takes it.
    spec: str
    #: Clause IDs it must fail.
    breaks: tuple[str, ...]
    #: Where the bug comes from (a seed question, a common mistake) and why it is wrong.
    why: str


def catalogue() -> list[KnownBad]:
    out: list[KnownBad] = []
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        out += list(module.KNOWN_BAD)
    return out

"""The mutation run's arithmetic: listed equivalents leave the rate, a killed one is reported."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "mutation"))

import run  # tests/mutation/run.py

ROW = {
    "where": "reference/x.py:3:4",
    "in": "f",
    "operator": "ReplaceComparisonOperator_Lt_LtE",
    "occurrence": 0,
    "line": "if a < b:",
    "mutant": "if a <= b:",
}
ENTRY = {k: ROW[k] for k in ("in", "operator", "line", "mutant")} | {"why": "a != b here"}


def test_a_listed_survivor_is_equivalent_and_leaves_the_rate() -> None:
    o = run.Outcome("x", killed=9, equivalent=[dict(ROW, why="a != b here")])
    assert o.judged == 10
    assert o.rate == 1.0 and o.raw_rate == 0.9
    assert "| 10 | 9 | 0 | 0 | 1 | 0 | 100.0 % | 90.0 % |" in run.table([o])


def test_matching_needs_every_field() -> None:
    assert run._listed_equivalent(ROW, [ENTRY]) is ENTRY
    for field in ("in", "operator", "line", "mutant"):
        assert run._listed_equivalent(dict(ROW, **{field: "other"}), [ENTRY]) is None


def test_a_killed_listed_mutant_is_named_as_wrongly_listed() -> None:
    o = run.Outcome("x", killed=1, wrongly_listed=[dict(ROW, why="a != b here")])
    assert "listed as equivalent but killed: reference/x.py:3:4" in run.table([o])

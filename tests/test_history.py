"""Reports kept per run (history/).

Reports are built here by report.build from hand-written per-test outcomes,
so they have the real shape and exact scores.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from distconform import report
from distconform.cli import main
from distconform.report import history

Outcomes = dict[str, dict[str, str]]


def build(outcomes: Outcomes) -> dict[str, Any]:
    """A lock report from {implementation: {clause: outcome}}."""
    tests = [
        {"implementation": impl, "mechanism": "lock", "spec": f"tests:{impl}", "clauses": [cid],
         "test": f"conformance/test_lock.py::t_{cid}[{impl}]", "outcome": outcome,
         "message": "AssertionError: broke" if outcome == "fail" else "", "duration": 0.01}
        for impl, per_clause in outcomes.items()
        for cid, outcome in per_clause.items()
    ]  # fmt: skip
    impls = {
        f"lock/{impl}": {"name": impl, "mechanism": "lock", "spec": f"tests:{impl}",
                         "package": None, "capabilities": [], "description": ""}
        for impl in outcomes
    }  # fmt: skip
    return report.build(tests, impls, None)


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, (argv, code, err)
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("distconform: ") and words in err, err


# ------------------------------------------------------------------ history


def test_write_keeps_every_run_and_overwrites_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter(dt.datetime(2026, 1, 1, 0, 0, s, tzinfo=dt.UTC) for s in (1, 2, 2))
    monkeypatch.setattr(history, "_now", lambda: next(clock))
    first, second = build({"memory": {"LOCK-1": "pass"}}), build({"memory": {"LOCK-1": "fail"}})
    for data in (first, second, second):  # the last two in the same millisecond
        report.write(data, tmp_path)
        latest = (tmp_path / "report.json").read_text(encoding="utf-8")
        assert json.loads(latest) == data, "report.json is the latest run"
    stored = history.stored(tmp_path / "history")
    one, two = history.run_id(first), history.run_id(second)
    assert [p.name for p in stored] == [
        f"20260101T000001.000Z-{one}.json",
        f"20260101T000002.000Z-{two}.json",
        f"20260101T000002.000Z-{two}-2.json",
    ]
    assert [json.loads(p.read_text(encoding="utf-8")) for p in stored] == [first, second, second]
    assert stored[-1].read_text(encoding="utf-8") == latest, "stored as report.json is"


def test_keep_history_keeps_the_newest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [build({"memory": {"LOCK-1": o}}) for o in ("pass", "fail", "error")]
    for data in runs:
        report.write(data, tmp_path, keep_history=2)
    kept = history.stored(tmp_path / "history")
    assert [history.load(p) for p in kept] == runs[1:]
    one_line_error(capsys, ["verify", "lock", "memory", "--keep-history", "0"], "write 1 or more")

"""Reports kept per run (history/), ``distconform diff`` and report.html's trend.

Reports are built here by report.build from hand-written per-test outcomes,
so they have the real shape and exact scores; one test runs ``distconform
verify`` twice on the in-memory LRU reference (a second or two each) to check
that a real run stores its report.
"""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from distconform import clauses as _clauses
from distconform import report
from distconform.cli import main
from distconform.report import history, trend

#: A SHOULD clause of the lock spec (looked up: the spec's levels change as it is reviewed).
SOFT_ID = next(c.id for c in _clauses.load("lock") if c.level == "SHOULD")
#: Two short verify runs of one in-memory clause take a few seconds; 120 s each
#: allows for a loaded 2-core machine.
VERIFY_TIMEOUT = 120
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


def save(data: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def run_diff(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """``distconform diff ARGV --json``: exit status and the parsed comparison."""
    code = main(["diff", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


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


def test_a_verify_run_stores_its_report(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two real runs: two stored reports, the newest equal to report.json; diff compares
    them. A third with --keep-history 1 leaves only itself."""

    def verify(*extra: str) -> None:
        run = cli("verify", "lru", "memory", "--clause", "LRU-1", "--report-dir", "rep", "-n", "0",
                  *extra, timeout=VERIFY_TIMEOUT)  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr

    verify()
    verify()
    stored = history.stored(tmp_path / "rep" / "history")
    assert len(stored) == 2 and stored[0].name < stored[1].name
    latest = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    assert history.load(stored[1]) == latest
    # With no argument diff compares the last two runs: the same verdicts.
    same = cli("diff", "--report-dir", "rep", timeout=VERIFY_TIMEOUT)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "No clause changed verdict." in same.stdout
    verify("--keep-history", "1")
    kept = history.stored(tmp_path / "rep" / "history")
    assert len(kept) == 1 and kept[0] not in stored
    assert history.load(kept[0]) == json.loads((tmp_path / "rep" / "report.json").read_text())


def test_keep_history_keeps_the_newest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [build({"memory": {"LOCK-1": o}}) for o in ("pass", "fail", "error")]
    for data in runs:
        report.write(data, tmp_path, keep_history=2)
    kept = history.stored(tmp_path / "history")
    assert [history.load(p) for p in kept] == runs[1:]
    one_line_error(capsys, ["verify", "lock", "memory", "--keep-history", "0"], "write 1 or more")


# --------------------------------------------------------------------- diff


def test_diff_finds_a_must_regression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = save(build({"memory": {"LOCK-1": "pass", "LOCK-2": "pass"}}), tmp_path / "old.json")
    new = save(build({"memory": {"LOCK-1": "pass", "LOCK-2": "fail"}}), tmp_path / "new.json")
    code, result = run_diff(capsys, str(old), str(new))
    assert code == 1
    assert result["changes"] == [
        {"mechanism": "lock", "implementation": "memory", "clause": "LOCK-2", "level": "MUST",
         "old": "pass", "new": "fail", "kind": "regressed"},
    ]  # fmt: skip
    assert result["regressions"] == 1
    # The text form: one aligned row per change, and the verdict line.
    assert main(["diff", str(old), str(new)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[3].split() == ["MECHANISM", "IMPLEMENTATION", "CLAUSE", "LEVEL", "OLD", "NEW",
                                "CHANGE"]  # fmt: skip
    assert lines[5].split() == ["lock", "memory", "LOCK-2", "MUST", "pass", "FAIL", "regressed"]
    assert lines[-1].startswith("1 MUST clause(s) regressed")


def test_diff_improvements_and_soft_changes_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = save(build({"m": {"LOCK-2": "error", SOFT_ID: "pass", "LOCK-3": "pass"}}),
               tmp_path / "old.json")  # fmt: skip
    new = save(build({"m": {"LOCK-2": "pass", SOFT_ID: "fail", "LOCK-3": "skipped"}}),
               tmp_path / "new.json")  # fmt: skip
    code, result = run_diff(capsys, str(old), str(new))
    assert code == 0, "only a MUST clause going from pass to FAIL/ERROR fails the comparison"
    kinds = {c["clause"]: (c["level"], c["old"], c["new"], c["kind"]) for c in result["changes"]}
    assert kinds == {
        "LOCK-2": ("MUST", "error", "pass", "fixed"),
        SOFT_ID: ("SHOULD", "pass", "fail", "regressed"),
        "LOCK-3": ("MUST", "pass", "skipped", ""),
    }
    assert result["regressions"] == 0


def test_diff_lists_what_appears_and_disappears(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_data = build({"gone": {"LOCK-1": "pass"}, "kept": {"LOCK-1": "pass"}})
    new_data = build({"kept": {"LOCK-1": "pass"}, "added": {"LOCK-1": "fail"}})
    # A clause the old spec did not have yet (and its results).
    old_data["clauses"]["lock"] = [c for c in old_data["clauses"]["lock"] if c["id"] != "LOCK-2"]
    old_data["results"] = [r for r in old_data["results"] if r["clause"] != "LOCK-2"]
    old, new = save(old_data, tmp_path / "old.json"), save(new_data, tmp_path / "new.json")
    code, result = run_diff(capsys, str(old), str(new))
    assert code == 0, "a new implementation that fails is not a regression"
    assert result["changes"] == []
    assert result["disappeared"] == {
        "implementations": [{"mechanism": "lock", "implementation": "gone"}],
        "clauses": [],
    }
    assert result["appeared"] == {
        "implementations": [{"mechanism": "lock", "implementation": "added"}],
        "clauses": [{"mechanism": "lock", "clause": "LOCK-2"}],
    }  # fmt: skip
    assert main(["diff", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "implementations only in old: lock/gone" in out
    assert "implementations only in new: lock/added" in out
    assert "clauses only in new: lock/LOCK-2" in out


def test_diff_names_reports_by_folder_and_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [build({"memory": {"LOCK-1": o}}) for o in ("pass", "fail", "pass")]
    for data in runs:
        report.write(data, tmp_path / "rep")
    rep = str(tmp_path / "rep")
    # history:2 (fail) to the folder's latest (pass): fixed.
    _, result = run_diff(capsys, "history:2", rep, "--report-dir", rep)
    assert [(c["old"], c["new"]) for c in result["changes"]] == [("fail", "pass")]
    assert result["new"]["path"] == str(tmp_path / "rep" / "report.json")
    # The defaults: history:2 to history:1, the same pair.
    code, result = run_diff(capsys, "--report-dir", rep)
    assert code == 0 and [c["kind"] for c in result["changes"]] == ["fixed"]
    # history:3 (pass) to history:2 (fail): the regression.
    code, _ = run_diff(capsys, "history:3", "history:2", "--report-dir", rep)
    assert code == 1


def test_diff_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = build({"memory": {"LOCK-1": "pass"}})
    ok = str(save(good, tmp_path / "ok.json"))
    bad = {
        "not json": "{not json",
        "a list": "[1, 2]",
        "no results": json.dumps({k: v for k, v in good.items() if k != "results"}),
        "other format": json.dumps({**good, "format": 99}),
    }
    for name, content in bad.items():
        path = tmp_path / f"{name.replace(' ', '_')}.json"
        path.write_text(content, encoding="utf-8")
        one_line_error(capsys, ["diff", ok, str(path)], str(path))
    one_line_error(capsys, ["diff", ok, str(tmp_path / "nope.json")], "no report at")
    one_line_error(capsys, ["diff", ok, str(tmp_path)], "no report at")  # a folder, no report.json
    rep = ["--report-dir", str(tmp_path)]
    one_line_error(capsys, ["diff", "history:0", ok, *rep], "history:1 for the newest")
    one_line_error(capsys, ["diff", "history:x", ok, *rep], "history:1 for the newest")
    one_line_error(capsys, ["diff", *rep], "0 run(s) stored")


# -------------------------------------------------------------------- trend


class Trend(HTMLParser):
    """The trend rows and their dots in a page: data-* attributes, document order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.dots: dict[str, list[dict[str, str]]] = {}
        self.section = False
        self._impl = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section" and a.get("id") == "trend":
            self.section = True
        if tag == "tr" and a.get("class") == "trend":
            self._impl = a["data-impl"]
            self.rows[self._impl] = a
            self.dots[self._impl] = []
        if tag == "circle":
            self.dots[self._impl].append(a)


def test_html_shows_each_implementation_trend(tmp_path: Path) -> None:
    """Three stored runs of `memory` (2/2, 1/2, 2/2), one of `late`; one unreadable file."""
    rep = tmp_path / "rep"
    runs = [
        {"memory": {"LOCK-1": "pass", "LOCK-2": "pass"}},
        {"memory": {"LOCK-1": "pass", "LOCK-2": "fail"}},
        {"memory": {"LOCK-1": "pass", "LOCK-2": "pass"}, "late": {"LOCK-1": "fail"}},
    ]
    for outcomes in runs:
        report.write(build(outcomes), rep)
    (rep / "history" / "20000101T000000.000Z-broken.json").write_text("{", encoding="utf-8")
    assert main(["report", str(rep / "report.json"), "--out", str(tmp_path / "site")]) == 0
    text = (tmp_path / "site" / "report.html").read_text(encoding="utf-8")
    page = Trend(text)
    assert page.section
    assert page.rows["memory"]["data-runs"] == "3"
    assert page.rows["memory"]["data-scores"] == "2/2 1/2 2/2"
    assert page.rows["late"]["data-scores"] == "0/1"
    # A dot per change, and on this report's run (the newest, ringed).
    dots = [(d["data-score"], d["data-change"], d.get("data-current")) for d in
            page.dots["memory"]]  # fmt: skip
    assert dots == [("1/2", "down", None), ("2/2", "up", "true")]
    assert [d["fill"] for d in page.dots["memory"]] == ["#cf222e", "#2da44e"]
    heights = [float(d["cy"]) for d in page.dots["memory"]]
    assert heights[0] > heights[1], "a lower score is drawn lower"
    left_out = text.split('id="trend-unreadable"')[1].split("</p>")[0]
    assert "20000101T000000.000Z-broken.json" in left_out, "an unreadable stored file is named"


def test_html_rings_the_newest_of_equal_runs(tmp_path: Path) -> None:
    """The same report stored twice (nothing timed differed): this report is the newer."""
    data = build({"memory": {"LOCK-1": "fail"}})
    report.write(build({"memory": {"LOCK-1": "pass"}}), tmp_path)
    report.write(data, tmp_path)
    report.write(data, tmp_path)
    assert main(["report", str(tmp_path / "report.json")]) == 0
    page = Trend((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert page.rows["memory"]["data-scores"] == "1/1 0/1 0/1"
    newest = history.stored(tmp_path / "history")[-1].stem
    assert [(d["data-run"], d.get("data-current")) for d in page.dots["memory"]] == [
        (history.stored(tmp_path / "history")[1].stem, None),
        (newest, "true"),
    ]


def test_html_trend_reads_the_newest_runs_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trend, "MAX_RUNS", 2)
    for outcome in ("error", "fail", "pass"):
        report.write(build({"memory": {"LOCK-1": outcome}}), tmp_path)
    assert main(["report", str(tmp_path / "report.json")]) == 0
    page = Trend((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert page.rows["memory"]["data-scores"] == "0/1 1/1"


def test_html_trend_of_a_report_not_stored(tmp_path: Path) -> None:
    """A report from elsewhere is drawn after the stored runs; no history folder, no section."""
    rep = tmp_path / "rep"
    report.write(build({"memory": {"LOCK-1": "pass"}}), rep)
    other = save(build({"memory": {"LOCK-1": "fail"}}), rep / "other.json")
    assert main(["report", str(other), "--out", str(tmp_path / "a")]) == 0
    page = Trend((tmp_path / "a" / "report.html").read_text(encoding="utf-8"))
    assert page.rows["memory"]["data-scores"] == "1/1 0/1"
    assert page.dots["memory"][-1]["data-run"] == "this report"
    alone = save(build({"memory": {"LOCK-1": "pass"}}), tmp_path / "alone" / "report.json")
    assert main(["report", str(alone)]) == 0
    assert not Trend((alone.parent / "report.html").read_text(encoding="utf-8")).section

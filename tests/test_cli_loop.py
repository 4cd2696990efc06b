"""verify's everyday loop: failures with their reproduction, -x, -v, --junitxml, --json, --.

Each run is a child ``distconform verify`` on a few fast LRU tests (the memory
reference, known-bad caches, and two small adapters written here), its output
piped as in CI.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from distconform import failures

HOLDS_ONE_MORE = "distconform.known_bad.lru:HoldsOneMore.factory"
REPO = Path(__file__).resolve().parents[1]

#: Adapters for the error paths, importable from the child's current folder
#: (``python -m`` puts it on sys.path). ``Failing.put`` raises through a
#: library in site-packages (PyJWT, a dependency) with a monotonic-clock reading
#: in its message; ``Slow.put`` takes 3 s, six times any --call-timeout used here.
ADAPTER = """
import time

import jwt

from distconform.known_bad.lru import Cache


class Failing(Cache):
    def put(self, key, value):
        try:
            jwt.decode("not-a-token", "key", algorithms=["HS256"])
        except jwt.DecodeError as exc:
            raise RuntimeError(f"put failed at t={time.monotonic():.4f}") from exc


class Slow(Cache):
    def put(self, key, value):
        time.sleep(3)
"""


def _section(out: str) -> str:
    """What verify printed after the clause table (its failures and notes)."""
    return out[out.index("score ") : out.index("\nreport: ")]


def _table(out: str) -> dict[str, str]:
    """Clause -> outcome from the one-implementation table verify printed."""
    rows = re.findall(r"^([A-Z]+-\d+) +MUST(?: \([\w-]+\))? +(\S+)$", out, re.M)
    return dict(rows)


def test_failures_progress_junit_and_json_under_xdist(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Piped, with xdist workers: -v lines, each failing test after the table, --junitxml, --json."""
    res = cli("verify", "lru", HOLDS_ONE_MORE, "--clause", "LRU-1", "-n", "2", "-v",
              "--junitxml", "out/junit.xml", "--json", "out/copy.json", "--report-dir", "rep",
              "--", "--durations=1", timeout=300)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    who = f"lru/{HOLDS_ONE_MORE}"

    progress = re.findall(
        rf"^\[ ?(\d+)/(\d+)\] {re.escape(who)} (LRU-\d+(?:,LRU-\d+)*) (test_\S+) \.\.\. "
        r"(pass|FAIL) \(\d+\.\d\d s\)$",
        res.stdout, re.M,
    )  # fmt: skip
    assert len(progress) == len(data["tests"]) >= 6, res.stdout
    assert sorted(int(p[0]) for p in progress) == list(range(1, len(progress) + 1))
    assert {p[1] for p in progress} == {str(len(progress))}
    assert not re.search(r"^[.F]+ *(\[\s*\d+%\])?$", res.stdout, re.M), "pytest's letters shown"
    assert "slowest 1 durations" in res.stdout  # the argument after --
    assert json.loads((tmp_path / "out" / "copy.json").read_text()) == data
    cases = ET.parse(tmp_path / "out" / "junit.xml").getroot().iter("testcase")
    names = sorted(c.get("name", "") for c in cases)
    assert names == sorted(f"{who} {','.join(t['clauses'])} {t['test'].split('::')[1]}"
                           for t in data["tests"])  # fmt: skip

    after = _section(res.stdout)
    failed = [t for t in data["tests"] if t["outcome"] == "fail"]
    assert len(failed) >= 4  # the capacities 1, 3, 8 and 64 of LRU-1's first test
    for t in failed:
        # Recorded in the worker that ran the test: the controller has no exception.
        assert t["reproduction"]["message"].startswith("AssertionError: repro:"), t
        assert "distconform/conformance/test_lru.py:" in t["reproduction"]["traceback"], t
        assert f"  test: {t['test'].split('::')[1]}\n" in after
    assert after.count(f"FAIL  LRU-1  {who}") >= 4
    assert "AssertionError: repro: configure(1); put 4 distinct keys" in after
    assert re.search(r"^    distconform/conformance/test_lru\.py:\d+: in test_", after, re.M)
    assert "site-packages" not in after and str(REPO) not in after
    reruns = re.findall(r"^  rerun: (.+)$", after, re.M)
    assert len(reruns) == len(failed)
    argv = shlex.split(reruns[0])
    assert argv == ["distconform", "verify", "lru", HOLDS_ONE_MORE, "--clause", "LRU-1"]
    again = cli(*argv[1:], "-n", "0", "--report-dir", "rep2", timeout=300)
    assert again.returncode == 1, again.stdout + again.stderr
    table = _table(again.stdout)
    assert table["LRU-1"] == "FAIL"
    assert {c for c, o in table.items() if o != "-"} <= {"LRU-1", "LRU-2", "LRU-3"}


def test_errors_show_package_paths_times_from_the_start_and_call_timeout(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Frames in site-packages are named by package, clock readings become t0+S; --call-timeout."""
    if time.monotonic() < failures.LONGEST_SPAN + 60:
        pytest.skip("machine up for less than 6 minutes: clock readings look like durations")
    (tmp_path / "loop_adapter.py").write_text(ADAPTER)
    res = cli("verify", "lru", "loop_adapter:Failing.factory", "loop_adapter:Slow.factory",
              "--clause", "LRU-1", "-k", "capacity and -1]", "--call-timeout", "0.5",
              "-n", "0", "--report-dir", "rep", timeout=300)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    after = _section(res.stdout)
    assert "ERROR  LRU-1  lru/loop_adapter:Failing.factory" in after, after
    assert re.search(r"^  RuntimeError: put failed at t=t0\+\d+\.\d{4}$", after, re.M), after
    assert not re.search(r"t=\d+\.\d{4}", after), after
    assert re.search(r"^    jwt/api_jws\.py:\d+: in _load$", after, re.M), after
    assert re.search(r"^    loop_adapter\.py:\d+: in put$", after, re.M), after
    assert "site-packages" not in after and str(tmp_path) not in after
    # The guard's thread hand-off is the same in every traceback: left out.
    assert "distconform/guard.py" not in after and "concurrent/futures" not in after
    # Without --call-timeout, the default 10 s would let Slow's 3 s put pass.
    assert "FAIL  LRU-1  lru/loop_adapter:Slow.factory" in after, after
    assert "a.put() did not return within 0.5s" in after


def test_max_fail_stops_and_says_what_did_not_run(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """-x under xdist (where pytest ends such a run as interrupted) still prints the verdicts."""
    # -x before the mechanism: a flag, it takes no value from what follows.
    res = cli("verify", "-x", "lru", HOLDS_ONE_MORE, "--clause", "LRU-1", "--clause", "LRU-5",
              "-n", "2", "--report-dir", "rep", timeout=300)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert "interrupted" not in res.stderr
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["stopped"]["max_fail"] == 1 and data["stopped"]["failed"] >= 1
    assert "stopped after" in res.stdout and "(--max-fail 1)" in res.stdout
    table = _table(res.stdout)
    assert table["LRU-1"] == "FAIL"
    listed = re.search(r"^  lru/\S+: (.+)$", res.stdout, re.M)
    not_run = {c for c, o in table.items() if o == "-"} & {"LRU-1", "LRU-5"}
    # LRU-5's tests come after LRU-1's failing one; a second worker may have run some.
    assert (listed.group(1).split(", ") if listed else []) == sorted(not_run)


def test_max_fail_in_one_process(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = cli("verify", "lru", HOLDS_ONE_MORE, "--max-fail", "1", "-n", "0",
              "--report-dir", "rep", timeout=300)  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    table = _table(res.stdout)
    assert table["LRU-1"] == "FAIL"
    assert sum(o == "-" for o in table.values()) >= 20, table
    listed = re.search(r"^  lru/\S+: (.+)$", res.stdout, re.M)
    assert listed is not None
    assert set(listed.group(1).split(", ")) == {c for c, o in table.items() if o == "-"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--max-fail", "0"], "--max-fail 0: write 1 or more"),
        (["--call-timeout", "0"], "--call-timeout 0.0: write a number of seconds above 0"),
        (["--json", "."], "--json . is a folder"),
        (["--", "--no-such-option"], "pytest refused the arguments after --: --no-such-option"),
    ],
)
def test_bad_loop_options_exit_2(cli, args, needle) -> None:  # type: ignore[no-untyped-def]
    res = cli("verify", "lru", "memory", "--clause", "LRU-1", "-n", "0", *args, timeout=300)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"distconform: {needle}"), res.stderr


def test_clock_readings_become_offsets_and_other_numbers_stay() -> None:
    """Only numbers inside the test's span, and above any duration the tests print, are rewritten."""
    start = 5000.0
    text = "granted at t=5002.5000 while held (t=4999.9996..5001.25); ttl 30.0 s; redis 7.2.4"
    assert failures.relative_times(text, start, 5003.0) == (
        "granted at t=t0+2.5000 while held (t=t0-0.0004..t0+1.25); ttl 30.0 s; redis 7.2.4"
    )
    # Before the start (by more than rounding), or past any deadline the test could set.
    assert failures.relative_times("t=4990.0 t=9000.0", start, 5003.0) == "t=4990.0 t=9000.0"
    # A clock that reads below the longest duration: its readings cannot be told apart.
    assert failures.relative_times("took 120.5 s", 100.0, 130.0) == "took 120.5 s"

"""verify's exit status, alone and judged by an expectations file (known failures).

The runs are kept short by ``--clause``: the memory LRU passes LRU-1 and the
known-bad ``HoldsOneMore`` (a cache that holds one entry too many) fails it; the
tests that cite LRU-1 also cite LRU-2 and LRU-3, which it fails as well.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from distconform import cli as _cli
from distconform import expectations

BAD = "distconform.known_bad.lru:HoldsOneMore.factory"
LRU_1 = ("--clause", "LRU-1", "-n", "0")


def _mismatch_lines(stdout: str) -> list[str]:
    return [
        line for line in stdout.splitlines()
        if re.match(r"(regression|unexpected pass|changed): ", line)
    ]  # fmt: skip


def test_help_names_every_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _cli.main(["verify", "--help"])
    out = capsys.readouterr().out
    for code in ("0", "1", "2", "130"):
        assert re.search(rf"^  {code} +\S", out, re.M), f"exit status {code} missing:\n{out}"
    assert "--expectations PATH" in out and "--update-expectations" in out


def test_a_known_bad_failing_a_must_clause_exits_1(cli) -> None:  # type: ignore[no-untyped-def]
    """Exit 1 without expectations: the known-bad fails LRU-1, a MUST clause."""
    res = cli("verify", "lru", "memory", BAD, *LRU_1)
    assert res.returncode == 1, res.stdout + res.stderr
    row = next(line for line in res.stdout.splitlines() if line.startswith("LRU-1 "))
    assert row.split()[2:] == ["pass", "FAIL"], row


def test_update_writes_a_file_the_next_run_matches(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--update-expectations records the failures; the same run then exits 0 (was 1 without)."""
    written = cli("verify", "lru", "memory", BAD, *LRU_1, "--update-expectations")
    assert written.returncode == 0, written.stdout + written.stderr
    file = tmp_path / expectations.DEFAULT_PATH
    loaded = expectations.load(file)
    assert loaded.entries == {
        ("lru", BAD, c): frozenset({"fail"}) for c in ("LRU-1", "LRU-2", "LRU-3")
    }
    assert len(_mismatch_lines(written.stdout)) == 3  # each change said, one line each

    again = cli("verify", "lru", "memory", BAD, *LRU_1)  # the default file, found by itself
    assert again.returncode == 0, again.stdout + again.stderr
    assert _mismatch_lines(again.stdout) == []
    assert (
        f"expectations {expectations.DEFAULT_PATH}: 6 clause result(s) judged, 0 mismatch"
        in again.stdout
    )


def test_a_regression_exits_1_naming_the_clause(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """LRU-2 and LRU-3 are known failures, LRU-1 is not: the run says so and exits 1."""
    file = tmp_path / "known.toml"
    file.write_text(f'[lru."{BAD}"]\nLRU-2 = "fail"\nLRU-3 = ["fail", "error"]\n')
    res = cli("verify", "lru", "memory", BAD, *LRU_1, "--expectations", str(file))
    assert res.returncode == 1, res.stdout + res.stderr
    assert _mismatch_lines(res.stdout) == [f"regression: lru {BAD} LRU-1: expected pass, got fail"]


def test_an_unexpected_pass_exits_1_and_update_keeps_the_rest(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """memory is listed as failing LRU-1 but passes: exit 1; the update drops only that entry."""
    file = tmp_path / "known.toml"
    file.write_text(
        '[lru.memory]\nLRU-1 = "fail"\n\n'
        f'[lru."{BAD}"]\n# why: it checks for room with > (kept across updates)\nLRU-8 = "error"\n'
    )
    res = cli("verify", "lru", "memory", *LRU_1, "--expectations", str(file))
    assert res.returncode == 1, res.stdout + res.stderr
    assert _mismatch_lines(res.stdout) == [
        "unexpected pass: lru memory LRU-1: expected fail, got pass"
    ]
    assert "1 listed clause(s) not run" in res.stdout

    fixed = cli(
        "verify", "lru", "memory", *LRU_1, "--expectations", str(file), "--update-expectations"
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    text = file.read_text()
    assert "[lru.memory]" not in text and "# why: it checks for room with >" in text
    assert expectations.load(file).entries == {("lru", BAD, "LRU-8"): frozenset({"error"})}
    assert cli("verify", "lru", "memory", *LRU_1, "--expectations", str(file)).returncode == 0


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("[lru\n", ["not valid TOML", "line 1"]),
        ('[lru.memory]\nLRU-1 = "fail"\nLRU-1 = "pass"\n', ["not valid TOML", "already exists"]),
        ('[cache.memory]\nLRU-1 = "fail"\n', ["'cache' is not a mechanism", "lock"]),
        ('[lru]\nLRU-1 = "fail"\n', ["[lru] must hold one table per implementation"]),
        (
            '[lru.memory]\nLRU-99 = "fail"\n',
            ["LRU-99 is not a lru clause", "distconform clauses lru"],
        ),
        ('[lru.memory]\nLRU-1 = "FAILED"\n', ["'FAILED' is not an outcome", "skipped"]),
        ("[lru.memory]\nLRU-1 = []\n", ["is not an outcome"]),
        ("format = 1\n", ["'format' is not a mechanism"]),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needles: list[str]
) -> None:
    """Checked before any server or test starts, so in-process: nothing runs."""
    file = tmp_path / "bad.toml"
    file.write_text(content)
    assert _cli.main(["verify", "lru", "memory", "--expectations", str(file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(file) in err[0] and all(n in err[0] for n in needles), err[0]


def test_a_missing_named_file_is_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("verify", "lru", "memory", "--expectations", str(tmp_path / "nope.toml"))
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"distconform: no expectations file at {tmp_path / 'nope.toml'}: "
        "create it with --update-expectations"
    ]


def _result(impl: str, clause: str, outcome: str) -> dict[str, str]:
    return {"mechanism": "lru", "implementation": impl, "clause": clause, "outcome": outcome}


def test_mismatch_kinds_and_flaky_lists(tmp_path: Path) -> None:
    """Unlisted: pass and n/a match. A list matches any of its outcomes. not-run is not judged."""
    file = tmp_path / "e.toml"
    file.write_text(
        '[lru.x]\nLRU-1 = ["pass", "fail"]\nLRU-2 = "fail"\nLRU-3 = "fail"\nLRU-4 = "fail"\n'
    )
    exp = expectations.load(file)
    results = [
        _result("x", "LRU-1", "pass"), _result("x", "LRU-1", "fail"),  # flaky: both match
        _result("x", "LRU-2", "error"),  # still broken, but not as expected
        _result("x", "LRU-3", "n/a"),  # no longer applies: the file is out of date
        _result("x", "LRU-4", "not-run"),
        _result("x", "LRU-5", "n/a"), _result("x", "LRU-6", "skipped"),
    ]  # fmt: skip
    assert [m.line() for m in exp.mismatches(results)] == [
        "changed: lru x LRU-2: expected fail, got error",
        "unexpected pass: lru x LRU-3: expected fail, got n/a",
        "regression: lru x LRU-6: expected pass, got skipped",
    ]


def test_the_readme_example_file_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    file = tmp_path / "readme.toml"
    file.write_text(block)
    assert expectations.load(file).entries == {
        ("lock", "my_adapter:factory", "LOCK-24"): frozenset({"fail"}),
        ("lock", "my_adapter:factory", "LOCK-6"): frozenset({"pass", "fail"}),
    }

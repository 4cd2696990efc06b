"""The rendered report: HTML matrix (read back through headless Chromium), badges, score.

Two sources of reports: a small one built here from hand-written per-test
outcomes (every outcome kind, exact numbers), and a real one from a short
``distconform verify`` run of the memory reference beside a deliberately
broken implementation.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema
import pytest

from distconform import clauses as _clauses
from distconform import report
from distconform.calibrate import Calibration, Figures, judge
from distconform.cli import main

LOCK_IDS = [c.id for c in _clauses.load("lock")]
#: A SHOULD clause of the lock spec, for the "soft" column (a failed SHOULD is yellow).
#: The spec's SHOULD clauses change as they are reviewed, so it is looked up.
SOFT_ID = next(c.id for c in _clauses.load("lock") if c.level == "SHOULD")
#: Browser start plus one local page takes under 1 s here; 60 s allows for a loaded
#: 2-core machine, and bounds a page that blocks (a script calling alert() does).
CHROMIUM_TIMEOUT = 60
#: The real run below takes about 5 s (LOCK-12 waits out three 1 s grants).
VERIFY_TIMEOUT = 300

# ----------------------------------------------------------------- fixtures


def _test(
    impl: str, clause: str, outcome: str, message: str = "", test: str = "", duration: float = 0.01
) -> dict[str, Any]:
    return {
        "implementation": impl,
        "mechanism": "lock",
        "spec": f"tests:{impl}",
        "clauses": [clause],
        "test": test or f"conformance/test_lock.py::test_{clause.lower()}[{impl}]",
        "outcome": outcome,
        "message": message,
        "duration": duration,
    }


def _impl(name: str, caps: list[str], notes: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "notes": notes or {},
        "name": name,
        "mechanism": "lock",
        "spec": f"tests:{name}",
        "package": "distconform",
        "capabilities": caps,
        "description": f"{name} for the report tests",
    }


XSS = "<script>alert('x')</script> & \"quoted\""
#: The adapter of "mixed" says whose fault its LOCK-2 failure is (Implementation.notes).
NOTE = "library at fault: release() is a no-op in 1.2 <upstream #7>"


def sample() -> dict[str, Any]:
    """Built by report.build from hand-written test outcomes, so it has the real shape.

    mixed : LOCK-1 pass, LOCK-2 fail, LOCK-3 error, LOCK-4 skipped, LOCK-12 n/a -> 1/4
    clean : LOCK-1 pass, LOCK-4 pass                                          -> 2/2
    soft  : LOCK-1 pass, SOFT_ID (a SHOULD clause) fail                       -> 1/2
    idle  : LOCK-12 n/a only                                                  -> 0/0
    """
    tests = [
        _test("mixed", "LOCK-1", "pass", duration=0.25),
        _test(
            "mixed",
            "LOCK-1",
            "pass",
            test="conformance/test_lock.py::test_more[mixed]",
            duration=0.5,
        ),
        _test("mixed", "LOCK-2", "fail", "AssertionError: lock still held\n  repro: A, B " + XSS),
        _test("mixed", "LOCK-3", "error", "ConnectionError: server went away"),
        _test("mixed", "LOCK-4", "skipped", "no redis server"),
        _test("mixed", "LOCK-12", "n/a", "not applicable: LOCK-12 needs capability 'fencing'"),
        _test("clean", "LOCK-1", "pass"),
        _test("clean", "LOCK-4", "pass"),
        _test("soft", "LOCK-1", "pass"),
        _test("soft", SOFT_ID, "fail", "AssertionError: second release returned True"),
        _test("idle", "LOCK-12", "n/a", "not applicable: LOCK-12 needs capability 'fencing'"),
    ]
    impls = {
        "lock/mixed": _impl("mixed", ["extend"], {"LOCK-2": NOTE}),
        "lock/clean": _impl("clean", ["extend", "fencing"]),
        "lock/soft": _impl("soft", []),
        "lock/idle": _impl("idle", []),
    }
    tests[7]["timing"] = TIMING
    return report.build(tests, impls, None, calibration=CALIBRATION.to_json())


#: Figures as a loaded 2-core machine gives them (seconds).
CALIBRATION = Calibration(
    jitter=Figures(200, 0.0001, 0.0004, 0.0058),
    rtt={"redis": Figures(100, 0.0002, 0.0005, 0.0047)},
    switch_interval=0.005,
    measured="2026-01-01T00:00:00+00:00",
)
#: clean LOCK-4: one check passes both verdicts, one misses only the tight one.
TIMING = [
    judge("expiry", [1.00, 1.01, 1.02], at_least=1.0, at_most=1.0, tight=0.03, loose=0.5).to_json(),
    judge("wait", [1.2, 1.2, 1.3], at_most=1.0, tight=0.03, loose=0.5).to_json(),
]


def check_calibration(dom: Dom) -> None:
    """The calibration table shows the figures of CALIBRATION; timing rows show verdicts."""
    rows = {e.attrs["data-measure"]: e for e in dom.find("calibration")}
    assert set(rows) == {"jitter", "redis"}
    assert float(rows["jitter"].attrs["data-p99"]) == 0.0004
    assert float(rows["redis"].attrs["data-p99"]) == 0.0005
    tol = CALIBRATION.tolerance(["redis"])
    assert float(rows["redis"].attrs["data-tolerance"]) == pytest.approx(tol, abs=1e-6)
    assert "0.4 ms" in rows["jitter"].text and "5.8 ms" in rows["jitter"].text
    formula = next(e for e in dom.elements if e.attrs.get("id") == "calibration-formula")
    assert "switch_interval" in formula.text
    timing = dom.find("timing", data_impl="clean", data_clause="LOCK-4")
    assert [(t.attrs["data-tight-ok"], t.attrs["data-loose-ok"]) for t in timing] == [
        ("true", "true"), ("false", "true")]  # fmt: skip
    assert "expiry" in timing[0].text and "FAIL" in timing[1].text


BROKEN = textwrap.dedent(
    '''
    """A lock whose release frees nothing and whose acquire of "left" raises."""
    NOTE = "adapter at fault: release() is stubbed out on purpose"
    from typing import Any

    from distconform.api import Context, Implementation
    from distconform.reference.lock import memory


    class Client(memory.MemoryLockClient):
        def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> Any:
            if name == "left":
                raise RuntimeError("backend refused <left> & gave up")
            return super().acquire(name, ttl, timeout)

        def release(self, handle: Any) -> bool:
            return True  # claims success, frees nothing


    def factory(ctx: Context) -> Implementation:
        service = memory.MemoryLockService(ctx.clock)
        return Implementation(
            client=lambda: Client(service), description="frees nothing", notes={"LOCK-2": NOTE}
        )
    '''
)
BROKEN_NAME = "dc_html_broken:factory"
#: -k matches test function names (not clause ids): LOCK-2, LOCK-9, LOCK-11, LOCK-12.
#: Whole names, so that new tests whose names share a word are not picked up.
KEYWORDS = " or ".join([
    "test_release_frees_the_lock_at_once",
    "test_non_blocking_acquire_returns_at_once",
    "test_different_names_are_independent",
    "test_tokens_increase_across_release_and_expiry",
])  # fmt: skip
REAL_EXPECTED = {
    "memory": {"LOCK-2": "pass", "LOCK-9": "pass", "LOCK-11": "pass", "LOCK-12": "pass"},
    # LOCK-9's test probes after its refused acquires, and finds the lock never freed.
    BROKEN_NAME: {"LOCK-2": "fail", "LOCK-9": "fail", "LOCK-11": "error", "LOCK-12": "n/a"},
}
REAL_SCORES = {"memory": (4, 4), BROKEN_NAME: (0, 3)}
REAL_NOTE = "adapter at fault: release() is stubbed out on purpose"


def check_real_notes(dom: Dom) -> None:
    """The broken adapter's note reached the page through the plugin, beside LOCK-2 only."""
    assert REAL_NOTE in dom.one("outcome", data_impl=BROKEN_NAME, data_clause="LOCK-2").text
    assert REAL_NOTE in dom.one("failure", data_impl=BROKEN_NAME, data_clause="LOCK-2").text
    assert REAL_NOTE not in dom.one("outcome", data_impl=BROKEN_NAME, data_clause="LOCK-9").text


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """``distconform verify`` (a child process, as a user runs it) then ``distconform report``."""
    root = tmp_path_factory.mktemp("real_run")
    (root / "mods").mkdir()
    (root / "mods" / "dc_html_broken.py").write_text(BROKEN, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root / "mods"), env.get("PYTHONPATH")]))
    args = ["verify", "lock", "memory", BROKEN_NAME, "--report-dir", str(root), "-k", KEYWORDS]
    proc = subprocess.run(
        [sys.executable, "-m", "distconform.cli", *args],
        capture_output=True, text=True, timeout=VERIFY_TIMEOUT, env=env, cwd=root,
    )  # fmt: skip
    path = root / "report.json"
    assert path.exists(), (
        f"verify wrote no report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    # A MUST clause fails, so verify must say so through its exit code.
    assert proc.returncode == 1, f"verify exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    data = json.loads(path.read_text(encoding="utf-8"))
    out = root / "rendered"
    report.render_all(data, out)
    return data, out / "report.html"


# ------------------------------------------------------------ reading a DOM


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.text = ""
        self.parent = parent

    def within(self, other: Element) -> bool:
        el = self.parent
        while el is not None and el is not other:
            el = el.parent
        return el is other

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs} {self.text.strip()[:40]!r}>"


class Dom(HTMLParser):
    """Every element with its attributes and text, in document order."""

    VOID = {"meta", "br", "img", "link", "input", "hr", "col", "source", "wbr"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = Element(tag, {k: v or "" for k, v in attrs}, self._open[-1] if self._open else None)
        self.elements.append(el)
        if tag not in self.VOID:
            self._open.append(el)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for el in self._open:
            el.text += data

    def find(self, cls: str, **data: str) -> list[Element]:
        """Elements with class ``cls`` and the given data-* attributes (data_impl=...)."""
        want = {"data-" + k.removeprefix("data_").replace("_", "-"): v for k, v in data.items()}
        return [
            e for e in self.elements
            if cls in e.classes and all(e.attrs.get(k) == v for k, v in want.items())
        ]  # fmt: skip

    def one(self, cls: str, **data: str) -> Element:
        found = self.find(cls, **data)
        assert len(found) == 1, f"{len(found)} elements .{cls} {data}: {found}"
        return found[0]


def matrix(dom: Dom) -> tuple[list[str], list[str], dict[tuple[str, str], str], dict[str, str]]:
    """(clause ids in row order, implementation columns, (impl, clause) -> outcome, scores)."""
    rows = [e.attrs["data-clause"] for e in dom.find("clause")]
    cols = [e.attrs["data-impl"] for e in dom.find("impl")]
    cells = {(e.attrs["data-impl"], e.attrs["data-clause"]): e.attrs["data-outcome"]
             for e in dom.find("outcome")}  # fmt: skip
    scores = {e.attrs["data-impl"]: e.text.strip() for e in dom.find("score")}
    return rows, cols, cells, scores


def level_scores(expected: dict[str, str]) -> tuple[str, str]:
    """The MUST and SHOULD scores of expected outcomes, counted here from the spec's levels."""
    level = {c.id: c.level for c in _clauses.load("lock")}
    out = []
    for lvl in ("MUST", "SHOULD"):
        counted = [o for cid, o in expected.items() if level[cid] == lvl and o != "n/a"]
        out.append(f"{counted.count('pass')}/{len(counted)}")
    return out[0], out[1]


def check_toc(dom: Dom) -> None:
    """A table of contents whose every link lands on an element of the page."""
    ids = {e.attrs["id"] for e in dom.elements if "id" in e.attrs}
    nav = [e for e in dom.elements if e.attrs.get("id") == "toc"]
    assert len(nav) == 1, "one table of contents"
    targets = [e.attrs["href"].removeprefix("#") for e in dom.elements
               if e.tag == "a" and e.within(nav[0])]  # fmt: skip
    assert {"run", "calibration", "mechanism-lock", "mechanism-lock-failures"} <= set(targets)
    assert not [t for t in targets if t not in ids], "every link of the contents has a target"


def check_scores_and_notes(dom: Dom) -> None:
    """Sample page: MUST and SHOULD apart, a colour per fraction, the adapter's note shown."""
    soft = dom.one("score", data_impl="soft")
    assert (soft.attrs["data-must"], soft.attrs["data-should"]) == ("1/1", "0/1")
    colors = {e.attrs["data-impl"]: e.attrs["data-color"] for e in dom.find("score")}
    # 1/4, 2/2, 1/2 and nothing applicable: four fractions, four colours.
    assert len(set(colors.values())) == 4, colors
    assert all(colors[i] in dom.one("score", data_impl=i).attrs["style"] for i in colors)
    cell = dom.one("outcome", data_impl="mixed", data_clause="LOCK-2")
    assert NOTE in cell.text and [e for e in dom.find("note") if e.text == NOTE]
    assert NOTE in dom.one("failure", data_impl="mixed", data_clause="LOCK-2").text
    assert NOTE not in dom.one("outcome", data_impl="mixed", data_clause="LOCK-3").text


def check_matrix(
    dom: Dom,
    impls: list[str],
    expected: dict[str, dict[str, str]],
    scores: dict[str, tuple[int, int]],
) -> None:
    rows, cols, cells, shown = matrix(dom)
    assert rows == LOCK_IDS, "one row per clause, in spec order"
    assert cols == impls, "one column per implementation"
    assert len(dom.find("outcome")) == len(LOCK_IDS) * len(impls), "one cell per clause and column"
    for impl in impls:
        for cid in LOCK_IDS:
            want = expected[impl].get(cid, "not-run")
            assert cells[(impl, cid)] == want, f"{impl} {cid}"
            cell = dom.one("outcome", data_impl=impl, data_clause=cid)
            assert cell.text.strip().startswith(report.LABELS[want])
            assert f"o-{'na' if want == 'n/a' else want}" in cell.classes, "coloured by outcome"
        passed, applicable = scores[impl]
        must, should = level_scores(expected[impl])
        assert shown[impl].split() == [f"{passed}/{applicable}", "MUST", must, "SHOULD", should]
        score = dom.one("score", data_impl=impl)
        assert (score.attrs["data-passed"], score.attrs["data-applicable"]) == (
            str(passed),
            str(applicable),
        )
    failures = {(e.attrs["data-impl"], e.attrs["data-clause"]): e for e in dom.find("failure")}
    want_failures = {
        (impl, cid) for impl in impls for cid, o in expected[impl].items() if o in ("fail", "error")
    }
    assert set(failures) == want_failures, "every failure and error is listed, nothing else"


# ---------------------------------------------------------------- chromium


def chromium() -> str:
    """The browser, or a skip (a failure under CI, which installs it)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed but CI is set: apt-get install -y chromium")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return exe


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM Chromium built from ``page``, serialised."""
    exe = chromium()
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri(),
    ]  # fmt: skip
    # Its own process group, so that a hung page takes the renderer and GPU
    # helpers down with the browser.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish {page.name} within {CHROMIUM_TIMEOUT} s")
    assert proc.returncode == 0, f"chromium exit {proc.returncode}: {err[-2000:]}"
    assert "<html" in out, f"chromium printed no DOM: {err[-2000:]}"
    return out


# ------------------------------------------------------------------- tests


SAMPLE_IMPLS = ["mixed", "clean", "soft", "idle"]
SAMPLE_EXPECTED = {
    "mixed": {"LOCK-1": "pass", "LOCK-2": "fail", "LOCK-3": "error", "LOCK-4": "skipped",
              "LOCK-12": "n/a"},
    "clean": {"LOCK-1": "pass", "LOCK-4": "pass"},
    "soft": {"LOCK-1": "pass", SOFT_ID: "fail"},
    "idle": {"LOCK-12": "n/a"},
}  # fmt: skip
SAMPLE_SCORES = {"mixed": (1, 4), "clean": (2, 2), "soft": (1, 2), "idle": (0, 0)}


def test_score_counts_neither_na_nor_not_run() -> None:
    data = sample()
    for impl, want in SAMPLE_SCORES.items():
        assert report.score(data, "lock", impl) == want, impl
    # Removing the n/a and not-run rows changes nothing; turning one into a skip does.
    rows = [r for r in data["results"] if r["outcome"] not in ("n/a", "not-run")]
    assert report.score({**data, "results": rows}, "lock", "mixed") == (1, 4)
    flipped = [
        {**r, "outcome": "skipped"} if (r["implementation"], r["clause"]) == ("idle", "LOCK-12")
        else r
        for r in data["results"]
    ]  # fmt: skip
    assert report.score({**data, "results": flipped}, "lock", "idle") == (0, 1)


def test_badges(tmp_path: Path) -> None:
    data = sample()
    written = report.render_all(data, tmp_path)
    folder = tmp_path / "badges"
    badges = {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}
    svgs = {p.name: p.read_text() for p in folder.glob("*.svg")}
    assert sorted(badges) == sorted(f"lock-{n}.json" for n in SAMPLE_IMPLS)
    assert sorted(svgs) == sorted(f"lock-{n}.svg" for n in SAMPLE_IMPLS)
    assert {p.name for p in written} >= {"report.html", "report.md", *badges, *svgs}
    version = data["suite"]["version"]
    assert version
    assert badges["lock-mixed.json"] == {
        "schemaVersion": 1, "label": f"distconform {version} lock mixed",
        "message": "1/4 clauses (MUST 1/4, SHOULD 0/0)",
        "color": report.fraction_color(1, 4).removeprefix("#"),
    }  # fmt: skip
    assert badges["lock-soft.json"]["message"] == "1/2 clauses (MUST 1/1, SHOULD 0/1)"
    colors = {name: b["color"] for name, b in badges.items()}
    assert len(set(colors.values())) == 4, f"1/4, 2/2, 1/2, 0/0 are four colours: {colors}"
    # The SVG says what the JSON says, escaped, and colours its right half alike.
    for name, b in badges.items():
        svg = svgs[name.replace(".json", ".svg")]
        root = ElementTree.fromstring(svg)
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert texts == [b["label"], b["message"]], name
        fills = [r.get("fill") for r in root.iter("{http://www.w3.org/2000/svg}rect")]
        assert fills[1] == "#" + b["color"], name


def test_colour_is_graded_by_the_fraction_passed() -> None:
    colors = [report.fraction_color(p, 13) for p in range(14)]
    assert len(set(colors)) == 14, "every fraction of 13 its own colour"
    assert colors[12] != colors[3]
    rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colors]
    assert rgb[0][0] > 2 * rgb[0][1], "none passed: red"
    assert all(rgb[i][1] < rgb[i + 1][1] for i in range(13)), "greener as more pass"
    assert rgb[13][1] > 2 * rgb[13][0], "all passed: green"
    assert report.fraction_color(0, 0) not in colors, "nothing applied: apart"


def test_badge_colour_for_a_skip_only() -> None:
    data = report.build(
        [_test("x", "LOCK-1", "pass"), _test("x", "LOCK-2", "skipped", "no redis server")],
        {"lock/x": _impl("x", [])},
        None,
    )
    shield = report.badge(data, "lock", "x")
    assert shield["message"] == "1/2 clauses (MUST 1/2, SHOULD 0/0)"
    assert shield["color"] == report.fraction_color(1, 2).removeprefix("#")


def test_badge_names_are_file_safe_and_distinct(tmp_path: Path) -> None:
    names = ["pkg.mod:make", "pkg.mod-make", "Odd Name/2"]
    data = report.build(
        [_test(n, "LOCK-1", "pass") for n in names],
        {f"lock/{n}": _impl(n, []) for n in names},
        None,
    )
    report.render_all(data, tmp_path)
    files = sorted(p.name for p in (tmp_path / "badges").glob("*.json"))
    assert files == ["lock-odd-name-2.json", "lock-pkg.mod-make-2.json", "lock-pkg.mod-make.json"]
    labels = {json.loads((tmp_path / "badges" / f).read_text())["label"] for f in files}
    version = data["suite"]["version"]
    assert labels == {f"distconform {version} lock {n}" for n in names}


def test_scores_by_level_and_durations_in_report_json() -> None:
    data = sample()
    jsonschema.validate(data, report.json_schema())
    by_name = {i["name"]: i for i in data["implementations"]}
    assert by_name["soft"]["score"] == {
        "all": {"passed": 1, "applicable": 2},
        "MUST": {"passed": 1, "applicable": 1},
        "SHOULD": {"passed": 0, "applicable": 1},
    }
    for impl in SAMPLE_IMPLS:
        must, should = level_scores(SAMPLE_EXPECTED[impl])
        got = by_name[impl]["score"]
        assert (f"{got['MUST']['passed']}/{got['MUST']['applicable']}",
                f"{got['SHOULD']['passed']}/{got['SHOULD']['applicable']}") == (must, should)  # fmt: skip
    row = next(
        r for r in data["results"] if (r["implementation"], r["clause"]) == ("mixed", "LOCK-1")
    )
    assert (row["duration"], row["duration_max"]) == (0.75, 0.5), "sum and max of its two tests"
    assert row["note"] is None
    noted = next(
        r for r in data["results"] if (r["implementation"], r["clause"]) == ("mixed", "LOCK-2")
    )
    assert noted["note"] == NOTE


def test_text_and_markdown_show_levels_notes_and_durations() -> None:
    data = sample()
    table = report.clause_table(data)
    lines = {line.split("  ")[0]: line.split() for line in table.splitlines() if "  " in line}
    assert lines["LOCK-2"][2] == "FAIL*", "the noted cell is marked"
    assert lines["MUST score"][2:] == ["1/4", "2/2", "1/1", "0/0"]
    assert lines["SHOULD score"][2:] == ["0/0", "0/0", "0/1", "0/0"]
    assert f"* mixed LOCK-2 (FAIL): {NOTE}" in table.splitlines()
    md = report.markdown(data)
    assert "| MUST score |  | 1/4 | 2/2 | 1/1 | 0/0 |" in md
    assert "| SHOULD score |  | 0/0 | 0/0 | 0/1 | 0/0 |" in md
    assert f"- mixed LOCK-2 (FAIL): {NOTE}" in md
    failure = next(line for line in md.splitlines() if line.startswith("- **mixed LOCK-2**"))
    assert f"Adapter's note: {NOTE}" in failure
    assert "| mixed | LOCK-1 | 0.75 s | 0.50 s |" in md, "the slowest clause, first"


def test_html_matrix_from_sample(tmp_path: Path) -> None:
    data = sample()
    report.render_all(data, tmp_path)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    dom = Dom(text)
    check_matrix(dom, SAMPLE_IMPLS, SAMPLE_EXPECTED, SAMPLE_SCORES)
    check_calibration(dom)
    check_toc(dom)
    check_scores_and_notes(dom)
    cell = dom.one("outcome", data_impl="mixed", data_clause="LOCK-1")
    assert (cell.attrs["data-duration"], cell.attrs["data-duration-max"]) == ("0.75", "0.5")
    assert "0.75 s (slowest test 0.50 s)" in cell.attrs["title"]
    row = dom.one("clause", data_clause="LOCK-12")
    assert "fencing" in row.text and "Every grant's token is greater" in row.text
    head = dom.one("impl", data_impl="clean")
    assert "distconform" in head.text and "extend, fencing" in head.text
    # The failure carries its whole message, escaped: no element comes out of it.
    fail = dom.one("failure", data_impl="mixed", data_clause="LOCK-2")
    assert fail.attrs["data-outcome"] == "fail"
    assert XSS in fail.text and "repro: A, B" in fail.text
    assert "&lt;script&gt;" in text
    assert not [e for e in dom.elements if e.tag == "script"], "autoescape must be on"
    err = dom.one("failure", data_impl="mixed", data_clause="LOCK-3")
    assert "ConnectionError: server went away" in err.text
    # Header: suite version and Python.
    assert (
        data["suite"]["version"]
        in next(e for e in dom.elements if e.attrs.get("id") == "suite-version").text
    )
    assert (
        data["run"]["python"]
        in next(e for e in dom.elements if e.attrs.get("id") == "run-python").text
    )


def test_html_is_self_contained(tmp_path: Path) -> None:
    report.render_all(sample(), tmp_path)
    dom = Dom((tmp_path / "report.html").read_text(encoding="utf-8"))
    for e in dom.elements:
        for attr in ("src", "href", "srcset", "data", "action"):
            value = e.attrs.get(attr, "")
            assert not value or value.startswith("#"), f"external reference {e}"
        assert e.tag not in ("link", "script", "iframe", "img", "object"), e
    style = next(e for e in dom.elements if e.tag == "style")
    assert "url(" not in style.text and "@import" not in style.text


def test_markdown_beside_it(tmp_path: Path) -> None:
    data = sample()
    report.render_all(data, tmp_path)
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == report.markdown(data)


def test_real_run_html(real_run: tuple[dict[str, Any], Path]) -> None:
    data, page = real_run
    impls = list(REAL_EXPECTED)
    assert [i["name"] for i in data["implementations"]] == impls
    for impl, (passed, applicable) in REAL_SCORES.items():
        assert report.score(data, "lock", impl) == (passed, applicable)
    jsonschema.validate(data, report.json_schema())
    dom = Dom(page.read_text(encoding="utf-8"))
    check_matrix(dom, impls, REAL_EXPECTED, REAL_SCORES)
    check_toc(dom)
    check_real_notes(dom)
    memory = dom.one("impl", data_impl="memory")
    assert f"distconform {data['suite']['version']} (reference)" in memory.text
    # Every clause that ran has its tests' seconds; not-run ones have none.
    for r in data["results"]:
        if r["outcome"] == "not-run":
            assert r["duration"] == 0 and not r["tests"]
        else:
            assert r["duration"] > 0 and 0 < r["duration_max"] <= r["duration"], r
    # The minimal reproductions: the failed assertion and the raised error, in full.
    fail = dom.one("failure", data_impl=BROKEN_NAME, data_clause="LOCK-2")
    assert "lock still held after its holder released it" in fail.text
    err = dom.one("failure", data_impl=BROKEN_NAME, data_clause="LOCK-11")
    assert "RuntimeError: backend refused <left> & gave up" in err.text
    badges = page.parent / "badges"
    green = report.fraction_color(4, 4).removeprefix("#")
    assert json.loads((badges / "lock-memory.json").read_text())["color"] == green
    broken = json.loads((badges / "lock-dc_html_broken-factory.json").read_text())
    assert broken["message"] == "0/3 clauses (MUST 0/3, SHOULD 0/0)"


@pytest.mark.parametrize("source", ["sample", "real run"])
def test_chromium_reads_the_matrix(
    source: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    chromium()  # skip (or fail under CI) before running anything
    if source == "sample":
        report.render_all(sample(), tmp_path / "out")
        page = tmp_path / "out" / "report.html"
        impls, expected, scores = SAMPLE_IMPLS, SAMPLE_EXPECTED, SAMPLE_SCORES
    else:
        _, page = request.getfixturevalue("real_run")
        impls, expected, scores = list(REAL_EXPECTED), REAL_EXPECTED, REAL_SCORES
    dom = Dom(dump_dom(page, tmp_path / "profile"))
    check_matrix(dom, impls, expected, scores)
    check_toc(dom)
    if source == "sample":
        check_calibration(dom)
        check_scores_and_notes(dom)
    else:
        check_real_notes(dom)
    assert not [e for e in dom.elements if e.tag == "script"]


def test_cli_report_prints_the_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "report.json"
    src.write_text(json.dumps(sample()), encoding="utf-8")
    assert main(["report", str(src), "--out", str(tmp_path / "site")]) == 0
    printed = capsys.readouterr().out.split()
    site = tmp_path / "site"
    assert printed[:2] == [str(site / "report.html"), str(site / "report.md")]
    assert sorted(printed[2:]) == sorted(
        str(site / "badges" / f"lock-{n}.{ext}") for n in SAMPLE_IMPLS for ext in ("json", "svg")
    )
    assert all(Path(p).is_file() for p in printed)
    # Without --out the files go beside the input.
    assert main(["report", str(src)]) == 0
    assert (tmp_path / "report.html").is_file()


#: The schema check names where the file goes wrong.
WHERE = {
    "unknown outcome": "results[0]['outcome']: 'maybe' is not one of",
    "clause without text": "clauses['lock'][0]: 'requires' is a required property",
}


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    good = sample()
    cases: dict[str, Any] = {
        "not json": "{not json",
        "a list": "[1, 2]",
        "no results": {k: v for k, v in good.items() if k != "results"},
        "future format": {**good, "format": 99},
        "unknown outcome": {**good, "results": [{**good["results"][0], "outcome": "maybe"}]},
        "clause without text": {**good, "clauses": {"lock": [{"id": "LOCK-1", "level": "MUST"}]}},
        "binary": b"\xff\xfe\x00garbage",
    }
    out: dict[str, tuple[list[str], str]] = {}
    for name, content in cases.items():
        path = tmp / (name.replace(" ", "_") + ".json")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        out[name] = (["report", str(path), "--out", str(tmp / "o")], WHERE.get(name, "report"))
    out["missing file"] = (["report", str(tmp / "nope.json")], "no report at")
    out["a folder"] = (["report", str(tmp)], "cannot read")
    good_path = tmp / "good.json"
    good_path.write_text(json.dumps(good))
    (tmp / "blocker").write_text("a file where the output folder should be")
    out["out is a file"] = (
        ["report", str(good_path), "--out", str(tmp / "blocker")],
        "cannot write",
    )
    return out


def test_bad_input_gives_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, (argv, words) in _bad_inputs(tmp_path).items():
        code = main(argv)
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert code == 2, f"{name}: exit {code}, stderr {captured.err!r}"
        assert len(lines) == 1, f"{name}: {captured.err!r}"
        assert lines[0].startswith("distconform: ") and words in lines[0], f"{name}: {lines[0]!r}"
        assert not (tmp_path / "o" / "report.html").exists(), f"{name}: wrote a page anyway"


def test_chromium_reads_the_trend(tmp_path: Path) -> None:
    """The trend section (tests/test_history.py checks its numbers) as a browser builds it."""
    chromium()
    worse = sample()
    worse["results"] = [
        {**r, "outcome": "fail"} if (r["implementation"], r["clause"]) == ("clean", "LOCK-1") else r
        for r in worse["results"]
    ]  # fmt: skip
    for data in (sample(), worse, sample()):
        report.write(data, tmp_path)
    assert main(["report", str(tmp_path / "report.json")]) == 0
    dom = Dom(dump_dom(tmp_path / "report.html", tmp_path / "profile"))
    assert dom.one("trend", data_impl="clean").attrs["data-scores"] == "2/2 1/2 2/2"
    rows = [i for i, e in enumerate(dom.elements) if "trend" in e.classes and e.tag == "tr"]
    start = next(i for i in rows if dom.elements[i].attrs["data-impl"] == "clean")
    end = next((i for i in rows if i > start), len(dom.elements))
    dots = [e for e in dom.elements[start:end] if e.tag == "circle"]
    assert [(d.attrs["data-change"], d.text.split(": ")[-1]) for d in dots] == [
        ("down", "1/2"), ("up", "2/2")]  # fmt: skip

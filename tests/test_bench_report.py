"""report.html's benchmarks section: bench.json's ratios to the floor as inline SVG bars."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from distconform import backends, mechanisms, report
from distconform.adapters import resolve
from distconform.bench import command
from distconform.cli import main


class Elements(HTMLParser):
    """Every start tag of a page: (tag, attributes), in order."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        want = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [a for t, a in self.found if t == tag and want.items() <= a.items()]


def _report_json() -> dict[str, Any]:
    test = {
        "implementation": "memory", "mechanism": "lru", "spec": "tests:memory",
        "clauses": ["LRU-1"], "test": "conformance/test_lru.py::test_lru_1[memory]",
        "outcome": "pass", "message": "", "duration": 0.01,
    }  # fmt: skip
    impl = {
        "notes": {}, "name": "memory", "mechanism": "lru", "spec": "tests:memory",
        "package": "distconform", "capabilities": [], "description": "memory",
    }  # fmt: skip
    return report.build([test], {"lru/memory": impl}, None)


def _bench_json() -> dict[str, Any]:
    """A real lru run of the memory reference, one round, a faster one made up, a failed one."""
    m = mechanisms.get("lru")
    entry = command.measure_all(m, [resolve(m, "memory")], backends.Backends(private=False), 1, 10)
    broken = {w["name"]: {"error": "CallTimeout: get() did not return within 0.3s"}
              for w in entry["workloads"]}  # fmt: skip
    faster = {w: {**r, "x_floor": min(3 * r["x_floor"], 1.0)}
              for w, r in entry["implementations"][0]["results"].items()}  # fmt: skip
    entry["implementations"].append({"name": "faster", "spec": "x:z", "results": faster})
    entry["implementations"].append({"name": "broken", "spec": "x:y", "results": broken})
    return {"format": 1, "mechanisms": {"lru": entry}}


def test_report_draws_each_ratio_as_a_bar(tmp_path: Path) -> None:
    """One SVG per workload; a bar per implementation whose length grows with its ratio."""
    bench = _bench_json()
    report.render_all(_report_json(), tmp_path, bench=bench)
    page = Elements((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert page.all("section", id="benchmarks")
    assert page.all("section", id="bench-lru", data_mechanism="lru")
    hrefs = {a["href"] for a in page.all("a")}
    assert {"#benchmarks", "#bench-lru"} <= hrefs
    entry = bench["mechanisms"]["lru"]
    plots = page.all("svg", **{"class": "bench-plot"})
    assert [p["data-workload"] for p in plots] == [w["name"] for w in entry["workloads"]]
    memory = entry["implementations"][0]["results"]
    bars = page.all("g", **{"class": "bar", "data-impl": "memory"})
    assert [float(b["data-x-floor"]) for b in bars] == [memory[w]["x_floor"] for w in memory]
    # Log scale from 0.1 (or a decade lower) to 1 at 320 px, one scale per plot:
    # within a plot a longer bar is a higher ratio ("faster" has 3x memory's
    # ratio, at most 1). Across plots the scales differ (compared across them,
    # two fresh-clone runs failed on measured ratios in other decades).
    faster = page.all("g", **{"class": "bar", "data-impl": "faster"})
    assert len(faster) == len(bars) == len(plots)
    for slow, fast in zip(bars, faster, strict=True):
        assert float(fast["data-x-floor"]) >= float(slow["data-x-floor"])
        assert 0 < float(slow["data-length"]) <= float(fast["data-length"]) <= 320
    broken = page.all("g", **{"class": "bar", "data-impl": "broken"})
    assert broken and all(b["data-length"] == "" for b in broken)
    assert "CallTimeout: get() did not return within 0.3s" in (tmp_path / "report.html").read_text()


def test_section_is_self_contained(tmp_path: Path) -> None:
    """No script, no external reference: the page stays one file that works offline."""
    report.render_all(_report_json(), tmp_path, bench=_bench_json())
    page = Elements((tmp_path / "report.html").read_text(encoding="utf-8"))
    for tag, attrs in page.found:
        assert tag not in ("script", "img", "link", "iframe", "object", "image", "use"), tag
        for key in ("src", "href", "xlink:href"):
            assert not attrs.get(key, "#").lstrip("#").startswith(("http", "//", "data:")), attrs


def test_without_bench_json_there_is_no_section(tmp_path: Path) -> None:
    report.render_all(_report_json(), tmp_path)
    page = Elements((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert not page.all("section", id="benchmarks")
    assert "#benchmarks" not in {a["href"] for a in page.all("a")}


def test_cli_report_reads_bench_json_beside_report_json(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "report.json").write_text(json.dumps(_report_json()), encoding="utf-8")
    (tmp_path / "bench.json").write_text(json.dumps(_bench_json()), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["report", str(tmp_path / "report.json"), "--out", str(out)]) == 0
    assert 'id="bench-lru"' in (out / "report.html").read_text(encoding="utf-8")
    (tmp_path / "bench.json").write_text('{"format": 99}', encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(tmp_path / "report.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a distconform bench file" in err[0], err

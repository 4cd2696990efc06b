"""``distconform bench``: bench.json as the README shows it, a true floor, time limits, bad input."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from distconform import backends, mechanisms
from distconform.adapters import resolve
from distconform.api import Context, Implementation
from distconform.bench import Contenders, command
from distconform.cli import main

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")

#: How long the hanging sample's ``get`` sleeps: far beyond the 0.3 s call
#: timeout the test gives, and short enough that the stuck daemon thread ends
#: on its own soon after.
HANG_S = 5.0


class HangingGets:
    """An LRU client whose ``get`` hangs; ``put`` works."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def configure(self, capacity: int) -> None:
        pass

    def get(self, key: str) -> str | None:
        time.sleep(HANG_S)
        return None

    def put(self, key: str, value: str) -> None:
        self._data[key] = value

    def delete(self, key: str) -> bool:
        return self._data.pop(key, None) is not None


def hanging(ctx: Context) -> Implementation:
    return Implementation(client=HangingGets)


def _shape(value: Any) -> Any:
    """The keys of every dict, recursively; a list by its first element; values dropped."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def _readme_example() -> dict[str, Any]:
    block = re.search(r"```json\n(.*?)```", README.split("## Benchmarks", 1)[1], flags=re.S)
    assert block, "the README's Benchmarks section shows no bench.json"
    return dict(json.loads(block.group(1)))


def test_bench_lru_memory_writes_bench_json_as_documented(tmp_path: Path, capsys: Any) -> None:
    """`distconform bench lru memory` writes bench.json shaped as the README's example."""
    out = tmp_path / "reports"
    assert main(["bench", "lru", "memory", "--rounds", "3", "--report-dir", str(out)]) == 0
    data = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    entry = data["mechanisms"]["lru"]
    assert entry["servers"] == {}  # a memory run starts none
    example = _readme_example()
    # The example shows one workload's result of one implementation, and a server.
    shown = json.loads(json.dumps(data))
    for impl in shown["mechanisms"]["lru"]["implementations"]:
        impl["results"] = {"get-hit": impl["results"]["get-hit"]}
    shown["mechanisms"]["lru"]["servers"] = example["mechanisms"]["lru"]["servers"]
    assert _shape(shown) == _shape(example)
    assert [w["name"] for w in entry["workloads"]] == ["get-hit", "get-miss", "put-evict"]
    (memory,) = entry["implementations"]
    for w in entry["workloads"]:
        result = memory["results"][w["name"]]
        assert result["rounds"] == 3 and result["ops_per_round"] == w["ops_per_round"]
        assert 0 < result["x_floor"] <= 1, (w["name"], result, w["floor"])
        lat = result["latency_us"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert "get-hit    memory" in capsys.readouterr().out


def test_a_run_keeps_the_other_mechanisms_entries(tmp_path: Path) -> None:
    """bench.json gains a mechanism per run instead of losing the previous one."""
    for mech in ("lru", "hotwarm"):
        assert main(["bench", mech, "memory", "--rounds", "1", "--report-dir", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert sorted(data["mechanisms"]) == ["hotwarm", "lru"]


def _worst_ratio(entry: dict[str, Any]) -> tuple[float, str]:
    return max(
        (r["x_floor"], f"{i['name']} {w}")
        for i in entry["implementations"]
        for w, r in i["results"].items()
        if "x_floor" in r
    )


@pytest.mark.parametrize("mech", sorted(mechanisms.MECHANISMS))
def test_no_in_process_reference_beats_the_floor(mech: str) -> None:
    """Every workload: the in-process references' ops/s stay at or below the floor's.

    The references do at least 2x the floor's work per call (a lock, a move to
    the end, a clock read); on this loaded machine a floor round (about 0.2 ms)
    can be preempted, so 7 rounds: the median is wrong only if 4 of them are.
    """
    m = mechanisms.get(mech)
    adapters = [resolve(m, n) for n in m.references if n.startswith("memory")]
    entry = command.measure_all(m, adapters, backends.Backends(private=False), 7, 10.0)
    errors = [(i["name"], r) for i in entry["implementations"] for r in i["results"].values()
              if "error" in r]  # fmt: skip
    assert not errors
    ratio, where = _worst_ratio(entry)
    assert ratio <= 1, f"{where} ran at {ratio} x the floor: the floor is not the floor"


def test_a_server_reference_does_not_beat_the_floor(
    dc_backends: backends.Backends, pytestconfig: pytest.Config
) -> None:
    """The Redis lock, one round of its cycles, stays below the floor.

    Only one server reference, to keep the test short: every server-backed
    reference pays at least a round trip per call (tens of microseconds,
    0.001 x the floor on this machine), against the floor's fraction of a
    microsecond; the Redis lock is the cheapest of them per call.
    """
    if dc_backends.ensure("redis") is None:
        if pytestconfig.getoption("--require-backends"):
            pytest.fail(dc_backends.missing["redis"])
        pytest.skip(dc_backends.missing["redis"])
    m = mechanisms.get("lock")
    first = command.bench.module("lock").WORKLOADS[0]
    entry = command.measure_all(m, [resolve(m, "redis")], dc_backends, 1, 10.0, [first])
    ratio, where = _worst_ratio(entry)
    assert ratio <= 1, f"lock {where} ran at {ratio} x the floor"


def test_a_hanging_implementation_fails_its_benchmark_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A get that never returns: get-hit and get-miss fail with the time limit, put-evict runs."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    spec = f"{Path(__file__).stem}:hanging"
    args = ["bench", "lru", spec, "--rounds", "1", "--call-timeout", "0.3"]
    started = time.monotonic()
    assert main([*args, "--report-dir", str(tmp_path)]) == 1
    # Two timed-out rounds of 0.3 s, not two hangs of HANG_S.
    assert time.monotonic() - started < HANG_S
    entry = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))["mechanisms"]["lru"]
    results = entry["implementations"][0]["results"]
    for name in ("get-hit", "get-miss"):
        assert "did not return within 0.3s" in results[name]["error"], results[name]
    assert results["put-evict"]["ops_per_s"] > 0
    assert f"get-hit {spec}: CallTimeout" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nosuchmech"], "unknown mechanism 'nosuchmech'"),
        (["lru", "no-such-name"], "unknown lru implementation 'no-such-name'"),
        (["lru", "no_such_module:factory"], "cannot import module 'no_such_module'"),
        (["lru", "memory", "--rounds", "0"], "--rounds '0': give a number above 0"),
        (["lru", "memory", "--rounds", "two"], "--rounds 'two'"),
        (["lru", "memory", "--call-timeout", "-1"], "--call-timeout '-1'"),
        (["lru", "memory", "--call-timeout", "nan"], "--call-timeout 'nan'"),
        (["lru", "redis", "--redis-url", "redis://127.0.0.1:1/0"], "cannot reach Redis"),
        (["lru", "memory", "cachetools", "memory"], "memory named twice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], needle: str, tmp_path: Path, capsys: Any
) -> None:
    code = main(["bench", *args, "--report-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    assert needle in err[0], err[0]
    assert not (tmp_path / "bench.json").exists()


def test_the_table_calls_a_ratio_above_1_a_floor_bug() -> None:
    result = {"ops_per_s": 20.0, "x_floor": 2.0, "latency_us": {"p50": 1.0, "p99": 2.0},
              "rounds": 1}  # fmt: skip
    entry = {
        "workloads": [{"name": "get-hit", "floor": {**result, "ops_per_s": 10.0}}],
        "implementations": [{"name": "fast", "results": {"get-hit": result}}],
    }
    row = next(line for line in command.table(entry).splitlines() if " fast " in line)
    assert "2 (floor beaten: a bug in the floor)" in row


def test_a_hanging_contender_fails_the_round_within_its_limit() -> None:
    """Contenders: one thread stuck, the round raises after ``limit``; a raising one re-raises."""
    stuck = threading.Event()

    def hang() -> tuple[list[int], int]:
        stuck.wait(HANG_S)
        return [], 0

    def fine() -> tuple[list[int], int]:
        return [1], 0

    crowd = Contenders([hang, fine], 0.2, [])
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.2s"):
        crowd.round()
    assert time.monotonic() - started < HANG_S
    stuck.set()
    crowd.close()

    def boom() -> tuple[list[int], int]:
        raise ValueError("client broke")

    crowd = Contenders([boom, fine], 5.0, [])
    with pytest.raises(ValueError, match="client broke"):
        crowd.round()
    crowd.close()

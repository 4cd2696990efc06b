"""The timing calibration: the tolerance formula, the verdicts, and their way into the report."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from distconform import calibrate, report
from distconform.calibrate import Calibration, Figures, Timing, Tolerance, judge


def _cal(jitter: float = 0.0002, redis: float = 0.0004, mysql: float = 0.0005) -> Calibration:
    return Calibration(
        jitter=Figures(200, jitter / 2, jitter, jitter * 5),
        rtt={"redis": Figures(100, redis / 2, redis, redis * 3),
             "mysql": Figures(100, mysql / 2, mysql, mysql * 3)},
        switch_interval=0.005,
    )  # fmt: skip


class TestFigures:
    def test_nearest_rank_quantiles(self) -> None:
        """p50 and p99 of 1..100 ms are the 50th and the 99th sample; max the largest."""
        f = Figures.of([i / 1000 for i in range(100, 0, -1)])
        assert (f.n, f.p50, f.p99, f.max) == (100, 0.050, 0.099, 0.100)

    def test_no_samples_is_an_error(self) -> None:
        """Summarising nothing is refused."""
        with pytest.raises(ValueError, match="no samples"):
            Figures.of([])


class TestTolerance:
    def test_formula_with_numbers(self) -> None:
        """The tolerance is the formula of the module docstring, term by term."""
        cal = _cal()
        floor = 4 * 0.005
        assert cal.tolerance() == pytest.approx(floor + 5 * 0.0002)
        assert cal.tolerance(["redis"], 3) == pytest.approx(floor + 5 * 0.0002 + 3 * 2 * 0.0004)
        # Several backends: each round trip is bounded by the slowest.
        assert cal.tolerance(["redis", "mysql"]) == pytest.approx(floor + 0.001 + 2 * 0.0005)
        proxied = cal.tolerance(["redis"], 2, proxied=["redis"])
        assert proxied == pytest.approx(cal.tolerance(["redis"], 2) + 2 * 2 * (0.005 + 0.0002))

    def test_monotonic_in_every_input(self) -> None:
        """More jitter, slower round trips, more round trips or a proxy never shrink it."""
        base = _cal()
        t = base.tolerance(["redis"], 2)
        assert _cal(jitter=0.01).tolerance(["redis"], 2) > t
        assert _cal(redis=0.01).tolerance(["redis"], 2) > t
        assert base.tolerance(["redis"], 3) > t > base.tolerance(["redis"], 1)
        assert base.tolerance(["redis"], 2, proxied=["redis"]) > t
        assert base.tolerance(["redis"]) > base.tolerance()
        for j in (0.0, 1e-5, 1e-3, 1e-1):
            assert _cal(jitter=j * 2).tolerance(["mysql"]) >= _cal(jitter=j).tolerance(["mysql"])

    def test_floor_on_a_silent_machine(self) -> None:
        """Zero jitter and zero round trips still leave the floor of four GIL hand-offs."""
        silent = _cal(jitter=0.0, redis=0.0, mysql=0.0)
        assert silent.tolerance(["redis", "mysql"], 10) == pytest.approx(0.020)

    def test_absent_backend_adds_nothing(self) -> None:
        """A backend without figures (not available) counts as a memory implementation."""
        cal = Calibration(jitter=Figures(1, 0.0, 0.001, 0.001), switch_interval=0.005)
        assert cal.tolerance(["redis"], 5) == cal.tolerance()

    def test_worst_of_two_measurements(self) -> None:
        """A re-measurement can only raise the figures."""
        a, b = _cal(jitter=0.001, redis=0.0001), _cal(jitter=0.0001, redis=0.002)
        w = a.worst(b)
        assert (w.jitter.p99, w.rtt["redis"].p99) == (0.001, 0.002)

    def test_json_has_figures_and_formula(self) -> None:
        """to_json() carries the figures, the constants and the formula text."""
        data = _cal().to_json()
        assert data["formula"] == calibrate.FORMULA and "switch_interval" in data["formula"]
        assert data["jitter"]["p99"] == 0.0002 and set(data["rtt"]) == {"mysql", "redis"}
        assert data["tolerance"]["memory"] < data["tolerance"]["redis"]
        json.dumps(data)


class TestJudge:
    def test_median_for_tight_max_for_loose(self) -> None:
        """One slow trial of five breaks only the loose bound; three break only the tight."""
        one_slow = judge("x", [1.00, 1.01, 1.02, 1.01, 1.80], at_most=1.0, tight=0.05, loose=0.5)
        assert one_slow.tight_ok and not one_slow.loose_ok
        assert one_slow.median == 1.01 and one_slow.max == 1.80
        three = judge("x", [1.10, 1.12, 1.15, 1.00, 1.01], at_most=1.0, tight=0.05, loose=0.5)
        assert not three.tight_ok and three.loose_ok
        fine = judge("x", [1.0, 1.04, 1.05, 1.05, 1.5], at_most=1.0, tight=0.05, loose=0.5)
        assert fine.ok

    def test_at_least_is_hard(self) -> None:
        """A single sample a microsecond under at_least fails, whatever the tolerances."""
        c = judge("x", [1.0, 1.0, 0.999999], at_least=1.0, at_most=1.0, tight=9, loose=9)
        assert not c.at_least_ok and c.tight_ok and c.loose_ok
        assert judge("x", [1.0], at_least=1.0, tight=0, loose=0).ok

    def test_bad_calls(self) -> None:
        """No samples, no bound, too few trials for a median, negative tolerances: refused."""
        with pytest.raises(ValueError, match="no samples"):
            judge("x", [], at_most=1, tight=0, loose=0)
        with pytest.raises(ValueError, match="at_least, at_most"):
            judge("x", [1.0], tight=0, loose=0)
        with pytest.raises(ValueError, match="at least 3 trials"):
            judge("x", [1.0, 1.0], at_most=1, tight=0, loose=0)
        with pytest.raises(ValueError, match=">= 0"):
            judge("x", [1.0] * 3, at_most=1, tight=-1, loose=0)


class _Fixed(calibrate.Calibrator):
    """A calibrator with given figures, and a given re-measurement."""

    def __init__(self, cal: Calibration, now: Calibration | None = None) -> None:
        super().__init__(lambda kind: None)
        self._cal = cal
        self.now = now or cal
        self.remeasured = 0

    def remeasure(self, kinds: Any) -> Calibration:
        self.remeasured += 1
        return self.now


class _Subject:
    def __init__(self, needs: set[str], proxied: tuple[str, ...] = ()) -> None:
        self.impl = type("I", (), {"needs": frozenset(needs)})()
        self.proxied = proxied


class TestTiming:
    def test_check_raises_naming_the_verdict_and_records_each(self) -> None:
        """A failed check names its verdict with ms figures; passed ones are recorded too."""
        got: list[dict[str, Any]] = []
        t = Timing(_Fixed(_cal()), got.append)
        t.check("fine", [0.5, 0.5, 0.5], at_least=0.5, at_most=0.5, tight=0.01, loose=0.1)
        with pytest.raises(AssertionError, match="loose verdict failed") as info:
            t.check("slow", [1.0, 1.0, 1.2345], at_most=1.0, tight=0.01, loose=0.1)
        assert "tight verdict" not in str(info.value)
        assert "max 1234 ms > at_most 1000 ms + loose 100 ms" in str(info.value)
        assert "samples [1000, 1000, 1234] ms" in str(info.value)
        with pytest.raises(AssertionError, match="lower bound failed: 1 of 3") as info:
            t.check("early", [0.95, 1.0, 1.0], at_least=1.0, tight=0, loose=0)
        assert [g["what"] for g in got] == ["fine", "slow", "early"]
        assert [(g["tight_ok"], g["loose_ok"]) for g in got] == [(True, True), (True, False),
                                                                  (True, True)]  # fmt: skip
        assert set(got[0]) >= {"what", "n", "median", "max", "at_least", "at_most", "tight",
                               "loose", "tight_ok", "loose_ok"}  # fmt: skip

    def test_tight_by_backends(self) -> None:
        """tight() takes the backends from impl.needs; memory gets jitter only; proxy adds hops."""
        cal = _cal()
        t = Timing(_Fixed(cal), lambda e: None)
        assert t.tight(_Subject(set())) == pytest.approx(cal.tolerance())
        assert t.tight(_Subject({"redis"}), 3) == pytest.approx(cal.tolerance(["redis"], 3))
        assert t.tight(_Subject({"redis-masters"})) == pytest.approx(cal.tolerance(["redis"]))
        proxied = t.tight(_Subject({"mysql"}, ("mysql",)))
        assert proxied == pytest.approx(cal.tolerance(["mysql"], 1, ["mysql"]))
        assert isinstance(proxied, Tolerance) and proxied.backends == ("mysql",)

    def test_a_missed_median_is_judged_again_under_present_load(self) -> None:
        """A busier machine now loosens the tight bound; a quiet one cannot tighten it."""
        calm, busy = _cal(), _cal(jitter=0.02)
        got: list[dict[str, Any]] = []
        fixed = _Fixed(calm, busy)
        t = Timing(fixed, got.append)
        tight = t.tight(_Subject({"redis"}))  # about 22 ms
        t.check("busy", [1.05, 1.05, 1.05], at_most=1.0, tight=tight, loose=0.5)
        assert fixed.remeasured == 1 and got[-1]["tight_ok"]
        assert got[-1]["rechecked_tight"] == pytest.approx(busy.tolerance(["redis"]), abs=1e-6)
        fixed.now = calm
        with pytest.raises(AssertionError, match="re-measured under present load"):
            t.check("calm", [1.05, 1.05, 1.05], at_most=1.0, tight=tight, loose=0.5)
        # A plain float is taken as given: no re-measurement.
        with pytest.raises(AssertionError, match="tight verdict failed"):
            t.check("plain", [1.05] * 3, at_most=1.0, tight=float(tight), loose=0.5)
        assert fixed.remeasured == 2


def test_measure_on_this_machine() -> None:
    """Jitter is measured from real sleeps; an unavailable backend stays absent."""
    f = calibrate.measure_jitter(samples=20)
    assert f.n == 20 and 0 <= f.p50 <= f.p99 <= f.max < 5
    cal = calibrate.Calibrator(lambda kind: None).calibration()
    assert cal.rtt == {} and cal.jitter.n == calibrate.JITTER_SAMPLES


TIMED_TEST = textwrap.dedent(
    """
    import time
    import pytest

    MECHANISM = "lock"


    @pytest.mark.clause("LOCK-8")
    def test_timed(impl, timing):
        c = impl.client("a")
        spans = []
        for _ in range(3):
            t0 = time.monotonic()
            g = c.acquire("res", 5.0, 0.0)
            spans.append(time.monotonic() - t0)
            assert g is not None and c.release(g)
        timing.check("fast acquire", spans, at_most=0.0, tight=timing.tight(impl), loose=1.0)


    @pytest.mark.clause("LOCK-9")
    def test_timed_fails(impl, timing):
        # 20 s over at_most: beyond any tight tolerance a loaded machine calibrates
        # (773 ms was seen at load 15), within the loose bound of 30 s.
        timing.check("too slow on purpose", [20.1, 20.1, 20.1], at_most=0.1,
                     tight=timing.tight(impl), loose=30.0)
    """
)


def test_report_carries_calibration_and_verdicts(tmp_path: Path, child_env: dict[str, str]) -> None:
    """A run with timing checks writes the calibration and every verdict to JSON and Markdown."""
    (tmp_path / "test_timed.py").write_text(TIMED_TEST)
    out = tmp_path / "rep"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_timed.py", "--impl", "lock=memory", "-q",
         "-p", "no:cacheprovider", "--dc-report-dir", str(out)],
        capture_output=True, text=True, timeout=300, env=child_env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "tight verdict failed: median 20100 ms > at_most 100 ms" in proc.stdout
    data = json.loads((out / "report.json").read_text())
    cal = data["calibration"]
    assert cal["jitter"]["n"] == calibrate.JITTER_SAMPLES and cal["formula"] == calibrate.FORMULA
    # The child run has both servers (child_env), so both round trips were measured.
    assert set(cal["rtt"]) == {"redis", "mysql"}
    by = {r["clause"]: r for r in data["results"] if r["implementation"] == "memory"}
    (ok,) = by["LOCK-8"]["timing"]
    assert ok["what"] == "fast acquire" and ok["tight_ok"] and ok["loose_ok"] and ok["n"] == 3
    assert ok["tight"] == pytest.approx(cal["tolerance"]["memory"], abs=1e-6)
    (bad,) = by["LOCK-9"]["timing"]
    assert by["LOCK-9"]["outcome"] == "fail" and not bad["tight_ok"] and bad["loose_ok"]
    md = (out / "report.md").read_text()
    assert "## Timing calibration" in md and "scheduler jitter" in md
    assert "memory LOCK-9 — too slow on purpose (n=3)" in md and "FAIL" in md
    assert report.markdown(data) == md

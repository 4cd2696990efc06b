"""How precise a timing verdict can be on this machine: measured once per session.

A timing clause compares measured spans (how long a blocked acquire waited, when
an expired key became free) with a bound the contract names. A span measured
from Python overstates the true one by scheduling delays and server round
trips, and by how much depends on the machine and its load. So the suite
measures both, once per run, and derives the *tight tolerance* from them.

Measured (lazily, at the first timing check of the session):

- scheduler jitter: the overshoot of 200 ``time.sleep(0.001)`` calls, as
  p50/p99/max: how late a thread wakes up after a timed wait;
- the round trip of each backend the run resolved: 100 Redis ``PING`` and 100
  MySQL ``SELECT 1`` on one open connection, as p50/p99/max. A backend that is
  not available is simply absent; one started later is measured at first need.

The formula (:meth:`Calibration.tolerance`)::

    tight = 4 * switch_interval                      # floor: GIL hand-offs
          + 5 * jitter_p99                           # timed wake-ups
          + round_trips * 2 * max(rtt_p99 of the implementation's backends)
          + round_trips * 2 * (switch_interval + jitter_p99)   # per proxied backend

Why each constant:

- ``4 * switch_interval`` (20 ms with CPython's default 5 ms): a measured span
  starts and ends with a call that the test thread hands to the client's worker
  thread (:mod:`distconform.guard`) and takes back: four GIL hand-offs, and a
  thread waiting for the GIL may wait a full switch interval while another
  thread of the test process (a role thread, the fault proxy) holds it. This
  is also the floor that keeps a very quiet machine (jitter and round trips of
  a few hundred microseconds) from making the tolerance absurdly small.
- ``5 * jitter_p99``: each of those four hand-offs is a wake-up that can be
  late by the scheduler's jitter, and so is the implementation's own timed
  wait (its sleep or its blocking pop): five wake-ups, each taken at the p99.
  The tight verdict judges the *median* of several trials, so taking every
  wake-up at its p99 is already conservative.
- ``2 * rtt_p99`` per round trip: PING and ``SELECT 1`` are the cheapest
  commands a server answers; a Lua script or a write with its commit costs
  about twice as much. The test states how many round trips its span contains
  (``round_trips``); with several backends each round trip goes to one of them,
  so the slowest bounds it.
- through the fault proxy (:mod:`distconform.faultproxy`, threads in the test
  process), each round trip crosses two more threads (one each way): one GIL
  hand-off and one wake-up each.

Memory implementations get the floor and the jitter term only. The *loose*
bound of a clause is its old worst-case bound and does not depend on this.

What the samples must be. The tolerance covers hand-offs, wake-ups and the
stated round trips, nothing else, so a sample judged against ``at_most`` must
not contain more: measure it between the moments that bound the true interval
from *below* (a grant starts no later than its acquire *returns*; a lock was
still held when the last refused poll *began*), and put the test's own poll
step into ``at_most``. A sample taken from a call's start instead includes that
whole call (a first call on a new client may connect and load scripts: several
round trips) and must count them in ``round_trips``. For ``at_least`` the
opposite ends bound the interval from *above*, which is why no tolerance is
needed there.

Load changes during a run. When a median misses the tight bound and the
tolerance came from :meth:`Timing.tight`, the check measures jitter and round
trips again at once (50 and 30 samples) and judges with the larger of the two
tolerances; the report shows both. A tight verdict can therefore only fail on
a median that overran the bound under the load measured around the trials.

:class:`Timing` is what tests get as the ``timing`` fixture::

    timing.tight(impl, round_trips=1) -> float
    timing.check(what, samples, *, at_least=None, at_most=None, loose, tight)

``check`` asserts every sample >= ``at_least`` (no tolerance: a measured span
only ever overstates the true one), the median <= ``at_most + tight`` (the
tight verdict) and the max <= ``at_most + loose`` (the loose verdict), and
records every check, passed or failed, into the report.
"""

from __future__ import annotations

import datetime as _dt
import math
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "FORMULA",
    "Calibration",
    "Calibrator",
    "Figures",
    "Timing",
    "TimingCheck",
    "Tolerance",
    "judge",
    "measure_jitter",
    "measure_rtt",
]

#: Multipliers of the formula; the module docstring gives the reason for each.
FLOOR_HANDOFFS = 4
K_JITTER = 5
K_RTT = 2
PROXY_HOPS = 2
JITTER_SLEEP = 0.001
JITTER_SAMPLES = 200
RTT_SAMPLES = 100
#: The quicker re-measurement when a median misses the tight bound.
RECHECK_JITTER_SAMPLES = 50
RECHECK_RTT_SAMPLES = 30
#: A median needs several trials; COMMON practice is 5.
MIN_TRIALS = 3

FORMULA = (
    f"tight = {FLOOR_HANDOFFS}*switch_interval + {K_JITTER}*jitter_p99"
    f" + round_trips*{K_RTT}*max(rtt_p99 of the backends)"
    f" + round_trips*{PROXY_HOPS}*(switch_interval + jitter_p99) per proxied backend"
)


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of sorted data (p99 of 100 samples is the 99th)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Figures:
    """Summary of one measurement, in seconds."""

    n: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Iterable[float]) -> Figures:
        ordered = sorted(samples)
        if not ordered:
            raise ValueError("no samples to summarise")
        return cls(len(ordered), _quantile(ordered, 0.5), _quantile(ordered, 0.99), ordered[-1])

    def worst(self, other: Figures) -> Figures:
        """The larger of each figure (for a re-measurement under more load)."""
        return Figures(
            max(self.n, other.n),
            max(self.p50, other.p50),
            max(self.p99, other.p99),
            max(self.max, other.max),
        )

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "p50": round(self.p50, 6), "p99": round(self.p99, 6),
                "max": round(self.max, 6)}  # fmt: skip


@dataclass(frozen=True)
class Calibration:
    """Jitter and round-trip figures of this machine, and the tolerance from them."""

    jitter: Figures
    rtt: Mapping[str, Figures] = field(default_factory=dict)
    switch_interval: float = field(default_factory=sys.getswitchinterval)
    measured: str = ""

    @property
    def floor(self) -> float:
        return FLOOR_HANDOFFS * self.switch_interval

    def tolerance(
        self, backends: Iterable[str] = (), round_trips: int = 1, proxied: Iterable[str] = ()
    ) -> float:
        """The tight tolerance (s) for a span with ``round_trips`` round trips to ``backends``.

        A backend without figures (not available in this run) adds nothing.
        """
        if round_trips < 0:
            raise ValueError(f"round_trips must be >= 0, got {round_trips}")
        rtts = [self.rtt[b].p99 for b in backends if b in self.rtt]
        t = self.floor + K_JITTER * self.jitter.p99
        if rtts:
            t += round_trips * K_RTT * max(rtts)
        hop = self.switch_interval + self.jitter.p99
        t += round_trips * PROXY_HOPS * hop * len(set(proxied))
        return t

    def with_rtt(self, kind: str, figures: Figures) -> Calibration:
        return replace(self, rtt={**self.rtt, kind: figures})

    def worst(self, other: Calibration) -> Calibration:
        rtt = dict(self.rtt)
        for k, f in other.rtt.items():
            rtt[k] = rtt[k].worst(f) if k in rtt else f
        return replace(self, jitter=self.jitter.worst(other.jitter), rtt=rtt)

    def to_json(self) -> dict[str, Any]:
        return {
            "measured": self.measured,
            "switch_interval": self.switch_interval,
            "floor": round(self.floor, 6),
            "jitter": self.jitter.to_json(),
            "rtt": {k: f.to_json() for k, f in sorted(self.rtt.items())},
            "formula": FORMULA,
            "constants": {"floor_handoffs": FLOOR_HANDOFFS, "k_jitter": K_JITTER,
                          "k_rtt": K_RTT, "proxy_hops": PROXY_HOPS},
            "tolerance": {
                "memory": round(self.tolerance(), 6),
                **{k: round(self.tolerance([k]), 6) for k in sorted(self.rtt)},
            },
        }  # fmt: skip


# ------------------------------------------------------------------ measuring


def measure_jitter(samples: int = JITTER_SAMPLES, sleep: float = JITTER_SLEEP) -> Figures:
    """Overshoot of ``samples`` sleeps of ``sleep`` seconds."""
    over = []
    for _ in range(samples):
        t0 = time.perf_counter()
        time.sleep(sleep)
        over.append(max(0.0, time.perf_counter() - t0 - sleep))
    return Figures.of(over)


def measure_rtt(kind: str, url: str, samples: int = RTT_SAMPLES) -> Figures:
    """Round trips of the cheapest command on one open connection (connect not counted)."""
    from distconform import backends as _backends

    if kind in ("redis", "redis-masters"):
        r = _backends.redis_client(url)
        try:
            r.ping()  # connects
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                r.ping()
                times.append(time.perf_counter() - t0)
        finally:
            r.close()
        return Figures.of(times)
    if kind == "mysql":
        conn = _backends.mysql_connect(url)
        try:
            with conn.cursor() as cur:
                times = []
                for _ in range(samples):
                    t0 = time.perf_counter()
                    cur.execute("SELECT 1")
                    cur.fetchall()
                    times.append(time.perf_counter() - t0)
        finally:
            conn.close()
        return Figures.of(times)
    raise ValueError(f"no round-trip measurement for backend kind {kind!r}")


class Calibrator:
    """The session's calibration, measured at first use; thread-safe.

    ``url(kind)`` gives the URL of a backend kind in this run, or None.
    """

    def __init__(self, url: Callable[[str], str | None]) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._cal: Calibration | None = None
        self._tried: set[str] = set()

    @property
    def measured(self) -> Calibration | None:
        """The calibration if one was measured, else None (nothing is measured here)."""
        return self._cal

    def calibration(self, kinds: Iterable[str] = ("redis", "mysql")) -> Calibration:
        """The calibration, with figures for each of ``kinds`` that is available."""
        with self._lock:
            if self._cal is None:
                now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
                self._cal = Calibration(jitter=measure_jitter(), measured=now)
            for kind in kinds:
                if kind in self._tried:
                    continue
                url = self._url(kind)
                if url is None:
                    continue  # maybe started later: ask again then
                self._tried.add(kind)
                try:
                    self._cal = self._cal.with_rtt(kind, measure_rtt(kind, url))
                except Exception:
                    pass  # not answering: absent, as an unavailable backend is
            return self._cal

    def remeasure(self, kinds: Iterable[str]) -> Calibration:
        """Figures under the present load (fewer samples), not stored."""
        cal = Calibration(jitter=measure_jitter(RECHECK_JITTER_SAMPLES))
        for kind in kinds:
            url = self._url(kind)
            if url is not None:
                try:
                    cal = cal.with_rtt(kind, measure_rtt(kind, url, RECHECK_RTT_SAMPLES))
                except Exception:
                    pass
        return cal


class Tolerance(float):
    """A tight tolerance that remembers what it was computed for (for the re-check)."""

    backends: tuple[str, ...]
    round_trips: int
    proxied: tuple[str, ...]

    def __new__(
        cls, value: float, backends: Iterable[str], round_trips: int, proxied: Iterable[str]
    ) -> Tolerance:
        self = super().__new__(cls, value)
        self.backends = tuple(sorted(backends))
        self.round_trips = round_trips
        self.proxied = tuple(sorted(proxied))
        return self


# ------------------------------------------------------------------- verdicts


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


@dataclass(frozen=True)
class TimingCheck:
    """The verdicts of one :meth:`Timing.check`."""

    what: str
    samples: tuple[float, ...]
    at_least: float | None
    at_most: float | None
    tight: float
    loose: float
    #: The tolerance the tight verdict used after a re-measurement, if there was one.
    rechecked_tight: float | None = None

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples))

    @property
    def max(self) -> float:
        return max(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def at_least_ok(self) -> bool:
        return self.at_least is None or self.min >= self.at_least

    @property
    def tight_used(self) -> float:
        return self.tight if self.rechecked_tight is None else max(self.tight, self.rechecked_tight)

    @property
    def tight_ok(self) -> bool:
        return self.at_most is None or self.median <= self.at_most + self.tight_used

    @property
    def loose_ok(self) -> bool:
        return self.at_most is None or self.max <= self.at_most + self.loose

    @property
    def ok(self) -> bool:
        return self.at_least_ok and self.tight_ok and self.loose_ok

    def failures(self) -> list[str]:
        """One sentence per failed verdict, with the numbers."""
        out = []
        shown = ", ".join(f"{s * 1000:.0f}" for s in self.samples)
        if not self.at_least_ok:
            early = [f"{s * 1000:.0f}" for s in self.samples if s < (self.at_least or 0.0)]
            out.append(
                f"lower bound failed: {len(early)} of {self.n} samples below at_least "
                f"{_ms(self.at_least)} ({', '.join(early)} ms)"
            )
        if not self.tight_ok:
            again = (
                f" (re-measured under present load: {_ms(self.rechecked_tight)})"
                if self.rechecked_tight is not None
                else ""
            )
            out.append(
                f"tight verdict failed: median {_ms(self.median)} > at_most {_ms(self.at_most)}"
                f" + tight {_ms(self.tight)}{again}"
            )
        if not self.loose_ok:
            out.append(
                f"loose verdict failed: max {_ms(self.max)} > at_most {_ms(self.at_most)}"
                f" + loose {_ms(self.loose)}"
            )
        if out:
            out[-1] += f"; samples [{shown}] ms"
        return out

    def to_json(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 6)

        return {
            "what": self.what,
            "n": self.n,
            "median": r(self.median),
            "max": r(self.max),
            "min": r(self.min),
            "at_least": r(self.at_least),
            "at_most": r(self.at_most),
            "tight": r(self.tight),
            "loose": r(self.loose),
            "rechecked_tight": r(self.rechecked_tight),
            "at_least_ok": self.at_least_ok,
            "tight_ok": self.tight_ok,
            "loose_ok": self.loose_ok,
            "samples": [round(s, 6) for s in self.samples],
        }


def judge(
    what: str,
    samples: Iterable[float],
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    loose: float,
    tight: float,
) -> TimingCheck:
    """The verdicts, without raising: see :meth:`Timing.check`."""
    xs = tuple(float(s) for s in samples)
    if not xs:
        raise ValueError(f"{what}: no samples")
    if at_least is None and at_most is None:
        raise ValueError(f"{what}: give at_least, at_most or both")
    if at_most is not None and len(xs) < MIN_TRIALS:
        raise ValueError(
            f"{what}: a median needs at least {MIN_TRIALS} trials, got {len(xs)} (use 5)"
        )
    if tight < 0 or loose < 0:
        raise ValueError(f"{what}: tolerances must be >= 0, got tight={tight}, loose={loose}")
    return TimingCheck(what, xs, at_least, at_most, float(tight), float(loose))


class Timing:
    """The ``timing`` fixture: calibrated tolerances and recorded verdicts for one test."""

    def __init__(self, calibrator: Calibrator, record: Callable[[dict[str, Any]], None]) -> None:
        self._calibrator = calibrator
        self._record = record
        self.checks: list[TimingCheck] = []

    @property
    def calibration(self) -> Calibration:
        """The session's calibration (measured now if this is the first use)."""
        return self._calibrator.calibration()

    def tight(self, subject: Any, round_trips: int = 1) -> float:
        """The tight tolerance (s) for ``subject`` (a Subject, or an Implementation).

        The backends are ``subject.impl.needs``; a memory implementation gets
        the floor and jitter terms only. A subject made by ``via_proxy`` adds
        the proxy's hops for its proxied backends.
        """
        impl = getattr(subject, "impl", subject)
        needs = set(getattr(impl, "needs", ()) or ())
        kinds = {"redis" if n == "redis-masters" else n for n in needs} & {"redis", "mysql"}
        proxied = tuple(getattr(subject, "proxied", ()) or ())
        # Every backend of the run, not only these: the report shows all figures.
        cal = self._calibrator.calibration()
        value = cal.tolerance(kinds, round_trips, proxied)
        return Tolerance(value, kinds, round_trips, proxied)

    def check(
        self,
        what: str,
        samples: Iterable[float],
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        loose: float,
        tight: float,
    ) -> None:
        """Every sample >= at_least; median <= at_most + tight; max <= at_most + loose.

        Records the verdicts (pass or fail) in the report; raises AssertionError
        naming each failed verdict with the numbers.
        """
        c = judge(what, samples, at_least=at_least, at_most=at_most, loose=loose, tight=tight)
        if not c.tight_ok and isinstance(tight, Tolerance):
            now = self._calibrator.remeasure(tight.backends)
            base = self._calibrator.calibration()
            again = base.worst(now).tolerance(tight.backends, tight.round_trips, tight.proxied)
            c = replace(c, rechecked_tight=again)
        self.checks.append(c)
        self._record(c.to_json())
        problems = c.failures()
        if problems:
            raise AssertionError(f"{what}: " + "; ".join(problems))

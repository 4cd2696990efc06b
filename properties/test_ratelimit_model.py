"""Property tests for the rate limiter (spec/ratelimit.md) on a fake clock.

Hypothesis draws arrival sequences, each a list of (gap, key, cost), and a
small limit; the implementation under test, rebuilt on a fake clock, decides
every request, and the admitted ones are checked against the declared bound
of the algorithm, exactly (no call takes time on a fake clock):

- sliding log: at most N units in every window ``(t - W, t]``;
- fixed window: at most N per window, at most 2N in every interval of length W;
- sliding window counter: at most N per window, at most 2N - 1 in every
  interval of length W;
- token bucket: at most b + r d in every interval of length d.

The window algorithms' per-window bound uses windows aligned to multiples of
W on the fake clock (which starts at one): the references align them so, and
an implementation with anchored windows would have to be checked otherwise.

Two algorithms are exact, so their answers are checked both ways: a sliding
log must admit whenever the window has room, a token bucket whenever admitting
keeps every interval within b + r d (a bucket that starts full and refills
continuously admits exactly then). Gaps are drawn from values that land on
the boundaries (W, W/4, 1/r, a tick before them) as well as at random.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distconform.api import FakeClock
from distconform.plugin import NOT_APPLICABLE, Subject

MECHANISM = "ratelimit"
clause = pytest.mark.clause

W = 1.0
START = 1000.0
TICK = 2.0**-10
#: Gaps between arrivals: on the boundaries, a tick before them, and random.
GAPS = st.one_of(
    st.sampled_from([0.0, 0.0, TICK, 0.25 - TICK, 0.25, 0.5, W - TICK, W, 2 * W]),
    st.floats(0, 1.5 * W, allow_nan=False).map(lambda g: round(g, 6)),
)
ARRIVALS = st.lists(
    st.tuples(GAPS, st.sampled_from(["a", "b"]), st.integers(1, 3)), min_size=1, max_size=40
)
#: Limits / bursts: 1 to 4 (so that r = b / W is 1, 2 or 4: exact in binary, or 3).
QUOTAS = st.integers(1, 4)
EPS = 1e-9


def configure(impl: Subject, algorithm: str, quota: int) -> tuple[FakeClock, Subject]:
    if not impl.has("injectable-clock"):
        pytest.skip(f"{NOT_APPLICABLE}: needs capability 'injectable-clock'")
    if not impl.has(algorithm):
        pytest.skip(f"{NOT_APPLICABLE}: the implementation does not offer {algorithm}")
    clock = FakeClock(START)
    ctx = dataclasses.replace(impl.ctx, clock=clock)
    s = Subject(impl.adapter, impl.adapter.build(ctx), ctx, impl.mechanism, impl.call_timeout)
    return clock, s


def interval_bound(algorithm: str, quota: int, span: float) -> float:
    if algorithm == "token-bucket":
        return quota + quota / W * span
    if span >= W:
        return math.inf
    return {"sliding-log": quota, "fixed-window": 2 * quota}.get(algorithm, 2 * quota - 1)


def drive(
    impl: Subject, algorithm: str, quota: int, arrivals: list[tuple[float, str, int]]
) -> None:
    """Run ``arrivals``, checking every answer against the bound as it comes."""
    clock, s = configure(impl, algorithm, quota)
    try:
        c = s.client("p")
        params = (
            {"rate": quota / W, "burst": quota}
            if algorithm == "token-bucket"
            else {"limit": quota, "window": W}
        )
        c.configure(algorithm, **params)
        cost_ok = impl.has("cost")
        admitted: dict[str, list[tuple[float, int]]] = {"a": [], "b": []}
        history: list[str] = []
        for gap, key, cost in arrivals:
            clock.advance(gap)
            if not cost_ok:
                cost = 1
            now = clock.now() - START
            ok = c.hit(key, cost) if cost != 1 else c.hit(key)
            history.append(f"t={now:g} hit({key!r}, {cost}) -> {ok}")
            log = admitted[key]
            # Would admitting this request break the bound on some interval
            # ending now? (For every earlier admitted unit as the interval's start.)
            fits = all(
                sum(k for u, k in log if u >= start) + cost
                <= interval_bound(algorithm, quota, now - start) + EPS
                for start in [now, *(u for u, _ in log)]
            )
            if algorithm == "sliding-log":
                fits = sum(k for u, k in log if u > now - W) + cost <= quota
            if ok:
                log.append((now, cost))
                assert fits, f"{algorithm} (quota {quota}, W={W}) broke its bound: " + "; ".join(
                    history
                )
                if algorithm in ("fixed-window", "sliding-window-counter"):
                    window = math.floor((now + START) / W)
                    in_window = sum(k for u, k in log if math.floor((u + START) / W) == window)
                    assert in_window <= quota, (
                        f"{algorithm} (quota {quota}) admitted {in_window} units in window "
                        f"[{window * W - START:g}, +{W}): " + "; ".join(history)
                    )
            elif algorithm in ("sliding-log", "token-bucket"):
                assert not fits or _tie(algorithm, quota, now, log, cost), (
                    f"{algorithm} (quota {quota}) rejected a request the bound leaves room for: "
                    + "; ".join(history)
                )
    finally:
        s.close()


def _tie(algorithm: str, quota: int, now: float, log: list[tuple[float, int]], cost: int) -> bool:
    """A token bucket whose room is within float rounding of the cost may go either way."""
    if algorithm != "token-bucket":
        return False
    slack = min(
        interval_bound(algorithm, quota, now - start) - sum(k for u, k in log if u >= start) - cost
        for start in [now, *(u for u, _ in log)]
    )
    return slack < 1e-6


#: Each example builds its own limiter (``configure``), so the function-scoped
#: ``impl`` is only the recipe, shared safely between examples.
#: One failure per test (the simplest): several distinct ones would come as an
#: ExceptionGroup, which the report counts as an error, not a clause failure.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def check(impl: Subject, algorithm: str) -> None:
    configure(impl, algorithm, 1)[1].close()  # not applicable: skip before hypothesis starts

    @PROPERTY
    @given(quota=QUOTAS, arrivals=ARRIVALS)
    def run(quota: int, arrivals: list[tuple[float, str, int]]) -> None:
        drive(impl, algorithm, quota, arrivals)

    run()


@clause("RL-1")
def test_sliding_log_on_fake_clock(impl: Subject) -> None:
    """A sliding log admits exactly when its window (t - W, t] has room."""
    check(impl, "sliding-log")


@clause("RL-2", "RL-3")
def test_fixed_window_on_fake_clock(impl: Subject) -> None:
    """A fixed window keeps N per aligned window and 2N per interval of length W."""
    check(impl, "fixed-window")


@clause("RL-4")
def test_sliding_window_counter_on_fake_clock(impl: Subject) -> None:
    """A sliding window counter keeps N per window and 2N - 1 per interval of length W."""
    check(impl, "sliding-window-counter")


@clause("RL-5")
def test_token_bucket_on_fake_clock(impl: Subject) -> None:
    """A token bucket admits exactly when every interval stays within b + r d."""
    check(impl, "token-bucket")


# ------------------------------------------------------------------ observers


def drive_observers(
    impl: Subject, algorithm: str, quota: int, arrivals: list[tuple[float, str, int]]
) -> None:
    """Before every hit: peek agrees with it, remaining is exactly what fits; clear resets."""
    clock, s = configure(impl, algorithm, quota)
    try:
        c = s.client("o")
        params = (
            {"rate": quota / W, "burst": quota}
            if algorithm == "token-bucket"
            else {"limit": quota, "window": W}
        )
        c.configure(algorithm, **params)
        cost_ok = impl.has("cost")
        history: list[str] = []
        for i, (gap, key, cost) in enumerate(arrivals):
            clock.advance(gap)
            cost = cost if cost_ok else 1
            now = clock.now() - START
            said = (c.peek(key, cost) if cost != 1 else c.peek(key)) if impl.has("peek") else None
            left = c.remaining(key) if impl.has("remaining") else None
            ok = c.hit(key, cost) if cost != 1 else c.hit(key)
            history.append(f"t={now:g} peek={said} remaining={left} hit({key!r}, {cost}) -> {ok}")
            if said is not None:
                assert said == ok, "peek disagreed with the hit after it: " + "; ".join(history)
            if left is not None and cost_ok:
                assert ok == (cost <= left), (
                    "remaining disagreed with the hit after it: " + "; ".join(history)
                )
            if impl.has("clear") and i % 7 == 6:
                c.clear(key)
                history.append(f"clear({key!r})")
                if impl.has("remaining"):
                    assert c.remaining(key) == quota, "clear left quota spent: " + "; ".join(
                        history
                    )
    finally:
        s.close()


@clause("RL-14", "RL-15", "RL-17")
@pytest.mark.parametrize(
    "algorithm", ["sliding-log", "fixed-window", "sliding-window-counter", "token-bucket"]
)
def test_observers_agree_with_hits(impl: Subject, algorithm: str) -> None:
    """On a fake clock, peek and remaining answer what the next hit does; clear restores."""
    if not any(impl.has(cap) for cap in ("peek", "remaining", "clear")):
        pytest.skip(f"{NOT_APPLICABLE}: declares none of peek, remaining, clear")
    configure(impl, algorithm, 1)[1].close()

    @PROPERTY
    @given(quota=QUOTAS, arrivals=ARRIVALS)
    def run(quota: int, arrivals: list[tuple[float, str, int]]) -> None:
        drive_observers(impl, algorithm, quota, arrivals)

    run()

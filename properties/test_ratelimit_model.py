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
W on the fake clock (which starts at a multiple of every W used): the
references align them so, and an implementation with anchored windows would
have to be checked otherwise.

Every property runs with W = 1 s and again with W = 0.5 s and 2.5 s (and the
token bucket's rate N / W with them): with W = 1 alone, an implementation
that multiplies by W where it should divide (``now * W`` for ``now / W``)
passes, and every clause here holds for any W. The other two windows run
fewer examples (``OTHER_WINDOW``) to keep the cost down.

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
#: The windows every property runs with: 1 s, and two where ``now / W`` and
#: ``now * W`` differ (both exact in binary, and START is a multiple of each).
WINDOWS = [1.0, 0.5, 2.5]
#: The token bucket's: its rate N / W stays a whole number per second (1 to
#: 16), which some libraries require (pyrate-limiter's Rate counts units per
#: whole interval); W only sets r here, so 0.25 tests the unit as well as 2.5.
BUCKET_WINDOWS = [1.0, 0.5, 0.25]
START = 1000.0
#: The token bucket's fake clock starts near 0 instead: with times far from 0,
#: ``now % last`` equals ``now - last`` (last <= now < 2 last), so a bucket
#: computing its refill so would pass; no window needs aligning there.
BUCKET_START = 1.0


def start_of(algorithm: str) -> float:
    return BUCKET_START if algorithm == "token-bucket" else START


TICK = 2.0**-10


def gaps(w: float) -> st.SearchStrategy[float]:
    """Gaps between arrivals: on the boundaries, a tick before them, and random."""
    return st.one_of(
        st.sampled_from(
            [0.0, 0.0, TICK, w / 4 - TICK, w / 4, w / 2, w - TICK, w, 2 * w, 2 * w + w / 4]
        ),
        st.floats(0, 1.5 * w, allow_nan=False).map(lambda g: round(g, 6)),
    )


def arrivals(w: float) -> st.SearchStrategy[list[tuple[float, str, int]]]:
    return st.lists(
        st.tuples(gaps(w), st.sampled_from(["a", "b"]), st.integers(1, 3)), min_size=1, max_size=40
    )


#: Limits / bursts: 1 to 4 (so that r = b / W is 1, 2 or 4: exact in binary, or 3).
QUOTAS = st.integers(1, 4)
EPS = 1e-9


def configure(impl: Subject, algorithm: str, quota: int) -> tuple[FakeClock, Subject]:
    if not impl.has("injectable-clock"):
        pytest.skip(f"{NOT_APPLICABLE}: needs capability 'injectable-clock'")
    if not impl.has(algorithm):
        pytest.skip(f"{NOT_APPLICABLE}: the implementation does not offer {algorithm}")
    clock = FakeClock(start_of(algorithm))
    ctx = dataclasses.replace(impl.ctx, clock=clock)
    s = Subject(impl.adapter, impl.adapter.build(ctx), ctx, impl.mechanism, impl.call_timeout)
    return clock, s


def interval_bound(algorithm: str, quota: int, span: float, w: float = W) -> float:
    if algorithm == "token-bucket":
        return quota + quota / w * span
    if span >= w:
        return math.inf
    return {"sliding-log": quota, "fixed-window": 2 * quota}.get(algorithm, 2 * quota - 1)


def drive(
    impl: Subject,
    algorithm: str,
    quota: int,
    arrivals: list[tuple[float, str, int]],
    w: float = W,
) -> None:
    """Run ``arrivals``, checking every answer against the bound as it comes."""
    clock, s = configure(impl, algorithm, quota)
    try:
        c = s.client("p")
        params = (
            {"rate": quota / w, "burst": quota}
            if algorithm == "token-bucket"
            else {"limit": quota, "window": w}
        )
        c.configure(algorithm, **params)
        cost_ok = impl.has("cost")
        admitted: dict[str, list[tuple[float, int]]] = {"a": [], "b": []}
        history: list[str] = []
        for gap, key, cost in arrivals:
            clock.advance(gap)
            if not cost_ok:
                cost = 1
            now = clock.now() - start_of(algorithm)
            ok = c.hit(key, cost) if cost != 1 else c.hit(key)
            history.append(f"t={now:g} hit({key!r}, {cost}) -> {ok}")
            log = admitted[key]
            # Would admitting this request break the bound on some interval
            # ending now? (For every earlier admitted unit as the interval's start.)
            fits = all(
                sum(k for u, k in log if u >= start) + cost
                <= interval_bound(algorithm, quota, now - start, w) + EPS
                for start in [now, *(u for u, _ in log)]
            )
            if algorithm == "sliding-log":
                fits = sum(k for u, k in log if u > now - w) + cost <= quota
            if ok:
                log.append((now, cost))
                assert fits, f"{algorithm} (quota {quota}, W={w}) broke its bound: " + "; ".join(
                    history
                )
                if algorithm in ("fixed-window", "sliding-window-counter"):
                    window = math.floor((now + START) / w)
                    in_window = sum(k for u, k in log if math.floor((u + START) / w) == window)
                    assert in_window <= quota, (
                        f"{algorithm} (quota {quota}) admitted {in_window} units in window "
                        f"[{window * w - START:g}, +{w}): " + "; ".join(history)
                    )
            elif algorithm in ("sliding-log", "token-bucket"):
                assert not fits or _tie(algorithm, quota, now, log, cost, w), (
                    f"{algorithm} (quota {quota}) rejected a request the bound leaves room for: "
                    + "; ".join(history)
                )
    finally:
        s.close()


def _tie(
    algorithm: str, quota: int, now: float, log: list[tuple[float, int]], cost: int, w: float
) -> bool:
    """A token bucket whose room is within float rounding of the cost may go either way."""
    if algorithm != "token-bucket":
        return False
    slack = min(
        interval_bound(algorithm, quota, now - start, w)
        - sum(k for u, k in log if u >= start)
        - cost
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
#: The windows other than 1 s: fewer examples, they look for the mistakes
#: that W = 1 hides (a unit mixed up), not for rare schedules.
OTHER_WINDOW = settings(PROPERTY, max_examples=60)


def window_settings(w: float) -> settings:
    return PROPERTY if w == W else OTHER_WINDOW


def expressible(impl: Subject, algorithm: str, w: float) -> None:
    """Skip (before hypothesis starts) what is not applicable: the algorithm, or this W.

    The spec lets an implementation refuse parameters it cannot express with
    ValueError (Interface); for W other than 1 s that is not a failure.
    """
    s = configure(impl, algorithm, 1)[1]
    try:
        quota = 4
        params = (
            {"rate": quota / w, "burst": quota}
            if algorithm == "token-bucket"
            else {"limit": quota, "window": w}
        )
        try:
            s.client("x").configure(algorithm, **params)
        except ValueError as exc:
            if w == W:
                raise
            pytest.skip(f"{NOT_APPLICABLE}: refuses {algorithm} {params}: {exc}")
    finally:
        s.close()


def check(impl: Subject, algorithm: str, w: float) -> None:
    expressible(impl, algorithm, w)

    @window_settings(w)
    @given(quota=QUOTAS, arrivals=arrivals(w))
    def run(quota: int, arrivals: list[tuple[float, str, int]]) -> None:
        drive(impl, algorithm, quota, arrivals, w)

    run()


window = pytest.mark.parametrize("w", WINDOWS, ids=[f"W={w:g}" for w in WINDOWS])
bucket_window = pytest.mark.parametrize(
    "w", BUCKET_WINDOWS, ids=[f"W={w:g}" for w in BUCKET_WINDOWS]
)


@clause("RL-1")
@window
def test_sliding_log_on_fake_clock(impl: Subject, w: float) -> None:
    """A sliding log admits exactly when its window (t - W, t] has room."""
    check(impl, "sliding-log", w)


@clause("RL-2", "RL-3")
@window
def test_fixed_window_on_fake_clock(impl: Subject, w: float) -> None:
    """A fixed window keeps N per aligned window and 2N per interval of length W."""
    check(impl, "fixed-window", w)


@clause("RL-4")
@window
def test_sliding_window_counter_on_fake_clock(impl: Subject, w: float) -> None:
    """A sliding window counter keeps N per window and 2N - 1 per interval of length W."""
    check(impl, "sliding-window-counter", w)


@clause("RL-5")
@bucket_window
def test_token_bucket_on_fake_clock(impl: Subject, w: float) -> None:
    """A token bucket admits exactly when every interval stays within b + r d."""
    check(impl, "token-bucket", w)


# ------------------------------------------------------------------ observers

#: reset_after answers below this are not held to "a hit now is rejected":
#: float rounding of a reset that is due now may leave a few ulps.
RESET_EPS = 1e-6


def drive_observers(
    impl: Subject,
    algorithm: str,
    quota: int,
    arrivals: list[tuple[float, str, int]],
    w: float = W,
) -> None:
    """Before every hit: peek agrees with it, remaining is exactly what fits; clear resets.

    With ``reset-after`` (and ``peek`` to look without spending): reset_after
    is 0 exactly when a one-unit hit is admitted now, and every third arrival
    whose key is spent moves the clock to a tick before the reset (a one-unit
    peek must say no) and a tick after it (yes) before its hit: the clock
    moves on, the schedule stays valid. A tick (about 1 ms) is far above
    float rounding near t = 1000 s and moves a sliding window counter's
    weighted count by at least previous * TICK / W (over 4e-4 units here).
    """
    clock, s = configure(impl, algorithm, quota)
    try:
        c = s.client("o")
        params = (
            {"rate": quota / w, "burst": quota}
            if algorithm == "token-bucket"
            else {"limit": quota, "window": w}
        )
        c.configure(algorithm, **params)
        cost_ok = impl.has("cost")
        reset_ok = impl.has("reset-after") and impl.has("peek")
        history: list[str] = []
        for i, (gap, key, cost) in enumerate(arrivals):
            clock.advance(gap)
            if reset_ok:
                reset = float(c.reset_after(key))
                one = c.peek(key)
                history.append(
                    f"t={clock.now() - start_of(algorithm):g} "
                    f"reset_after({key!r})={reset} peek={one}"
                )
                assert reset >= 0, "reset_after below 0: " + "; ".join(history)
                assert one == (reset == 0) or 0 < reset < RESET_EPS, (
                    f"{algorithm} (quota {quota}, W={w}): reset_after disagrees with a "
                    "one-unit peek: " + "; ".join(history)
                )
                if i % 3 == 2 and reset > 2 * TICK:
                    clock.advance(reset - TICK)
                    before = c.peek(key)
                    clock.advance(2 * TICK)
                    after = c.peek(key)
                    history.append(f"tick before: peek={before}, tick after: peek={after}")
                    assert not before and after, (
                        f"{algorithm} (quota {quota}, W={w}): reset_after({key!r}) said "
                        f"{reset}: " + "; ".join(history)
                    )
            now = clock.now() - start_of(algorithm)
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


OBSERVED = [
    (algorithm, w)
    for algorithm in ["sliding-log", "fixed-window", "sliding-window-counter", "token-bucket"]
    for w in (BUCKET_WINDOWS if algorithm == "token-bucket" else WINDOWS)
]


@clause("RL-14", "RL-15", "RL-16", "RL-17")
@pytest.mark.parametrize(("algorithm", "w"), OBSERVED, ids=[f"{a}-W={w:g}" for a, w in OBSERVED])
def test_observers_agree_with_hits(impl: Subject, algorithm: str, w: float) -> None:
    """On a fake clock, peek and remaining answer what the next hit does, reset_after when the
    next one-unit hit is admitted; clear restores."""
    if not any(impl.has(cap) for cap in ("peek", "remaining", "clear", "reset-after")):
        pytest.skip(f"{NOT_APPLICABLE}: declares none of peek, remaining, clear, reset-after")
    expressible(impl, algorithm, w)

    @window_settings(w)
    @given(quota=QUOTAS, arrivals=arrivals(w))
    def run(quota: int, arrivals: list[tuple[float, str, int]]) -> None:
        drive_observers(impl, algorithm, quota, arrivals, w)

    run()

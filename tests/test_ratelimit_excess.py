"""``excess()`` (conformance/test_ratelimit.py) measures a set of calls to its latest end.

Regression for issue 10, section 7: it measured a run from the first call's
start to the end of the *last-started* call. With concurrent processes a
later-started call can return first, and a correct Redis sliding log failed
RL-8 ("6 units within 1.0000 s"). The histories here are built that way.
"""

from __future__ import annotations

from distconform.conformance.test_ratelimit import CLOCK_RESOLUTION, Call, excess


def _slow_first() -> list[Call]:
    """A correct sliding-log history (N=5, W=1) the old ``excess`` flagged.

    Process A's call starts at 0.00 and is slow: it returns at 1.05, and the
    server decided it at 1.04. Meanwhile process B's five calls start and
    return between 0.01 and 0.06. The six instants span 1.03 s > W: correct.
    In order of start the last call is B's fifth, which ends at 0.06, so the
    old code saw 6 units within 0.06 s.
    """
    slow = Call("shared", 1, 0.00, 1.05, True)
    quick = [Call("shared", 1, 0.01 * (i + 1), 0.01 * (i + 1) + 0.01, True) for i in range(5)]
    return [slow, *quick]


def _old_excess(calls: list[Call], algorithm: str, quota: int = 5) -> str | None:
    """The old computation, kept here only to prove the history would have been flagged."""
    from distconform.conformance.test_ratelimit import bound

    run = sorted((c for c in calls if c.admitted), key=lambda c: c.start)
    for i in range(len(run)):
        units = 0
        for j in range(i, len(run)):
            units += run[j].cost
            if units > bound(algorithm, max(0.0, run[j].end - run[i].start), quota) + 1e-9:
                return "flagged"
    return None


def test_old_code_flagged_the_correct_history() -> None:
    """The history is the regression: the old computation flags it."""
    assert _old_excess(_slow_first(), "sliding-log") == "flagged"


def test_later_started_call_ending_first_is_not_flagged() -> None:
    """The span of a set runs to its latest end: the correct history passes."""
    assert excess(_slow_first(), "sliding-log") is None


def test_a_real_excess_is_still_flagged() -> None:
    """Six units whose calls all lie within 0.07 s break a sliding log of N=5, W=1."""
    calls = [Call("shared", 1, 0.01 * i, 0.01 * i + 0.01, True) for i in range(6)]
    found = excess(calls, "sliding-log")
    assert found is not None and "6 units" in found, found


def test_a_set_that_is_not_a_run_by_start_is_found() -> None:
    """The excess among calls that skip a slow one in start order is still found.

    The slow call (0.00 to 1.5) is not part of the proof; the six quick ones
    after it are within 0.07 s, whatever the slow call's instant.
    """
    slow = Call("shared", 1, 0.00, 1.5, True)
    quick = [Call("shared", 1, 0.1 + 0.01 * i, 0.11 + 0.01 * i, True) for i in range(6)]
    found = excess([slow, *quick], "sliding-log")
    assert found is not None and "6 units" in found, found


def test_token_bucket_span_uses_latest_end() -> None:
    """b + r d with d to the latest end: 7 units within 0.4 s fit b=5, r=5 (bound 7)."""
    slow = Call("k", 2, 0.0, 0.4, True)
    quick = [Call("k", 1, 0.01 * (i + 1), 0.01 * (i + 1) + 0.005, True) for i in range(5)]
    assert excess([slow, *quick], "token-bucket") is None
    assert _old_excess([slow, *quick], "token-bucket") == "flagged"


def test_rejected_and_other_keys_do_not_count() -> None:
    """Only admitted calls on one key count."""
    calls = [Call("a", 1, 0.01 * i, 0.01 * i + 0.01, True) for i in range(5)]
    calls += [Call("a", 1, 0.2, 0.21, False), Call("b", 1, 0.2, 0.21, True)]
    assert excess(calls, "sliding-log") is None


def _bucket_at_its_bound(last_end: float) -> list[Call]:
    """RL-5's schedule on a correct token bucket (b=5, r=5): 5, 3 and 4 units.

    Shaped like the calls pyrate-limiter-redis made in a failing run (first
    and second bursts as recorded, to 0.1 ms), the twelfth ending at ``last_end``:
    pyrate stamped the first and the twelfth exactly 1400 ms apart (b + r d =
    12, correct on its clock), the first stamp floored by almost 1 ms.
    """
    first = [Call("k6", 1, 1.3231 + 0.0003 * i, 1.3233 + 0.0003 * i, True) for i in range(5)]
    second = [Call("k6", 1, 2.0705 + 0.0006 * i, 2.0711 + 0.0006 * i, True) for i in range(3)]
    third = [
        Call("k6", 1, last_end - 0.0024 + 0.0006 * i, last_end - 0.0018 + 0.0006 * i, True)
        for i in range(4)
    ]
    return [*first, *second, *third]


def test_token_bucket_within_clock_resolution_is_not_flagged() -> None:
    """12 units within 1.3998 s: a bucket stamping whole milliseconds may (bound 12 at 1.4 s)."""
    history = _bucket_at_its_bound(1.3231 + 1.3998)
    assert excess(history, "token-bucket") is None
    assert _old_excess(history, "token-bucket") == "flagged"


def test_token_bucket_beyond_clock_resolution_is_flagged() -> None:
    """12 units within 1.3985 s: more than 1 ms short of 1.4 s, no floor of stamps explains it."""
    last_end = 1.3231 + 1.4 - CLOCK_RESOLUTION - 0.0005
    found = excess(_bucket_at_its_bound(last_end), "token-bucket")
    assert found is not None and "12 units" in found, found

"""Rate limiter workloads (distconform/bench/ratelimit.py): the floor and every registered name."""

from __future__ import annotations

from typing import Any

from distconform.bench import Workload

MECHANISM = "ratelimit"


def test_ratelimit(timed: Any, workload: Workload, name: str) -> None:
    timed(MECHANISM, name, workload)

"""Lock workloads (distconform/bench/lock.py): the floor and every registered name."""

from __future__ import annotations

from typing import Any

from distconform.bench import Workload

MECHANISM = "lock"


def test_lock(timed: Any, workload: Workload, name: str) -> None:
    timed(MECHANISM, name, workload)

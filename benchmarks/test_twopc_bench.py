"""Two-phase commit workloads (distconform/bench/twopc.py): the floor and every registered name."""

from __future__ import annotations

from typing import Any

from distconform.bench import Workload

MECHANISM = "twopc"


def test_twopc(timed: Any, workload: Workload, name: str) -> None:
    timed(MECHANISM, name, workload)

"""LRU cache workloads (distconform/bench/lru.py): the floor and every registered name."""

from __future__ import annotations

from typing import Any

from distconform.bench import Workload

MECHANISM = "lru"


def test_lru(timed: Any, workload: Workload, name: str) -> None:
    timed(MECHANISM, name, workload)

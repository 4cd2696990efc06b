"""JWT workloads (distconform/bench/jwt.py): the floor and every registered name.

One benchmark per algorithm and implementation, grouped ``jwt-verify-<ALG>``;
an implementation that does not declare the algorithm is skipped.
"""

from __future__ import annotations

from typing import Any

from distconform.bench import Workload

MECHANISM = "jwt"


def test_jwt(timed: Any, workload: Workload, name: str) -> None:
    timed(MECHANISM, name, workload)

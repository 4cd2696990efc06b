"""Session workloads (distconform/bench/session.py): the floor, every registered name,
and the bare Redis GET/SET baseline (:func:`distconform.bench.session.redis_get_set`)
in the same groups, ``session-read`` and ``session-write``.
"""

from __future__ import annotations

from typing import Any

import pytest

from distconform.bench import Workload
from distconform.bench.session import WORKLOADS

MECHANISM = "session"
BASELINE = "distconform.bench.session:redis_get_set"


def test_session(timed: Any, workload: Workload, name: str) -> None:
    timed(MECHANISM, name, workload)


@pytest.mark.parametrize("baseline", WORKLOADS, ids=[f"{w.name}-redis-get-set" for w in WORKLOADS])
def test_session_bare_redis(timed: Any, baseline: Workload) -> None:
    timed(MECHANISM, BASELINE, baseline)

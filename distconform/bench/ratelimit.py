"""Rate limiter workloads: decisions per second, one workload per algorithm.

``hit-<algorithm>`` configures the algorithm (limit ``LIMIT`` per ``WINDOW``
seconds; token bucket: the same rate and burst) and calls ``hit(key)`` on
``KEYS`` keys in turn, so that a run mixes admissions and rejections the way a
busy limiter sees them. An implementation runs the workloads of the algorithms
it declares; the others are reported not applicable.

The floor's ``hit`` is the dict's own ``get`` of the key: a decision must at
least look up its key's state, and the floor does nothing more (no counting,
no clock, no round trip).
"""

from __future__ import annotations

import itertools
from typing import Any

from distconform.api import Context, Implementation
from distconform.bench import Round, Sequential, Workload, closer

ALGORITHMS = ("sliding-log", "fixed-window", "sliding-window-counter", "token-bucket")
LIMIT, WINDOW = 100, 1.0
KEYS = [f"user{i}" for i in range(20)]
OPS = 1000
ROUNDS = 20

FLOOR = "hit is dict.get of the key: one lookup, no counting, no clock"


class FloorLimiter:
    """The floor client: every decision is one dict lookup."""

    def __init__(self) -> None:
        self.hit = dict[str, Any]().get

    def configure(self, algorithm: str, **params: float) -> None:
        """The floor decides nothing, so it keeps no parameters."""


def floor(ctx: Context) -> Implementation:
    return Implementation(
        client=FloorLimiter, capabilities=frozenset(ALGORITHMS), description=FLOOR
    )


def _traffic() -> list[tuple[str]]:
    return [(k,) for k in itertools.islice(itertools.cycle(KEYS), OPS)]


def _decisions(algorithm: str) -> Any:
    def prepare(impl: Implementation) -> Round:
        client = impl.client()
        if algorithm == "token-bucket":
            client.configure(algorithm, rate=LIMIT / WINDOW, burst=LIMIT)
        else:
            client.configure(algorithm, limit=LIMIT, window=WINDOW)
        return Sequential(client.hit, _traffic, close=closer(client))

    return prepare


WORKLOADS = [
    Workload(f"hit-{a}", f"hit(key) over {len(KEYS)} keys, {a}, {LIMIT} per {WINDOW:g} s",
             OPS, ROUNDS, _decisions(a), requires=a)
    for a in ALGORITHMS
]  # fmt: skip

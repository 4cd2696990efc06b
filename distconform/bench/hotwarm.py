"""Hot-warm workloads: acknowledged writes and reads per second on a healthy pair.

- ``write``: ``write(key, value)`` of new keys through one client; one the pair
  does not acknowledge (False) fails.
- ``read``: ``read(key)`` of keys written before the round (not timed).

The floor is a bare dict, ``write`` its item assignment and ``read`` its
``get``: one store or lookup, with no replication, no acknowledgement and no
discovery. Failover times (kill -9 under load) need the fault tests' servers,
so they stay in the checkout's ``benchmarks/test_hotwarm_bench.py``.
"""

from __future__ import annotations

import itertools

from distconform.api import Context, Implementation
from distconform.bench import Round, Sequential, Workload, closer

OPS = 200
ROUNDS = 10
VALUE = "v" * 16

FLOOR = "a bare dict: write is item assignment, read is dict.get (no replication)"

_fresh = itertools.count()


class FloorPair:
    """The floor client: one dict, its own methods."""

    def __init__(self) -> None:
        data: dict[str, str] = {}
        self.write = data.__setitem__
        self.read = data.get


def floor(ctx: Context) -> Implementation:
    return Implementation(client=FloorPair, description=FLOOR)


def _new_keys() -> list[tuple[str, str]]:
    return [(f"k{next(_fresh)}", VALUE) for _ in range(OPS)]


def _writes(impl: Implementation) -> Round:
    client = impl.client()
    return Sequential(
        client.write, _new_keys, failed=lambda ack: ack is False, close=closer(client)
    )


def _reads(impl: Implementation) -> Round:
    client = impl.client()
    keys = [(f"r{i}",) for i in range(OPS)]
    for (k,) in keys:
        client.write(k, VALUE)
    return Sequential(client.read, lambda: keys, close=closer(client))


WORKLOADS = [
    Workload("write", "write(key, value) of a new key, acknowledged", OPS, ROUNDS, _writes),
    Workload("read", "read(key) of a key written before the round", OPS, ROUNDS, _reads),
]

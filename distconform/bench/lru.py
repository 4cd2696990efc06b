"""LRU cache workloads: get-hit, get-miss and put-evict on a full cache.

Every workload configures a cache of ``CAPACITY`` entries and fills it (not
timed), then times ``OPS`` calls per round on one client. The floor is a bare
``dict``: ``get`` is the dict's own ``get`` and ``put`` its item assignment,
both bound builtins, so a call costs one hash lookup and nothing else: no
recency to update, no eviction, no lock, no round trip. Any LRU cache does at
least that lookup.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from distconform.api import Context, Implementation
from distconform.bench import Round, Sequential, Workload, closer

CAPACITY = 1000
OPS = 1000
ROUNDS = 20
VALUE = "v" * 16

FLOOR = "a bare dict: get is dict.get, put is item assignment (no recency, no eviction)"

_fresh = itertools.count()


class FloorCache:
    """The floor client: the LRU interface on a bare dict, its methods the dict's own."""

    def __init__(self) -> None:
        data: dict[str, str] = {}
        self.get = data.get
        self.put = data.__setitem__

    def configure(self, capacity: int) -> None:
        """A dict has no capacity to set."""


def floor(ctx: Context) -> Implementation:
    return Implementation(client=FloorCache, description=FLOOR)


def _full(impl: Implementation) -> Any:
    client = impl.client()
    client.configure(CAPACITY)
    for i in range(CAPACITY):
        client.put(f"k{i}", VALUE)
    return client


def _gets(keys: Callable[[], list[tuple[str]]]) -> Callable[[Implementation], Round]:
    def prepare(impl: Implementation) -> Round:
        client = _full(impl)
        return Sequential(client.get, keys, close=closer(client))

    return prepare


def _hits() -> list[tuple[str]]:
    # Oldest to newest, round and round: every get hits and the order stays.
    return [(f"k{i % CAPACITY}",) for i in range(OPS)]


def _misses() -> list[tuple[str]]:
    return [(f"absent{i}",) for i in range(OPS)]


def _put_evict(impl: Implementation) -> Round:
    client = _full(impl)

    def new_keys() -> list[tuple[str, str]]:
        # Keys never seen: each put evicts the least recently used entry.
        return [(f"n{next(_fresh)}", VALUE) for _ in range(OPS)]

    return Sequential(client.put, new_keys, close=closer(client))


WORKLOADS = [
    Workload("get-hit", f"get of a present key, full cache of {CAPACITY}", OPS, ROUNDS,
             _gets(_hits)),
    Workload("get-miss", f"get of an absent key, full cache of {CAPACITY}", OPS, ROUNDS,
             _gets(_misses)),
    Workload("put-evict", f"put of a new key, evicting one, full cache of {CAPACITY}", OPS,
             ROUNDS, _put_evict),
]  # fmt: skip

"""In-memory LRU cache: process-local, exact, O(1) per operation, thread-safe.

One :class:`LRUCache` (an ``OrderedDict`` from least to most recently used,
under one lock) is the cache; every client of one implementation is a view
of it (capability ``shared``). It is the model the Redis reference and the
third parties are compared with: simple enough to be obviously right.

Keys are any hashable objects (``object-keys``): the OrderedDict compares
them with ``==``. Listings (``keys``, ``items``, ``values``) run from the
least to the most recently used (``lru-first``). An unhashable key raises
TypeError before anything changes (LRU-20).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from distconform.api import Context, Implementation

__all__ = [
    "LRUCache",
    "MemoryLRUClient",
    "SharedSlot",
    "capacity_mismatch",
    "check_capacity",
    "factory",
]


def check_capacity(capacity: object) -> int:
    """The capacity if it is an int of at least 1; else TypeError or ValueError (LRU-8)."""
    # bool is an int subclass, but configure(True) is a mistake, not a capacity of 1.
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise TypeError(
            f"capacity must be an int number of entries, got {type(capacity).__name__} {capacity!r}"
        )
    if capacity < 1:
        raise ValueError(f"capacity must be at least 1 entry, got {capacity}")
    return capacity


def capacity_mismatch(have: object, asked: int) -> ValueError:
    """The error for a client that joins a shared cache with another capacity."""
    return ValueError(
        f"this cache already has capacity {have}; every client of a shared cache must "
        f"configure the same capacity, not {asked}"
    )


class LRUCache:
    """Least recently used (LRU) cache: an OrderedDict, oldest first, under one lock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = check_capacity(capacity)
        self._data: OrderedDict[Any, str] = OrderedDict()
        self._lock = threading.Lock()
        #: What the eviction callback was called with, not yet collected.
        self._evicted: list[tuple[Any, str]] = []

    def get(self, key: Any) -> str | None:
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: Any, value: str) -> None:
        with self._lock:
            if key in self._data:
                # Assigning to an existing key keeps its old place: move it too.
                self._data.move_to_end(key)
            elif len(self._data) >= self.capacity:
                self._evicted.append(self._data.popitem(last=False))
            self._data[key] = value

    def delete(self, key: Any) -> bool:
        return self.pop(key) is not None

    def pop(self, key: Any) -> str | None:
        with self._lock:
            return self._data.pop(key, None)

    def popitem(self) -> tuple[Any, str]:
        with self._lock:
            if not self._data:
                raise KeyError("popitem(): the cache is empty")
            return self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def resize(self, capacity: int) -> None:
        check_capacity(capacity)
        with self._lock:
            self.capacity = capacity
            while len(self._data) > capacity:
                self._evicted.append(self._data.popitem(last=False))

    def evictions(self) -> list[tuple[Any, str]]:
        with self._lock:
            out, self._evicted = self._evicted, []
            return out

    def contains(self, key: Any) -> bool:
        with self._lock:
            return key in self._data

    def size(self) -> int:
        with self._lock:
            return len(self._data)

    def peek(self, key: Any) -> str | None:
        with self._lock:
            return self._data.get(key)

    def keys(self) -> list[Any]:
        with self._lock:
            return list(self._data)

    def items(self) -> list[tuple[Any, str]]:
        with self._lock:
            return list(self._data.items())

    def values(self) -> list[str]:
        with self._lock:
            return list(self._data.values())


class SharedSlot:
    """Where the one cache of an implementation lives; the first configure makes it."""

    def __init__(self) -> None:
        self._cache: LRUCache | None = None
        self._lock = threading.Lock()

    def attach(self, capacity: int) -> LRUCache:
        check_capacity(capacity)
        with self._lock:
            if self._cache is None:
                self._cache = LRUCache(capacity)
            elif self._cache.capacity != capacity:
                raise capacity_mismatch(self._cache.capacity, capacity)
            return self._cache


class MemoryLRUClient:
    """One view of the implementation's :class:`LRUCache`."""

    def __init__(self, slot: SharedSlot) -> None:
        self._slot = slot
        self._cache: LRUCache | None = None

    def configure(self, capacity: int) -> None:
        self._cache = self._slot.attach(capacity)

    @property
    def cache(self) -> LRUCache:
        if self._cache is None:
            raise RuntimeError("call configure(capacity) before using the cache")
        return self._cache

    def get(self, key: Hashable) -> str | None:
        return self.cache.get(key)

    def put(self, key: Hashable, value: str) -> None:
        self.cache.put(key, value)

    def delete(self, key: Hashable) -> bool:
        return self.cache.delete(key)

    def pop(self, key: Hashable) -> str | None:
        return self.cache.pop(key)

    def popitem(self) -> tuple[Any, str]:
        return self.cache.popitem()

    def clear(self) -> None:
        self.cache.clear()

    def resize(self, capacity: int) -> None:
        self.cache.resize(capacity)

    def evictions(self) -> list[tuple[Any, str]]:
        return self.cache.evictions()

    def contains(self, key: Hashable) -> bool:
        return self.cache.contains(key)

    def size(self) -> int:
        return self.cache.size()

    def peek(self, key: Hashable) -> str | None:
        return self.cache.peek(key)

    def keys(self) -> list[Any]:
        return self.cache.keys()

    def items(self) -> list[tuple[Any, str]]:
        return self.cache.items()

    def values(self) -> list[str]:
        return self.cache.values()


def factory(ctx: Context) -> Implementation:
    slot = SharedSlot()
    return Implementation(
        client=lambda: MemoryLRUClient(slot),
        capabilities=frozenset(
            {
                "shared",
                "thread-safe",
                "contains",
                "size",
                "peek",
                "keys",
                "popitem",
                "items",
                "lru-first",
                "object-keys",
                "pop",
                "clear",
                "resize",
                "evict-callback",
            }
        ),
        package="distconform",
        description="in-memory reference (process-local, exact, OrderedDict under a lock)",
    )

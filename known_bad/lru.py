"""Known-bad LRU caches: real mistakes, each small enough to read in a minute.

Each class is :class:`Cache`, a plain correct LRU over an ``OrderedDict``,
with the one mistake its docstring names, so that the clause it breaks is the
one that catches it. ``SeedCache`` is seed question 2 of
``000_e2600301e6e42737.txt`` (Go), ported line for line: it has no lock.

Every class is its own adapter: ``distconform.known_bad.lru:Name.factory``.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from typing import Any, ClassVar

from distconform.api import Context, Implementation
from distconform.known_bad import KnownBad
from distconform.reference.lru.memory import check_capacity

__all__ = ["KNOWN_BAD"]

_OBSERVERS = frozenset({"contains", "size", "peek", "keys"})


class Cache:
    """A correct LRU cache, oldest entry first, with no lock: the base of the mistakes."""

    CAPABILITIES: ClassVar[frozenset[str]] = _OBSERVERS

    def configure(self, capacity: int) -> None:
        self.capacity = check_capacity(capacity)
        self.data: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        if key not in self.data:
            return None
        self.data.move_to_end(key)
        return self.data[key]

    def put(self, key: str, value: str) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        elif len(self.data) >= self.capacity:
            self.data.popitem(last=False)
        self.data[key] = value

    def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None

    def contains(self, key: str) -> bool:
        return key in self.data

    def size(self) -> int:
        return len(self.data)

    def peek(self, key: str) -> str | None:
        return self.data.get(key)

    def keys(self) -> list[str]:
        return list(self.data)

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=cls, capabilities=cls.CAPABILITIES, description=f"known-bad: {cls.__name__}"
        )


class HoldsOneMore(Cache):
    """Checks for room before inserting, with ``>`` for ``>=``: holds capacity + 1."""

    def put(self, key: str, value: str) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        elif len(self.data) > self.capacity:
            self.data.popitem(last=False)
        self.data[key] = value


class EvictsNewest(Cache):
    """Evicts with ``popitem()``, whose default ``last=True`` is the most recently used."""

    def put(self, key: str, value: str) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        elif len(self.data) >= self.capacity:
            self.data.popitem()
        self.data[key] = value


class GetDoesNotRefresh(Cache):
    """get reads the value and forgets to move the key: an insertion-ordered (FIFO) cache."""

    def get(self, key: str) -> str | None:
        return self.data.get(key)


class MissTakesASlot(Cache):
    """Negative caching inside the LRU: a miss stores a tombstone that takes a slot."""

    _TOMBSTONE = "\0missing"

    def get(self, key: str) -> str | None:
        if key not in self.data:
            self.put(key, self._TOMBSTONE)
            return None
        value = super().get(key)
        return None if value == self._TOMBSTONE else value


class PutDoesNotRefresh(Cache):
    """Assigns to a present key in place: an OrderedDict keeps its old position."""

    def put(self, key: str, value: str) -> None:
        if key not in self.data and len(self.data) >= self.capacity:
            self.data.popitem(last=False)
        self.data[key] = value


class DeleteKeepsSlot(Cache):
    """Counts used slots by hand, and delete forgets to give one back."""

    def configure(self, capacity: int) -> None:
        super().configure(capacity)
        self.used = 0

    def put(self, key: str, value: str) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        else:
            if self.used >= self.capacity:
                self.data.popitem(last=False)
                self.used -= 1
            self.used += 1
        self.data[key] = value


class DeleteKeepsOrder(Cache):
    """A dict for values and a list for recency; delete forgets the list."""

    def configure(self, capacity: int) -> None:
        super().configure(capacity)
        self.order: list[str] = []

    def get(self, key: str) -> str | None:
        if key not in self.data:
            return None
        self.order.remove(key)
        self.order.append(key)
        return self.data[key]

    def put(self, key: str, value: str) -> None:
        if key in self.data:
            self.order.remove(key)
        elif len(self.data) >= self.capacity:
            del self.data[self.order.pop(0)]
        self.data[key] = value
        self.order.append(key)

    def delete(self, key: str) -> bool:
        # The key stays in self.order: a ghost that is "evicted" later.
        return self.data.pop(key, None) is not None


class SizeMissesDeletes(Cache):
    """Keeps an entry counter for size(); delete forgets to decrement it."""

    def configure(self, capacity: int) -> None:
        super().configure(capacity)
        self.count = 0

    def put(self, key: str, value: str) -> None:
        if key not in self.data and len(self.data) < self.capacity:
            self.count += 1
        super().put(key, value)

    def size(self) -> int:
        return self.count


class ContainsRefreshes(Cache):
    """contains through get: a membership test that uses the key."""

    def contains(self, key: str) -> bool:
        return self.get(key) is not None


class PeekRefreshes(Cache):
    """peek through get: a look that uses the key."""

    def peek(self, key: str) -> str | None:
        return self.get(key)


class KeysRefreshes(Cache):
    """keys from items(), newest first (as lru-dict and pylru list them), values read by get."""

    def items(self) -> list[tuple[str, str | None]]:
        return [(k, self.get(k)) for k in reversed(list(self.data))]

    def keys(self) -> list[str]:
        return [k for k, _ in self.items()]


class AcceptsZero(Cache):
    """Takes capacity 0 or less to mean "unbounded", as many caches do; the contract refuses it."""

    def configure(self, capacity: int) -> None:
        self.capacity = capacity
        self.data = OrderedDict()

    def put(self, key: str, value: str) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        elif self.capacity > 0 and len(self.data) >= self.capacity:
            self.data.popitem(last=False)
        self.data[key] = value


# ------------------------------------------------------------------ seed port


class _Node:
    __slots__ = ("key", "next", "prev", "value")

    def __init__(self, key: str = "", value: Any = None) -> None:
        self.key = key
        self.value = value
        # Any, as Go's pointers: a nil here is dereferenced only when the list is corrupt.
        self.prev: Any = None
        self.next: Any = None


class SeedLRUCache:
    """Seed question 2's ``LRUCache``: a map and a doubly linked list, no lock.

    Go to Python, line for line, under the seed's own names: ``NewLRUCache``
    (``__init__``), ``Get``, ``Set``, ``moveToHead``, ``addNodeToHead``,
    ``removeNode``. Go's ``delete`` on a
    map is ``pop(key, None)`` (it never panics); Go's nil dereference is
    Python's AttributeError on None. The seed imports ``sync`` and never uses it.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.keys: dict[str, _Node] = {}
        self.head = _Node()
        self.tail = _Node()
        self.head.next = self.tail
        self.tail.prev = self.head

    def Get(self, key: str) -> tuple[Any, bool]:
        node = self.keys.get(key)
        if node is not None:
            self.moveToHead(node)
            return node.value, True
        return None, False

    def Set(self, key: str, value: Any) -> None:
        node = self.keys.get(key)
        if node is not None:
            node.value = value
            self.moveToHead(node)
        else:
            new_node = _Node(key, value)
            self.keys[key] = new_node
            self.addNodeToHead(new_node)
            if len(self.keys) > self.capacity:
                lru_node = self.tail.prev
                self.removeNode(lru_node)
                self.keys.pop(lru_node.key, None)

    def moveToHead(self, node: _Node) -> None:
        self.removeNode(node)
        self.addNodeToHead(node)

    def addNodeToHead(self, node: _Node) -> None:
        node.next = self.head.next
        node.prev = self.head
        self.head.next.prev = node
        self.head.next = node

    def removeNode(self, node: _Node) -> None:
        node.prev.next = node.next
        node.next.prev = node.prev


class SeedCache:
    """The suite's interface over :class:`SeedLRUCache`, declared thread-safe.

    The seed has no delete; this one is written in the seed's own style
    (unlink the node, drop it from the map), equally without a lock.
    """

    CAPABILITIES: ClassVar[frozenset[str]] = frozenset({"thread-safe", "contains", "size"})

    def configure(self, capacity: int) -> None:
        self.lru = SeedLRUCache(capacity)

    def get(self, key: str) -> str | None:
        value, found = self.lru.Get(key)
        return value if found else None

    def put(self, key: str, value: str) -> None:
        self.lru.Set(key, value)

    def delete(self, key: str) -> bool:
        node = self.lru.keys.get(key)
        if node is None:
            return False
        self.lru.removeNode(node)
        self.lru.keys.pop(key, None)
        return True

    def contains(self, key: str) -> bool:
        return key in self.lru.keys

    def size(self) -> int:
        return len(self.lru.keys)

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=cls, capabilities=cls.CAPABILITIES, description="seed question 2 (Go), no lock"
        )


# ------------------------------------------------- the optional capabilities


class FullCache(Cache):
    """:class:`Cache` with every optional call: the base of the mistakes in them.

    Listings are oldest first (``lru-first``); keys may be any hashable
    object; evictions are recorded for ``evictions()``.
    """

    CAPABILITIES: ClassVar[frozenset[str]] = _OBSERVERS | {
        "popitem", "items", "lru-first", "object-keys", "pop", "clear", "resize",
        "evict-callback",
    }  # fmt: skip

    def configure(self, capacity: int) -> None:
        super().configure(capacity)
        self.evicted: list[tuple[Any, str]] = []

    def put(self, key: Any, value: str) -> None:
        if key in self.data:
            self.data.move_to_end(key)
        elif len(self.data) >= self.capacity:
            self.evicted.append(self.data.popitem(last=False))
        self.data[key] = value

    def pop(self, key: Any) -> str | None:
        return self.data.pop(key, None)

    def popitem(self) -> tuple[Any, str]:
        if not self.data:
            raise KeyError("popitem(): the cache is empty")
        return self.data.popitem(last=False)

    def clear(self) -> None:
        self.data.clear()

    def resize(self, capacity: int) -> None:
        self.capacity = check_capacity(capacity)
        while len(self.data) > capacity:
            self.evicted.append(self.data.popitem(last=False))

    def evictions(self) -> list[tuple[Any, str]]:
        out, self.evicted = self.evicted, []
        return out

    def items(self) -> list[tuple[Any, str]]:
        return list(self.data.items())

    def values(self) -> list[str]:
        return list(self.data.values())


class PopitemNewest(FullCache):
    """popitem with ``OrderedDict.popitem()``'s default: the most recently used goes."""

    def popitem(self) -> tuple[Any, str]:
        if not self.data:
            raise KeyError("popitem(): the cache is empty")
        return self.data.popitem()


class ListsInInsertionOrder(FullCache):
    """Declares oldest-first listings but lists in insertion order (a dict beside the order)."""

    def configure(self, capacity: int) -> None:
        super().configure(capacity)
        self.inserted: dict[Any, None] = {}

    def put(self, key: Any, value: str) -> None:
        super().put(key, value)
        self.inserted[key] = None
        for gone in [k for k in self.inserted if k not in self.data]:
            del self.inserted[gone]

    def _listed(self) -> list[Any]:
        return [k for k in self.inserted if k in self.data]

    def keys(self) -> list[Any]:
        return self._listed()

    def items(self) -> list[tuple[Any, str]]:
        return [(k, self.data[k]) for k in self._listed()]

    def values(self) -> list[str]:
        return [self.data[k] for k in self._listed()]


class ItemsThroughGet(ListsInInsertionOrder):
    """items and values read each value with get, in insertion order, as cachetools' do.

    ``MutableMapping``'s views look each key up with ``self[key]``, which in
    an LRU cache is a use: a listing rewrites the recency order into the
    listing order. No listing order is declared, so LRU-17 does not apply.
    """

    CAPABILITIES: ClassVar[frozenset[str]] = FullCache.CAPABILITIES - {"lru-first"}

    def items(self) -> list[tuple[Any, str]]:
        return [(k, v) for k in self._listed() if (v := self.get(k)) is not None]

    def values(self) -> list[str]:
        return [v for _, v in self.items()]


class MruFirstListsOldestFirst(FullCache):
    """Declares newest-first listings (as lru-dict and pylru give) but lists oldest first."""

    CAPABILITIES: ClassVar[frozenset[str]] = (FullCache.CAPABILITIES - {"lru-first"}) | {
        "mru-first"
    }


class KeysByStr(FullCache):
    """Stores under ``str(key)``, as a cache keyed by a Redis hash field would: 1 is "1"."""

    def get(self, key: Any) -> str | None:
        return super().get(str(key))

    def put(self, key: Any, value: str) -> None:
        super().put(str(key), value)

    def delete(self, key: Any) -> bool:
        return super().delete(str(key))

    def contains(self, key: Any) -> bool:
        return super().contains(str(key))

    def peek(self, key: Any) -> str | None:
        return super().peek(str(key))

    def pop(self, key: Any) -> str | None:
        return super().pop(str(key))


class EvictsBeforeHashing(FullCache):
    """Makes room first, then stores; an unhashable key raises between the two.

    On a full cache the oldest entry goes before the key is looked at, and
    goes back only if the key turns out to be present: a TypeError from the
    lookup leaves the cache one entry short.
    """

    def put(self, key: Any, value: str) -> None:
        victim = self.data.popitem(last=False) if len(self.data) >= self.capacity else None
        present = victim is not None and (victim[0] == key or key in self.data)
        if victim is not None and present:
            self.data[victim[0]] = victim[1]
            self.data.move_to_end(victim[0], last=False)
            victim = None
        if victim is not None:
            self.evicted.append(victim)
        if key in self.data:
            self.data.move_to_end(key)
        self.data[key] = value


class ListCache(FullCache):
    """A dict for values and a list for recency, oldest first: correct as it stands."""

    def configure(self, capacity: int) -> None:
        super().configure(capacity)
        self.order: list[Any] = []

    def _use(self, key: Any) -> None:
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)

    def get(self, key: Any) -> str | None:
        if key not in self.data:
            return None
        self._use(key)
        return self.data[key]

    def put(self, key: Any, value: str) -> None:
        if key not in self.data and len(self.data) >= self.capacity:
            victim = self.order.pop(0)
            # pop with a default: a victim that is already gone is no error.
            self.evicted.append((victim, self.data.pop(victim, "")))
        self.data[key] = value
        self._use(key)

    def pop(self, key: Any) -> str | None:
        if key in self.order:
            self.order.remove(key)
        return self.data.pop(key, None)

    def delete(self, key: Any) -> bool:
        return self.pop(key) is not None

    def popitem(self) -> tuple[Any, str]:
        if not self.order:
            raise KeyError("popitem(): the cache is empty")
        key = self.order.pop(0)
        return key, self.data.pop(key)

    def clear(self) -> None:
        self.data.clear()
        self.order.clear()

    def keys(self) -> list[Any]:
        return list(self.order)

    def items(self) -> list[tuple[Any, str]]:
        return [(k, self.data[k]) for k in self.order]

    def values(self) -> list[str]:
        return [self.data[k] for k in self.order]

    def resize(self, capacity: int) -> None:
        self.capacity = check_capacity(capacity)
        while len(self.data) > capacity:
            victim = self.order.pop(0)
            self.evicted.append((victim, self.data.pop(victim)))


class PopKeepsOrder(ListCache):
    """pop drops the value but not the key's place in the recency list (delete is right)."""

    def pop(self, key: Any) -> str | None:
        return self.data.pop(key, None)

    def delete(self, key: Any) -> bool:
        return super().pop(key) is not None


class ClearKeepsOrder(ListCache):
    """clear empties the values and forgets the recency list: its ghosts are evicted later."""

    def clear(self) -> None:
        self.data.clear()


class ResizeEvictsNewest(FullCache):
    """A shrinking resize pops with ``OrderedDict.popitem()``'s default: newest first."""

    def resize(self, capacity: int) -> None:
        self.capacity = check_capacity(capacity)
        while len(self.data) > capacity:
            self.evicted.append(self.data.popitem())


class ResizeChecksLate(FullCache):
    """resize evicts down to the new capacity first and checks the number afterwards."""

    def resize(self, capacity: int) -> None:
        if isinstance(capacity, int | float):
            while self.data and len(self.data) > capacity:
                self.evicted.append(self.data.popitem(last=False))
        self.capacity = check_capacity(capacity)


class CallbackOnReplace(FullCache):
    """A put of a present key is a delete and an insert, and the delete calls the callback."""

    def put(self, key: Any, value: str) -> None:
        if key in self.data:
            self.evicted.append((key, self.data.pop(key)))
        super().put(key, value)


class RandomEviction(FullCache):
    """Declares ``approximate`` with a bound of 0.25 but evicts a uniformly random entry."""

    CAPABILITIES: ClassVar[frozenset[str]] = _OBSERVERS | {"approximate"}

    def configure(self, capacity: int) -> None:
        super().configure(capacity)
        self.rnd = random.Random(26)

    def put(self, key: Any, value: str) -> None:
        if key not in self.data and len(self.data) >= self.capacity:
            victim = self.rnd.choice(list(self.data))
            self.evicted.append((victim, self.data.pop(victim)))
        super().put(key, value)

    def eviction_bound(self) -> float:
        return 0.25

    def recency_resolution(self) -> float:
        return 0.0


class CheckThenAct(FullCache):
    """An OrderedDict LRU declared thread-safe with no lock: it checks, then acts.

    ``put`` tests for room and then inserts; ``get`` tests for the key and
    then moves it. Another thread between the test and the act overfills the
    cache or has evicted the key (KeyError from move_to_end).
    """

    CAPABILITIES: ClassVar[frozenset[str]] = FullCache.CAPABILITIES | {"thread-safe"}


# --------------------------------------------------------------- shared store


class PerClientRecency:
    """Values in one store all clients share; each client keeps its own recency list.

    The usual shape of a cache over a shared store (a Redis hash, say) whose
    LRU bookkeeping lives in each client process: one client's gets and puts
    are invisible to the others' eviction choices.
    """

    def __init__(self, store: dict[str, str], lock: threading.Lock) -> None:
        self.store = store
        self.lock = lock
        self.order: OrderedDict[str, None] = OrderedDict()

    def configure(self, capacity: int) -> None:
        self.capacity = capacity

    def _use(self, key: str) -> None:
        self.order[key] = None
        self.order.move_to_end(key)

    def get(self, key: str) -> str | None:
        with self.lock:
            value = self.store.get(key)
            if value is not None:
                self._use(key)
            return value

    def put(self, key: str, value: str) -> None:
        with self.lock:
            self.store[key] = value
            self._use(key)
            while len(self.store) > self.capacity and self.order:
                victim, _ = self.order.popitem(last=False)
                self.store.pop(victim, None)

    def delete(self, key: str) -> bool:
        with self.lock:
            self.order.pop(key, None)
            return self.store.pop(key, None) is not None

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        store: dict[str, str] = {}
        lock = threading.Lock()
        return Implementation(
            client=lambda: cls(store, lock),
            capabilities=frozenset({"shared"}),
            description="known-bad: per-client recency over a shared store",
        )


def _spec(cls: type) -> str:
    return f"{__name__}:{cls.__name__}.factory"


KNOWN_BAD = [
    KnownBad(
        "holds-one-more", "lru", _spec(HoldsOneMore), ("LRU-1",),
        "off by one: checks for room with > before inserting, so a full cache takes one more",
    ),
    KnownBad(
        "evicts-newest", "lru", _spec(EvictsNewest), ("LRU-2",),
        "OrderedDict.popitem() pops the newest entry unless told last=False",
    ),
    KnownBad(
        "get-does-not-refresh", "lru", _spec(GetDoesNotRefresh), ("LRU-3",),
        "a hit that does not move the key makes the cache FIFO, not LRU",
    ),
    KnownBad(
        "miss-takes-a-slot", "lru", _spec(MissTakesASlot), ("LRU-4",),
        "negative caching inside the LRU: a tombstone for a miss evicts a real entry",
    ),
    KnownBad(
        "put-does-not-refresh", "lru", _spec(PutDoesNotRefresh), ("LRU-5",),
        "assigning to an existing OrderedDict key keeps its old, least recent position",
    ),
    KnownBad(
        "delete-keeps-slot", "lru", _spec(DeleteKeepsSlot), ("LRU-6",),
        "a hand-kept count of used slots that delete does not decrement evicts too early",
    ),
    KnownBad(
        "delete-keeps-order", "lru", _spec(DeleteKeepsOrder), ("LRU-7",),
        "delete drops the value but leaves the key in the recency list: its ghost is evicted "
        "later in place of a live entry",
    ),
    KnownBad(
        "accepts-zero", "lru", _spec(AcceptsZero), ("LRU-8",),
        "capacity 0 read as unbounded, a common convention the contract refuses",
    ),
    KnownBad(
        "contains-refreshes", "lru", _spec(ContainsRefreshes), ("LRU-9",),
        "a membership test written as get(key) is not None uses the key",
    ),
    KnownBad(
        "size-misses-deletes", "lru", _spec(SizeMissesDeletes), ("LRU-10",),
        "a hand-kept entry counter that delete does not decrement",
    ),
    KnownBad(
        "peek-refreshes", "lru", _spec(PeekRefreshes), ("LRU-11",),
        "peek written as get uses the key it only meant to look at",
    ),
    KnownBad(
        "keys-refreshes", "lru", _spec(KeysRefreshes), ("LRU-12",),
        "keys built from items() that read values through get, newest first, reverses the "
        "recency order",
    ),
    KnownBad(
        "seed-no-lock", "lru", _spec(SeedCache), ("LRU-13",),
        "seed question 2's map + linked list shared by threads without a lock: concurrent "
        "unlinks corrupt the list, so entries leak past the capacity or calls crash",
    ),
    KnownBad(
        "per-client-recency", "lru", _spec(PerClientRecency), ("LRU-14",),
        "each client evicts by its own recency list, so one client's use does not protect "
        "a key from another client's eviction",
    ),
    KnownBad(
        "popitem-newest", "lru", _spec(PopitemNewest), ("LRU-15",),
        "OrderedDict.popitem() pops the newest entry unless told last=False",
    ),
    KnownBad(
        "items-through-get", "lru", _spec(ItemsThroughGet), ("LRU-16",),
        "items() reading values through get uses every key, in listing order (cachetools' "
        "MutableMapping views do this)",
    ),
    KnownBad(
        "lists-in-insertion-order", "lru", _spec(ListsInInsertionOrder), ("LRU-17",),
        "declares oldest-first listings but lists in insertion order, as a dict does",
    ),
    KnownBad(
        "mru-first-lists-oldest", "lru", _spec(MruFirstListsOldestFirst), ("LRU-18",),
        "declares newest-first listings but lists oldest first",
    ),
    KnownBad(
        "keys-by-str", "lru", _spec(KeysByStr), ("LRU-19",),
        "keys stored as str(key): 1 and '1' collide, 1 and 1.0 do not",
    ),
    KnownBad(
        "evicts-before-hashing", "lru", _spec(EvictsBeforeHashing), ("LRU-20",),
        "makes room before looking at the key: a TypeError for an unhashable key leaves an "
        "entry evicted",
    ),
    KnownBad(
        "pop-keeps-order", "lru", _spec(PopKeepsOrder), ("LRU-21",),
        "pop removes the value but leaves the key's ghost in the recency list",
    ),
    KnownBad(
        "clear-keeps-order", "lru", _spec(ClearKeepsOrder), ("LRU-22",),
        "clear empties the values but not the recency list: ghosts are evicted in place of "
        "live entries",
    ),
    KnownBad(
        "resize-evicts-newest", "lru", _spec(ResizeEvictsNewest), ("LRU-23",),
        "a shrinking resize pops the newest entries (OrderedDict.popitem() default)",
    ),
    KnownBad(
        "resize-checks-late", "lru", _spec(ResizeChecksLate), ("LRU-24",),
        "resize(0) evicts everything before the number is refused",
    ),
    KnownBad(
        "callback-on-replace", "lru", _spec(CallbackOnReplace), ("LRU-25",),
        "a put of a present key reported to the eviction callback as an eviction",
    ),
    KnownBad(
        "random-eviction", "lru", _spec(RandomEviction), ("LRU-26",),
        "a random victim claims an approximation bound of 0.25 it cannot keep",
    ),
    KnownBad(
        "check-then-act", "lru", _spec(CheckThenAct), ("LRU-27",),
        "an OrderedDict LRU without a lock declared thread-safe: room checks and key checks "
        "race the inserts and evictions of other threads",
    ),
]  # fmt: skip

"""Conformance tests for the LRU cache: spec/lru.md.

Every test names its clauses; each runs against every selected implementation.

Looking at a cache through ``get`` uses the keys it looks at, and reading
the present keys would rewrite a wrong recency order into the right one. So
between steps a test reads only keys that should be gone (a miss changes
nothing, LRU-4; a hit is already the failure), with :func:`expect_gone`, and
reads the present keys once, at its end, with :func:`expect_exactly`.
Observers are looked through on one key, the least recently used: looking at
every key from oldest to newest through ``get`` would leave the order as it
was, and hide the mistake.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import pytest

MECHANISM = "lru"
clause = pytest.mark.clause

#: Seconds of concurrent traffic in LRU-13: long enough for hundreds of
#: thousands of in-process operations (thousands against Redis).
STORM = 1.0
#: Threads in LRU-13: more than the machine's cores, so that they preempt
#: each other instead of taking turns.
THREADS = 8
#: Thread switch interval during LRU-13. The default (5 ms) lets a thread run
#: hundreds of operations between switches, so a missing lock would seldom
#: show; at 10 us threads are interrupted inside operations.
SWITCH_INTERVAL = 1e-5


def val(key: str, n: int = 0) -> str:
    return f"{key}={n}"


class Model:
    """The contract's cache: entries from least to most recently used."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        if key not in self.entries:
            return None
        self.entries.move_to_end(key)
        return self.entries[key]

    def put(self, key: str, value: str) -> str | None:
        """Store; return the evicted key, if any."""
        evicted = None
        if key in self.entries:
            self.entries.move_to_end(key)
        elif len(self.entries) == self.capacity:
            evicted, _ = self.entries.popitem(last=False)
        self.entries[key] = value
        return evicted

    def delete(self, key: str) -> bool:
        return self.entries.pop(key, None) is not None

    def order(self) -> str:
        return ", ".join(self.entries) or "(empty)"


def new_cache(impl: Any, capacity: int, label: str = "a") -> Any:
    c = impl.client(label)
    c.configure(capacity)
    return c


def fill(c: Any, model: Model, keys: Iterable[str]) -> None:
    for k in keys:
        c.put(k, val(k))
        model.put(k, val(k))


def expect_gone(c: Any, model: Model, gone: Iterable[str | None], repro: str) -> None:
    """Each of ``gone`` (None entries skipped) is absent: gets that, for a correct cache, miss."""
    for k in gone:
        if k is None:
            continue
        got = c.get(k)
        assert got is None, (
            f"{repro}: get({k!r}) returned {got!r}, but {k!r} should be gone; "
            f"expected entries, least recently used first: {model.order()}"
        )


def put_and_check_evictions(c: Any, model: Model, keys: Iterable[str], steps: str) -> str:
    """Put each new key; after each, the key the model evicted is gone. Returns the steps."""
    for k in keys:
        c.put(k, val(k))
        evicted = model.put(k, val(k))
        steps += f"; put {k}"
        expect_gone(c, model, [evicted], f"repro: {steps} (should evict {evicted})")
    return steps


def expect_exactly(c: Any, model: Model, gone: Iterable[str | None], repro: str) -> None:
    """The cache holds the model's entries and not ``gone``: a test's last look."""
    expect_gone(c, model, gone, repro)
    for k, v in list(model.entries.items()):
        got = c.get(k)
        assert got == v, (
            f"{repro}: get({k!r}) returned {got!r}, expected {v!r}; expected entries, "
            f"least recently used first: {model.order()}"
        )


# ------------------------------------------------------------------ LRU-1


@clause("LRU-1")
@pytest.mark.parametrize("capacity", [1, 3, 8])
def test_never_more_entries_than_capacity(impl: Any, capacity: int) -> None:
    """After 3 x capacity + 1 puts of distinct keys, at most capacity of them are present."""
    c = new_cache(impl, capacity)
    keys = [f"k{i}" for i in range(3 * capacity + 1)]
    for k in keys:
        c.put(k, val(k))
    present = [k for k in keys if c.get(k) is not None]
    assert len(present) <= capacity, (
        f"repro: configure({capacity}); put {len(keys)} distinct keys; {len(present)} of them "
        f"are present: {present}"
    )


@clause("LRU-1")
def test_updates_and_hits_do_not_grow_the_cache(impl: Any) -> None:
    """Re-putting and reading present keys, then adding new ones, never exceeds the capacity."""
    c = new_cache(impl, 3)
    for k in ("a", "b", "c"):
        c.put(k, val(k))
    for n in range(1, 4):
        for k in ("a", "b", "c"):
            c.put(k, val(k, n))
            c.get(k)
    for k in ("d", "e"):
        c.put(k, val(k))
    present = [k for k in "abcde" if c.get(k) is not None]
    assert len(present) <= 3, (
        "repro: configure(3); put a, b, c; put and get each of them three times; put d, e; "
        f"{len(present)} keys are present: {present}"
    )


# ------------------------------------------------------------------ LRU-2


@clause("LRU-2")
def test_full_cache_evicts_the_least_recently_used(impl: Any) -> None:
    """Each put of a new key into a full cache evicts exactly the least recently used entry."""
    c, m = new_cache(impl, 3), Model(3)
    fill(c, m, ["a", "b", "c"])
    steps = "configure(3); put a, b, c"
    for op, key in [("get", "a"), ("put", "d"), ("get", "c"), ("put", "e"), ("put", "f")]:
        if op == "get":
            assert c.get(key) == m.get(key), f"repro: {steps}; get({key!r}) lost its value"
            steps += f"; get {key}"
            continue
        steps = put_and_check_evictions(c, m, [key], steps)
    expect_exactly(c, m, [], f"repro: {steps}")


@clause("LRU-2")
def test_capacity_one_keeps_the_newest(impl: Any) -> None:
    """With capacity 1, each new key replaces the one entry."""
    c, m = new_cache(impl, 1), Model(1)
    fill(c, m, ["a"])
    for key in ("b", "c"):
        c.put(key, val(key))
        evicted = m.put(key, val(key))
        expect_exactly(c, m, [evicted], f"repro: configure(1); put a ... put {key}")


# ------------------------------------------------------------------ LRU-3


@clause("LRU-3")
def test_hit_returns_the_value_and_refreshes(impl: Any) -> None:
    """get(a) returns a's value and saves a from the next eviction."""
    c, m = new_cache(impl, 3), Model(3)
    fill(c, m, ["a", "b", "c"])
    got = c.get("a")
    assert got == val("a"), f"repro: configure(3); put a, b, c; get(a) returned {got!r}"
    m.get("a")
    c.put("d", val("d"))
    m.put("d", val("d"))
    expect_exactly(c, m, ["b"], "repro: configure(3); put a, b, c; get a; put d (should evict b)")


# ------------------------------------------------------------------ LRU-4


@clause("LRU-4")
def test_misses_change_nothing(impl: Any) -> None:
    """get and delete of absent keys leave the entries and their order as they were."""
    c, m = new_cache(impl, 3), Model(3)
    fill(c, m, ["a", "b", "c"])
    got = c.get("x")
    assert got is None, f"repro: configure(3); put a, b, c; get(x) returned {got!r}"
    deleted = c.delete("y")
    assert deleted is False, f"repro: configure(3); put a, b, c; delete(y) returned {deleted!r}"
    c.put("d", val("d"))
    m.put("d", val("d"))
    expect_exactly(
        c, m, ["a", "x", "y"], "repro: configure(3); put a, b, c; get x; delete y; put d"
    )


# ------------------------------------------------------------------ LRU-5


@clause("LRU-5")
def test_put_of_present_key_replaces_and_refreshes(impl: Any) -> None:
    """put(a) on a present a replaces its value, evicts nothing and makes a the newest."""
    c, m = new_cache(impl, 3), Model(3)
    fill(c, m, ["a", "b", "c"])
    c.put("a", val("a", 1))
    m.put("a", val("a", 1))
    c.put("d", val("d"))
    m.put("d", val("d"))
    expect_exactly(
        c, m, ["b"], "repro: configure(3); put a, b, c; put a (new value); put d (should evict b)"
    )


# ------------------------------------------------------------------ LRU-6


@clause("LRU-6")
def test_delete_frees_a_slot(impl: Any) -> None:
    """delete(b) returns True, and the next new key fits without an eviction."""
    c, m = new_cache(impl, 3), Model(3)
    fill(c, m, ["a", "b", "c"])
    deleted = c.delete("b")
    assert deleted is True, f"repro: configure(3); put a, b, c; delete(b) returned {deleted!r}"
    m.delete("b")
    c.put("d", val("d"))
    m.put("d", val("d"))
    expect_gone(c, m, ["b"], "repro: configure(3); put a, b, c; delete b; put d")
    c.put("e", val("e"))
    m.put("e", val("e"))
    expect_exactly(c, m, ["a", "b"], "repro: configure(3); put a, b, c; delete b; put d, e")


# ------------------------------------------------------------------ LRU-7


@clause("LRU-7")
def test_deleted_key_put_again_is_the_newest(impl: Any) -> None:
    """A key deleted and put again is evicted last, not from its old place."""
    c, m = new_cache(impl, 3), Model(3)
    fill(c, m, ["a", "b", "c"])
    c.delete("a")
    m.delete("a")
    c.put("a", val("a", 1))
    m.put("a", val("a", 1))
    steps = "configure(3); put a, b, c; delete a; put a"
    steps = put_and_check_evictions(c, m, ("d", "e"), steps)
    expect_exactly(c, m, [], f"repro: {steps}")


@clause("LRU-7")
def test_delete_keeps_the_order_of_the_others(impl: Any) -> None:
    """After a delete, the remaining entries are still evicted oldest first."""
    c, m = new_cache(impl, 4), Model(4)
    fill(c, m, ["a", "b", "c", "d"])
    c.delete("b")
    m.delete("b")
    steps = "configure(4); put a, b, c, d; delete b"
    steps = put_and_check_evictions(c, m, ("e", "f", "g", "h"), steps)
    expect_exactly(c, m, [], f"repro: {steps}")


# ------------------------------------------------------------------ LRU-8


@clause("LRU-8")
@pytest.mark.parametrize("capacity", [0, -1, 2.5, "3"], ids=["zero", "negative", "float", "str"])
def test_invalid_capacity_is_refused(impl: Any, capacity: object) -> None:
    """configure refuses 0, a negative number, a float and a string with ValueError or TypeError."""
    c = impl.client("a")
    try:
        c.configure(capacity)
    except (ValueError, TypeError):
        return
    except Exception as exc:
        pytest.fail(
            f"configure({capacity!r}) raised {type(exc).__name__}: {exc}; LRU-8 asks for "
            "ValueError or TypeError",
            pytrace=False,
        )
    pytest.fail(f"configure({capacity!r}) was accepted; LRU-8 asks for ValueError or TypeError")


# ------------------------------------------------------------------ observers


def _observer_leaves_order(impl: Any) -> tuple[Any, Model]:
    """put a, b, c; get a (so b is oldest, and insertion order is not recency order)."""
    c, m = new_cache(impl, 3), Model(3)
    fill(c, m, ["a", "b", "c"])
    assert c.get("a") == val("a"), "repro: configure(3); put a, b, c; get(a) lost a's value"
    m.get("a")
    return c, m


def _then_b_is_evicted(c: Any, m: Model, look: str) -> None:
    c.put("d", val("d"))
    m.put("d", val("d"))
    expect_gone(c, m, ["b"], f"repro: configure(3); put a, b, c; get a; {look}; put d (evicts b)")


@clause("LRU-9")
def test_contains_answers_and_changes_no_recency(impl: Any) -> None:
    """contains is True for present keys, False for absent ones, and uses no key."""
    c, m = _observer_leaves_order(impl)
    got = c.contains("b")
    assert got is True, f"repro: configure(3); put a, b, c; contains('b') returned {got!r}"
    got = c.contains("x")
    assert got is False, f"repro: configure(3); put a, b, c; contains('x') returned {got!r}"
    _then_b_is_evicted(c, m, "contains b; contains x")
    for k, want in [("b", False), ("c", True), ("a", True), ("d", True)]:
        got = c.contains(k)
        assert got is want, f"repro: ...; put d; contains({k!r}) returned {got!r}, not {want}"


@clause("LRU-10")
def test_size_counts_entries(impl: Any) -> None:
    """size follows puts, evictions, deletes and misses."""
    c, m = new_cache(impl, 3), Model(3)
    steps = "configure(3)"
    for op, key in [("put", "a"), ("put", "b"), ("put", "a"), ("put", "c"), ("put", "d"),
                    ("get", "x"), ("delete", "c"), ("delete", "x"), ("put", "e")]:  # fmt: skip
        for target in (c, m):
            if op == "put":
                target.put(key, val(key))
            else:
                getattr(target, op)(key)
        steps += f"; {op} {key}"
        got = c.size()
        assert got == len(m.entries), f"repro: {steps}; size() is {got}, expected {len(m.entries)}"


@clause("LRU-10")
def test_size_changes_no_recency(impl: Any) -> None:
    """size uses no key."""
    c, m = _observer_leaves_order(impl)
    c.size()
    _then_b_is_evicted(c, m, "size")


@clause("LRU-11")
def test_peek_returns_the_value_and_changes_no_recency(impl: Any) -> None:
    """peek returns the value (None when absent) and uses no key."""
    c, m = _observer_leaves_order(impl)
    got = c.peek("b")
    assert got == val("b"), f"repro: configure(3); put a, b, c; peek('b') returned {got!r}"
    got = c.peek("x")
    assert got is None, f"repro: configure(3); put a, b, c; peek('x') returned {got!r}"
    _then_b_is_evicted(c, m, "peek b; peek x")
    for k in ("b", "c", "a", "d"):
        got, want = c.peek(k), m.entries.get(k)
        assert got == want, f"repro: ...; put d; peek({k!r}) returned {got!r}, not {want!r}"


@clause("LRU-12")
def test_keys_lists_each_key_once_and_changes_no_recency(impl: Any) -> None:
    """keys lists exactly the present keys, each once, and uses no key."""
    c, m = _observer_leaves_order(impl)
    got = list(c.keys())
    assert sorted(got) == ["a", "b", "c"], (
        f"repro: configure(3); put a, b, c; get a; keys() returned {got!r}"
    )
    _then_b_is_evicted(c, m, "keys")
    got = list(c.keys())
    assert sorted(got) == ["a", "c", "d"], (
        f"repro: configure(3); put a, b, c; get a; keys; put d; keys() returned {got!r}"
    )


# ------------------------------------------------------------------ LRU-13


@clause("LRU-13")
def test_concurrent_use_keeps_the_cache_intact(impl: Any) -> None:
    """Eight threads share one client for a second; nothing raises and the cache still works."""
    capacity = 4
    c = new_cache(impl, capacity)
    # The guarded proxy runs every call on one worker thread; go around it so
    # that the calls really are concurrent. Threads are joined with a timeout.
    raw = c.unwrapped
    keys = [f"k{i}" for i in range(12)]
    errors: list[str] = []
    wrong: list[str] = []
    stop_at = time.monotonic() + STORM

    def traffic(seed: int) -> None:
        rnd = random.Random(seed)
        n = 0
        while time.monotonic() < stop_at:
            k, r = rnd.choice(keys), rnd.random()
            try:
                if r < 0.5:
                    v = raw.get(k)
                    if v is not None and not v.startswith(f"{k}="):
                        wrong.append(f"get({k!r}) returned {v!r}")
                elif r < 0.85:
                    raw.put(k, f"{k}={seed}.{n}")
                else:
                    raw.delete(k)
            except Exception as exc:
                errors.append(f"thread {seed}: {type(exc).__name__}: {exc}")
                return
            n += 1

    threads = [threading.Thread(target=traffic, args=(i,), daemon=True) for i in range(THREADS)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(STORM + impl.call_timeout)
    finally:
        sys.setswitchinterval(old)
    hung = sum(t.is_alive() for t in threads)
    assert not hung, f"{hung} of {THREADS} threads still inside a call {impl.call_timeout}s late"
    assert not errors, f"calls raised under concurrency: {errors[:3]}"
    assert not wrong, f"hits returned values never put under their key: {wrong[:3]}"
    after = f"after {STORM}s of concurrent get/put/delete on 12 keys (capacity {capacity})"
    if impl.has("size"):
        size = c.size()
        assert size <= capacity, f"{after}, size() is {size}"
    # Then, one thread again: capacity new keys push every old key out, and
    # the cache goes on evicting in LRU order.
    m, fresh = Model(capacity), [f"f{i}" for i in range(capacity)]
    fill(c, m, fresh)
    left = [k for k in keys if c.get(k) is not None]
    assert not left, f"{after}, {capacity} new puts left old keys {left} present"
    assert c.get("f0") == m.get("f0"), f"{after}, {capacity} new puts: get('f0') lost f0"
    c.put("g", val("g"))
    evicted = m.put("g", val("g"))
    expect_exactly(c, m, [evicted], f"{after}: put f0..f{capacity - 1}; get f0; put g")


# ------------------------------------------------------------------ LRU-14


@clause("LRU-14")
def test_clients_share_one_cache_and_one_order(impl: Any) -> None:
    """What one client puts, gets or deletes, the other sees, in one recency order."""
    a, b, m = new_cache(impl, 3, "a"), new_cache(impl, 3, "b"), Model(3)
    fill(a, m, ["a", "b", "c"])
    got = b.get("a")
    assert got == val("a"), f"repro: A puts a, b, c; B's get(a) returned {got!r}"
    m.get("a")
    b.put("d", val("d"))
    m.put("d", val("d"))
    expect_gone(a, m, ["b"], "repro: configure(3); A puts a, b, c; B gets a; B puts d (evicts b)")
    assert b.delete("c") is True, "repro: A puts a, b, c, ...; B's delete(c) did not return True"
    m.delete("c")
    a.put("e", val("e"))
    m.put("e", val("e"))
    expect_exactly(b, m, ["c"], "repro: ...; B deletes c; A puts e (nothing to evict)")

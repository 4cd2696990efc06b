"""What a lock client does on its own, in a child process or a thread (see workers.py).

Times are ``time.monotonic()``: on Linux one clock for every process on the
machine, so intervals recorded by different processes can be compared.
"""

from __future__ import annotations

import random
import time
from multiprocessing.connection import Connection
from typing import Any


def contend(client: Any, chan: Connection, name: str, ttl: float, seed: int) -> None:
    """Acquire, hold briefly, release, until told to stop; send the hold intervals.

    Each record is (call_start, held_from, held_until): the grant certainly
    covered [held_from, held_until], because held_from is read after acquire
    returned and held_until before release is called.
    """
    rnd = random.Random(seed)
    chan.send(("ready",))
    _, stop_at = chan.recv()
    records: list[tuple[float, float, float]] = []
    while time.monotonic() < stop_at:
        call_start = time.monotonic()
        handle = client.acquire(name, ttl, 0.2)
        if handle is None:
            continue
        held_from = time.monotonic()
        time.sleep(rnd.uniform(0.001, 0.008))
        held_until = time.monotonic()
        client.release(handle)
        records.append((call_start, held_from, held_until))
    chan.send(("done", records))


def hold_on_go(client: Any, chan: Connection, name: str, ttl: float, fencing: bool) -> None:
    """Like :func:`hold`, but say ("ready",) and wait for ("go",) before acquiring.

    So that several holders, whose processes take a while to start, acquire
    at nearly the same moment when the test says go. Before saying ready, it
    acquires and releases ``name + "-warm"`` once.
    """
    # Connect first (a fresh process's first call also opens its connection
    # and loads scripts), so that the timed acquire is one round trip.
    warm = client.acquire(name + "-warm", ttl, 0)
    if warm is not None:
        client.release(warm)
    chan.send(("ready",))
    chan.recv()
    hold(client, chan, name, ttl, fencing)


def hold(client: Any, chan: Connection, name: str, ttl: float, fencing: bool) -> None:
    """Acquire once and report; then answer commands until told to exit (never release)."""
    call_start = time.monotonic()
    try:
        # The lock is free (a fresh namespace): ask once. A timeout longer than
        # the TTL would also be refused by some libraries, which is not what
        # the tests using this role are about.
        handle = client.acquire(name, ttl, 0)
    except Exception as exc:
        # Only the text crosses to the test: say which call it was.
        raise RuntimeError(
            f"the holder's acquire({name!r}, ttl={ttl}, timeout=0) of a free lock raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    token = client.token(handle) if (fencing and handle is not None) else None
    chan.send(("held", handle is not None, call_start, token))
    while True:
        cmd = chan.recv()
        if cmd[0] == "token":
            chan.send(("token", token))
        elif cmd[0] == "exit":
            return


def hold_renewing(client: Any, chan: Connection, name: str, ttl: float) -> None:
    """Acquire a renewing grant once and report; then answer commands (never release unasked).

    Commands: ("owned",) -> ("owned", bool); ("release",) -> ("released", bool);
    ("exit",) ends the role.
    """
    call_start = time.monotonic()
    try:
        handle = client.acquire_renewing(name, ttl, 0)
    except Exception as exc:
        raise RuntimeError(
            f"the holder's acquire_renewing({name!r}, ttl={ttl}, timeout=0) of a free lock "
            f"raised {type(exc).__name__}: {exc}"
        ) from exc
    chan.send(("held", handle is not None, call_start, None))
    while True:
        cmd = chan.recv()
        if cmd[0] == "owned":
            chan.send(("owned", bool(client.owned(handle))))
        elif cmd[0] == "release":
            chan.send(("released", client.release(handle)))
        elif cmd[0] == "exit":
            return

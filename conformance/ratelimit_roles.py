"""What a rate-limiter client does on its own, in a child process (see workers.py).

Times are ``time.monotonic()``: on Linux one clock for every process on the
machine, so calls recorded by different processes can be compared (libfaketime
is told to leave it alone, FAKETIME_DONT_FAKE_MONOTONIC, when RL-9 skews a
process's wall clock).
"""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import Connection
from typing import Any


def _pause(seconds: float) -> None:
    """Sleep. Not ``time.sleep``: under libfaketime 0.9.10 with
    FAKETIME_DONT_FAKE_MONOTONIC it fails with EINVAL (its absolute
    CLOCK_MONOTONIC ``clock_nanosleep`` is mistranslated); a timed wait is not."""
    threading.Event().wait(seconds)


def hammer(
    client: Any,
    chan: Connection,
    algorithm: str,
    params: dict[str, Any],
    key: str,
    warm_up: str | None = None,
) -> None:
    """Configure, then hit ``key`` as fast as possible until told when to stop; send the calls.

    Each record is (call_start, call_end, admitted). The first message carries
    this process's ``time.time()`` and ``time.monotonic()``, read together, so
    that the test can check a skewed wall clock (libfaketime) and a true
    monotonic one. Before it, one hit on ``warm_up`` (default: a key of its
    own) opens the client's connections and loads its scripts, so that the
    recorded calls are single decisions (through a slow link, set-up round
    trips would widen the first call's interval past what the bound check can
    judge). A library that sets up per key (pyrate-limiter's bucket per key)
    needs the warm-up on ``key`` itself, and the test then waits for the
    quota to come back before the start.
    """
    client.configure(algorithm, **params)
    client.hit(warm_up or f"{key}-warm-up")
    chan.send(("ready", time.time(), time.monotonic()))
    _, start_at, stop_at = chan.recv()
    while time.monotonic() < start_at:
        _pause(0.001)
    records: list[tuple[float, float, bool]] = []
    while time.monotonic() < stop_at:
        start = time.monotonic()
        admitted = bool(client.hit(key))
        records.append((start, time.monotonic(), admitted))
    chan.send(("done", records))

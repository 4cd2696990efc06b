"""What a rate-limiter client does on its own, in a child process (see workers.py).

Times are ``time.monotonic()``: on Linux one clock for every process on the
machine, so calls recorded by different processes can be compared.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection
from typing import Any


def hammer(client: Any, chan: Connection, algorithm: str, params: dict[str, Any], key: str) -> None:
    """Configure, then hit ``key`` as fast as possible until told when to stop; send the calls.

    Each record is (call_start, call_end, admitted).
    """
    client.configure(algorithm, **params)
    chan.send(("ready",))
    _, start_at, stop_at = chan.recv()
    while time.monotonic() < start_at:
        time.sleep(0.001)
    records: list[tuple[float, float, bool]] = []
    while time.monotonic() < stop_at:
        start = time.monotonic()
        admitted = bool(client.hit(key))
        records.append((start, time.monotonic(), admitted))
    chan.send(("done", records))

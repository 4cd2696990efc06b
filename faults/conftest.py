"""Private servers for fault tests: one per test, stopped afterwards whatever happened.

A fault test kills, pauses and restarts its server, so it never touches the
shared servers of a run. Starting is cheap (Redis ~0.1 s, MariaDB ~1.5 s with
its data directory), so no server outlives the test that broke it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from distconform.backends import PrivateMariaDB, PrivateRedis


def _redis(persist: bool) -> Iterator[PrivateRedis]:
    if not PrivateRedis.available():
        pytest.skip("fault tests need redis-server on PATH")
    server = PrivateRedis(persist=persist)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def durable_redis() -> Iterator[PrivateRedis]:
    """A private Redis that fsyncs every write to its AOF before answering."""
    yield from _redis(persist=True)


@pytest.fixture
def volatile_redis() -> Iterator[PrivateRedis]:
    """A private Redis that persists nothing: a restart starts empty."""
    yield from _redis(persist=False)


@pytest.fixture
def private_mariadb() -> Iterator[PrivateMariaDB]:
    """A private MariaDB over a fresh data directory."""
    if not PrivateMariaDB.available():
        pytest.skip("fault tests need mariadbd and mariadb-install-db on PATH")
    server = PrivateMariaDB()
    try:
        server.start()
        yield server
    finally:
        server.stop()

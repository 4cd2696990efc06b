"""Session store workloads: reads and writes per second, and a bare Redis baseline.

Each workload configures timeouts far beyond a run (no session dies while it
is measured), creates ``SESSIONS`` sessions holding one key each (not timed),
then times ``OPS`` calls per round over those sessions in turn, on one client:

- ``read``: ``load(sid)`` (which also restarts the session's idle period); a
  load that finds no session fails.
- ``write``: ``save(sid, {"cart": "1"})``; a save that answers False (the
  session is gone) fails.

The third-party adapters go through their frameworks' test clients (an HTTP
request each, middleware included): that is what an application pays per
request, so their figures are the library's and its framework's together.

The floor, as for every mechanism, is the bare in-process operation the
workload cannot avoid: ``load`` is the dict's own ``get`` and ``save`` its item
assignment, both bound builtins, so nothing, in memory or behind a server, does
a read or a write in less.

Against a bare Redis GET/SET: a server-side store pays at least one round trip
per call, so the Redis reference's ``x_floor`` mostly measures the network.
:func:`redis_get_set` is the baseline for that comparison: a client whose
``load`` is one ``GET`` and whose ``save`` is one ``SET ... EX`` of a small
value, on one connection, keys under the run's namespace. It is not a session
store (no idle or absolute timeout, no merge of changes, no login or
revocation: those raise) and is not registered; name it to time it beside the
others::

    distconform bench session redis distconform.bench.session:redis_get_set

Its row's ``x_floor`` is the least a Redis-backed store can reach here; the
Redis reference's ``x_floor`` over it is the reference against a bare GET/SET.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from typing import Any

from distconform import backends
from distconform.api import Context, Implementation
from distconform.bench import Round, Sequential, Workload, closer

SESSIONS = 20
OPS = 100
ROUNDS = 20
#: Seconds: far beyond a run, so no session dies while it is measured.
IDLE, ABSOLUTE = 3600.0, 86400.0

FLOOR = "a bare dict: load is dict.get, save is item assignment (no timeouts, no merge)"


class FloorSessions:
    """The floor client: sessions in a bare dict, ``load``/``save`` the dict's own methods."""

    def __init__(self) -> None:
        data: dict[str, dict[str, str]] = {}
        self._data = data
        self.load = data.get
        self.save = data.__setitem__

    def configure(self, idle: float, absolute: float) -> None:
        """A dict has no timeouts to set."""

    def create(self, user: str | None = None) -> str:
        sid = secrets.token_urlsafe(16)
        self._data[sid] = {}
        return sid


def floor(ctx: Context) -> Implementation:
    return Implementation(client=FloorSessions, description=FLOOR)


class RedisGetSet:
    """The bare Redis baseline: ``load`` is one GET, ``save`` one SET ... EX; nothing else."""

    def __init__(self, url: str, namespace: str) -> None:
        self._redis = backends.redis_client(url)
        self._prefix = f"{namespace}session:"

    def configure(self, idle: float, absolute: float) -> None:
        self._idle = int(idle)

    def create(self, user: str | None = None) -> str:
        sid = secrets.token_urlsafe(16)
        self.save(sid, {})
        return sid

    def load(self, sid: str) -> bytes | None:
        return self._redis.get(self._prefix + sid)  # type: ignore[no-any-return]

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        return bool(self._redis.set(self._prefix + sid, '{"cart": "1"}', ex=self._idle))

    def _not_a_store(self, *args: Any) -> Any:
        raise NotImplementedError("redis_get_set is a timing baseline for load and save only")

    login = revoke = revoke_user = _not_a_store

    def close(self) -> None:
        self._redis.close()


def redis_get_set(ctx: Context) -> Implementation:
    url = ctx.redis_url or ""
    return Implementation(
        client=lambda: RedisGetSet(url, ctx.namespace),
        needs=frozenset({"redis"}),
        package="redis",
        description="baseline, not a session store: load is one GET, save one SET ... EX",
    )


def _sessions(impl: Implementation) -> tuple[Any, list[str]]:
    client = impl.client()
    client.configure(IDLE, ABSOLUTE)
    ids = [client.create(f"user{i}") for i in range(SESSIONS)]
    for sid in ids:
        client.save(sid, {"cart": "0"})
    return client, ids


def _calls(
    call: Callable[[Any], Callable[..., Any]],
    args: Callable[[str], tuple[Any, ...]],
    failed: Callable[[Any], bool],
) -> Callable[[Implementation], Round]:
    def prepare(impl: Implementation) -> Round:
        client, ids = _sessions(impl)
        todo = [args(sid) for sid in itertools.islice(itertools.cycle(ids), OPS)]
        return Sequential(call(client), lambda: todo, failed=failed, close=closer(client))

    return prepare


WORKLOADS = [
    Workload("read", f"load of a live session, {SESSIONS} sessions in turn", OPS, ROUNDS,
             _calls(lambda c: c.load, lambda sid: (sid,), lambda got: got is None)),
    Workload("write", f'save(sid, {{"cart": "1"}}), {SESSIONS} sessions in turn', OPS, ROUNDS,
             _calls(lambda c: c.save, lambda sid: (sid, {"cart": "1"}),
                    lambda ok: ok is False)),
]  # fmt: skip

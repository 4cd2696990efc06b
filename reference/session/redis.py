"""Redis session store: one hash per session, every request one Lua script.

Keys, under ``ctx.namespace``:

=============================  ====  ============================================
``{ns}session:<id>``           hash  ``c`` created, ``a`` last use, ``u`` user
                                     (absent: anonymous), ``d:<key>`` the data
``{ns}session-user:<user>``    set   the ids logged in as ``<user>``
=============================  ====  ============================================

Each request is one script, so no other client's command comes between its
liveness check and its change: overlapping saves merge their keys and lose
nothing (SESSION-10), and a login moves the data and kills the old id in one
step (SESSION-5). Liveness is decided in the script from the times stored in
the hash and the caller's ``ctx.clock`` reading (capability
``injectable-clock``, so the suite checks the boundaries exactly); the key's
TTL only collects dead sessions, ``SLACK_MS`` after they died, so a TTL never
decides before the clock does. The clients' clocks must agree: ``RealClock``
is the machine's monotonic clock, one per host, so this reference is for one
host (a deployment across hosts would read the server's ``TIME``, as the
rate limiter's Redis reference does). A stale id in a user's set (the
session timed out) is harmless: revoking it deletes nothing.

Errors are not caught: a store that cannot be reached raises redis-py's
``ConnectionError`` or ``TimeoutError`` from every call (SESSION-12).
Non-goals: clusters (``revoke_user`` builds key names in its script), durability.
"""

from __future__ import annotations

from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.errors import BackendUnavailable
from distconform.reference.session.memory import check_timeouts, new_id

__all__ = ["RedisSessionClient", "factory"]

#: Milliseconds a dead session's key outlives its death before Redis drops it.
#: The scripts decide liveness; the TTL only frees memory. 60 s: longer than
#: any real-time gap between a fake-clock test's calls, so that a test on a
#: fake clock that stands still never sees Redis expire a live session.
SLACK_MS = 60_000

# Shared by the scripts: is the hash KEYS[1] live at ARGV[1] (now), under
# ARGV[2] idle and ARGV[3] absolute? A dead one is deleted with its user index.
LIVE = """
local function live(key, now, idle, absolute, index_prefix)
    local f = redis.call('HMGET', key, 'c', 'a', 'u')
    if not f[1] then return false end
    if now >= tonumber(f[2]) + idle or now >= tonumber(f[1]) + absolute then
        redis.call('DEL', key)
        if f[3] then redis.call('SREM', index_prefix .. f[3], key) end
        return false
    end
    return f
end
local function keep(key, created, now, idle, absolute)
    local left = math.min(tonumber(created) + absolute, now + idle) - now
    redis.call('PEXPIRE', key, math.ceil(left * 1000) + SLACK_MS)
end
"""

ARGS = """
local now, idle, absolute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local index = ARGV[4]
"""


def _request(body: str) -> str:
    """A request's script: the shared functions, its arguments, ``body``; SLACK_MS filled in."""
    return (LIVE + ARGS + body).replace("SLACK_MS", str(SLACK_MS))


# KEYS[1] the new session    ARGV[5] user ('' anonymous)
CREATE = _request("""
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'a', ARGV[1])
if ARGV[5] ~= '' then
    redis.call('HSET', KEYS[1], 'u', ARGV[5])
    redis.call('SADD', index .. ARGV[5], KEYS[1])
    redis.call('PEXPIRE', index .. ARGV[5], math.ceil(absolute * 1000) + SLACK_MS)
end
keep(KEYS[1], now, now, idle, absolute)
return 1
""")

# KEYS[1] the session    returns the flat hash, or false when not live
LOAD = _request("""
local f = live(KEYS[1], now, idle, absolute, index)
if not f then return false end
redis.call('HSET', KEYS[1], 'a', ARGV[1])
keep(KEYS[1], f[1], now, idle, absolute)
return redis.call('HGETALL', KEYS[1])
""")

# KEYS[1] the session    ARGV[5..] field, value pairs (fields already 'd:'-prefixed)
SAVE = _request("""
local f = live(KEYS[1], now, idle, absolute, index)
if not f then return 0 end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'a', ARGV[1])
keep(KEYS[1], f[1], now, idle, absolute)
return 1
""")

# KEYS[1] the old session    KEYS[2] the new one    ARGV[5] user
LOGIN = _request("""
local f = live(KEYS[1], now, idle, absolute, index)
if f then
    local all = redis.call('HGETALL', KEYS[1])
    for i = 1, #all, 2 do
        if string.sub(all[i], 1, 2) == 'd:' then redis.call('HSET', KEYS[2], all[i], all[i + 1]) end
    end
    redis.call('DEL', KEYS[1])
    if f[3] then redis.call('SREM', index .. f[3], KEYS[1]) end
end
redis.call('HSET', KEYS[2], 'c', ARGV[1], 'a', ARGV[1], 'u', ARGV[5])
redis.call('SADD', index .. ARGV[5], KEYS[2])
redis.call('PEXPIRE', index .. ARGV[5], math.ceil(absolute * 1000) + SLACK_MS)
keep(KEYS[2], now, now, idle, absolute)
return 1
""")

# KEYS[1] the session    ARGV[1] the user index prefix
REVOKE = """
local u = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
if u then redis.call('SREM', ARGV[1] .. u, KEYS[1]) end
return 1
"""

# KEYS[1] the user's index set: every session key in it, then the set itself
REVOKE_USER = """
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
return 1
"""


class RedisSessionClient:
    """A session store client over one Redis connection."""

    def __init__(self, redis: Any, namespace: str, ctx: Context) -> None:
        self._redis = redis
        self._clock = ctx.clock
        self._prefix = f"{namespace}session:"
        self._index = f"{namespace}session-user:"
        self._timeouts: tuple[float, float] | None = None
        self._scripts = {
            name: redis.register_script(src)
            for name, src in [
                ("create", CREATE), ("load", LOAD), ("save", SAVE), ("login", LOGIN),
                ("revoke", REVOKE), ("revoke_user", REVOKE_USER),
            ]
        }  # fmt: skip

    def configure(self, idle: float, absolute: float) -> None:
        self._timeouts = check_timeouts(idle, absolute)

    def _args(self) -> list[str]:
        if self._timeouts is None:
            raise RuntimeError("call configure(idle, absolute) first")
        idle, absolute = self._timeouts
        return [repr(self._clock.now()), repr(idle), repr(absolute), self._index]

    def _key(self, sid: str) -> str:
        return self._prefix + sid

    def create(self, user: str | None = None) -> str:
        sid = new_id()
        self._scripts["create"](keys=[self._key(sid)], args=[*self._args(), user or ""])
        return sid

    def load(self, sid: str) -> dict[str, str] | None:
        flat = self._scripts["load"](keys=[self._key(sid)], args=self._args())
        if not flat:
            return None
        pairs = dict(zip(flat[::2], flat[1::2], strict=True))
        return {k[2:]: v for k, v in pairs.items() if k.startswith("d:")}

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        fields = [x for k, v in changes.items() for x in (f"d:{k}", v)]
        return bool(self._scripts["save"](keys=[self._key(sid)], args=[*self._args(), *fields]))

    def login(self, sid: str, user: str) -> str:
        new = new_id()
        self._scripts["login"](keys=[self._key(sid), self._key(new)], args=[*self._args(), user])
        return new

    def revoke(self, sid: str) -> None:
        self._scripts["revoke"](keys=[self._key(sid)], args=[self._index])

    def revoke_user(self, user: str) -> None:
        self._scripts["revoke_user"](keys=[self._index + user])

    def close(self) -> None:
        self._redis.close()


def _connect(url: str | None) -> Any:
    if not url:
        raise BackendUnavailable("the Redis session store needs a Redis URL: pass --redis-url")
    return redis_client(url, decode_responses=True)


def factory(ctx: Context) -> Implementation:
    """The Redis reference session store for ``ctx``; connects only when a client is made."""
    return Implementation(
        client=lambda: RedisSessionClient(_connect(ctx.redis_url), ctx.namespace, ctx),
        capabilities=frozenset({"injectable-clock", "remote-store"}),
        needs=frozenset({"redis"}),
        package="distconform",
        description="Redis reference (a hash per session, one Lua script per request)",
    )

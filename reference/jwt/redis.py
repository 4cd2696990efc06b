"""Reference JWT verifier with its denylist and refresh families on Redis.

The verifier is ``memory.Verifier``; only the store differs. Keys, all under
``ctx.namespace``:

=============================  ======  =========================================
``{ns}jwt:deny:{sha256}``      string  a revoked token; PX = its remaining lifetime
``{ns}jwt:family:{id}``        string  the family's current refresh token id, or
                                       ``!revoked`` after a reuse; PX = refresh lifetime
=============================  ======  =========================================

Why a TTL equal to the remaining lifetime: once the token has expired every
verifier refuses it anyway, so a longer entry only grows the denylist
(without a TTL it grows forever) and a shorter one lets the token back in
before its ``exp`` (JWT-22). The TTL is rounded up to the millisecond.

Rotation is one Lua script (compare the presented id with the current one,
then replace it or revoke the family), so two clients presenting the same
refresh token cannot both rotate it. A Redis that cannot be reached fails
closed: ``verify`` raises TokenRejected (the denylist cannot be read), and
``revoke``/``refresh`` raise TokenRejected too.

Time: ``time.time()`` (no ``injectable-clock``), so the suite moves the
process's time with time-machine; Redis expires entries on its own clock,
which only the TTL's length reaches.
"""

from __future__ import annotations

import contextlib
import math
import secrets
from collections.abc import Iterator

import redis

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.protocols import TokenRejected
from distconform.reference.jwt.memory import CAPABILITIES, Verifier, now_source

__all__ = ["RedisStore", "factory"]

ROTATE = """
-- KEYS[1]  the family    ARGV[1] presented id    ARGV[2] new id    ARGV[3] TTL in ms
-- returns  1 rotated; 0 refused (and the family revoked when it was alive)
local current = redis.call('GET', KEYS[1])
if not current then
    return 0
end
if current ~= ARGV[1] then
    redis.call('SET', KEYS[1], '!revoked', 'KEEPTTL')
    return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisStore:
    """Denylist and refresh families on Redis; a Redis error is a refusal (fail closed)."""

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        self._r = client
        self._ns = namespace
        self._rotate = client.register_script(ROTATE)

    def deny(self, token_id: str, ttl: float) -> None:
        if ttl <= 0:
            return  # already expired: every verifier refuses it anyway
        with _fail_closed():
            self._r.set(f"{self._ns}jwt:deny:{token_id}", 1, px=_ms(ttl))

    def denied(self, token_id: str) -> bool:
        with _fail_closed():
            return bool(self._r.exists(f"{self._ns}jwt:deny:{token_id}"))

    def start_family(self, family: str, current: str, ttl: float) -> None:
        with _fail_closed():
            self._r.set(f"{self._ns}jwt:family:{family}", current, px=_ms(ttl))

    def rotate(self, family: str, presented: str, new: str, ttl: float) -> bool:
        with _fail_closed():
            key = f"{self._ns}jwt:family:{family}"
            return bool(self._rotate(keys=[key], args=[presented, new, _ms(ttl)]))


@contextlib.contextmanager
def _fail_closed() -> Iterator[None]:
    """Turn a Redis error into a refusal: an unreadable denylist must not admit a token."""
    try:
        yield
    except redis.RedisError as exc:
        raise TokenRejected(f"token store unreachable: {exc}") from exc


def factory(ctx: Context) -> Implementation:
    """Redis reference: connects when a client is made; one session key per implementation."""
    secret = secrets.token_bytes(32)
    now = now_source(ctx, injectable=False)

    def client() -> Verifier:
        if ctx.redis_url is None:
            raise TokenRejected("no Redis URL in the context")
        return Verifier(now, RedisStore(redis_client(ctx.redis_url), ctx.namespace), secret)

    return Implementation(
        client=client,
        capabilities=CAPABILITIES,
        needs=frozenset({"redis"}),
        package="PyJWT",
        description="Redis reference (PyJWT verifier, denylist with TTL = remaining lifetime)",
    )

"""Fault tests for the Redis JWT reference: spec/jwt.md, "Fault model" (JWT-28).

The reference runs on a private, fsync-always Redis (faults/conftest.py). The
server is SIGKILLed with a revoked token on its denylist: while it is down,
``verify`` must refuse every token (the denylist cannot be read: fail
closed) and ``revoke`` must raise, not report success; restarted on its AOF,
the entry is back and the token is still refused, while the others verify.
The conformance test of JWT-28 cuts connections through a proxy; this one
kills the server itself, and checks that the revocation survives a restart.
Time is the real clock: the tokens live an hour, far beyond the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from distconform import mechanisms
from distconform.adapters import resolve
from distconform.api import Context, new_namespace
from distconform.backends import PrivateRedis, redis_client
from distconform.conformance import jwt_forge as forge
from distconform.conformance.test_jwt import accepts, refuses
from distconform.guard import DEFAULT_CALL_TIMEOUT
from distconform.plugin import Subject
from distconform.protocols import TokenRejected

pytestmark = pytest.mark.faults
clause = pytest.mark.clause

#: Seconds Redis may take to load its AOF after a restart; bounds a setup wait only.
RESTART_GRACE = 30.0


@pytest.fixture
def served(durable_redis: PrivateRedis) -> Iterator[Subject]:
    mech = mechanisms.get("jwt")
    adapter = resolve(mech, "redis")
    ctx = Context(namespace=new_namespace(), redis_url=durable_redis.url)
    subject = Subject(adapter, adapter.build(ctx), ctx, mech, DEFAULT_CALL_TIMEOUT)
    try:
        yield subject
    finally:
        subject.close()


def _answering(url: str) -> None:
    """Wait until a restarted Redis has loaded its AOF (it answers LOADING before)."""
    r = redis_client(url)
    deadline = time.monotonic() + RESTART_GRACE
    try:
        while True:
            try:
                r.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        r.close()


def _tokens(key: forge.Key) -> tuple[str, str]:
    now = int(time.time())
    body = {"sub": "user-1", "iat": now, "exp": now + 3600}
    return forge.forge({**body, "jti": "gone"}, key), forge.forge({**body, "jti": "kept"}, key)


@clause("JWT-28")
def test_killed_redis_fails_closed_and_keeps_revocations(
    served: Subject, durable_redis: PrivateRedis
) -> None:
    key = forge.make_key("HS256")
    c: Any = served.client()
    c.configure(["HS256"], forge.jwks(key))
    revoked, good = _tokens(key)
    c.revoke(revoked)
    durable_redis.kill()
    for what, token in (("the revoked token", revoked), ("a valid token", good)):
        refuses(c, token, f"revoke; kill -9 Redis; verify {what}")
    with pytest.raises(TokenRejected):
        c.revoke(good)
    durable_redis.restart()
    _answering(durable_redis.url)
    refuses(c, revoked, "revoke; kill -9 Redis; restart; verify the revoked token")
    accepts(c, good, "revoke; kill -9 Redis; restart; verify another token")

"""The session adapters for starsessions, Flask-Session and Beaker build and answer over HTTP.

Their verdicts come from the conformance suite (``distconform verify session
starsessions flask-session beaker``, about a minute, outside the default run:
the timeout clauses wait in real time); this keeps the adapters themselves
from rotting: each registered name resolves, and a create, save, load, login,
revoke and revoke_user go through the library's request cycle with the
answers every one of them gives (what differs between them is the
conformance suite's to judge).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from distconform import backends, mechanisms
from distconform.adapters import registered, resolve
from distconform.api import Context

MECH = mechanisms.get("session")
THIRD_PARTY = sorted(n for n in registered("session") if n not in MECH.references)


def test_every_named_adapter_is_registered() -> None:
    assert THIRD_PARTY == ["beaker", "flask-session", "starsessions"], THIRD_PARTY


@pytest.fixture
def redis_url(dc_backends: Any) -> str:
    url = dc_backends.ensure("redis")
    if url is None:
        pytest.skip(dc_backends.missing.get("redis", "no redis server"))
    return str(url)


@pytest.mark.parametrize("name", THIRD_PARTY)
def test_adapter_runs_a_session_through_its_requests(name: str, redis_url: str) -> None:
    ns = f"dc_{uuid.uuid4().hex[:12]}_"
    impl = resolve(MECH, name).build(Context(namespace=ns, redis_url=redis_url))
    client = impl.client()
    try:
        client.configure(600, 3600)
        anon = client.create(None)
        assert client.load(anon) == {}
        assert client.save(anon, {"cart": "3"}) is True
        assert client.load(anon) == {"cart": "3"}
        assert anon in client.cookie(anon)
        new = client.login(anon, "alice")
        assert new != anon and client.load(new) == {"cart": "3"}
        client.revoke(new)
        assert client.load(new) is None and client.save(new, {"x": "1"}) is False
        # Two new visitors get two sessions: no cookie of an earlier call rides along.
        other, bob = client.create("alice"), client.create("bob")
        assert len({anon, new, other, bob}) == 4
        client.revoke_user("alice")
        assert client.load(other) is None and client.load(bob) == {}
    finally:
        getattr(client, "close", lambda: None)()
        if impl.close is not None:
            impl.close()
        backends.cleanup_namespace(ns, redis_url, None)

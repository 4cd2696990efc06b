"""The rate-limiter adapters for limits and pyrate-limiter build, configure and decide.

Their verdicts come from the conformance suite (``distconform verify ratelimit
limits-fixed-window ...``, about 90 s for all of them, outside the default
run); this keeps the adapters themselves from rotting in CI: every registered
third-party name resolves, and each algorithm it declares configures and
answers ``hit`` with a bool, rejecting once its quota is spent.
"""

from __future__ import annotations

import os
import uuid

import pytest

from distconform import backends, mechanisms
from distconform.adapters import registered, resolve
from distconform.api import Context

MECH = mechanisms.get("ratelimit")
ALGORITHMS = ("sliding-log", "fixed-window", "sliding-window-counter", "token-bucket")
THIRD_PARTY = sorted(n for n in registered("ratelimit") if n not in MECH.references)


def test_every_named_adapter_is_registered() -> None:
    """The issue's adapter names are all registered, in memory and on Redis."""
    for base in ("limits-fixed-window", "limits-moving-window", "limits-sliding-window-counter",
                 "pyrate-limiter"):  # fmt: skip
        assert base in THIRD_PARTY and f"{base}-redis" in THIRD_PARTY, THIRD_PARTY
    # pyrate's default shares one bucket among all names; the per-key twin is registered too.
    assert "pyrate-limiter-per-key" in THIRD_PARTY, THIRD_PARTY


@pytest.mark.parametrize("name", THIRD_PARTY)
def test_adapter_decides(name: str) -> None:
    """Each declared algorithm admits a quota of 3, then rejects the fourth hit."""
    ns = f"dc_{uuid.uuid4().hex[:12]}_"
    url = os.environ.get(backends.ENV_REDIS)
    adapter = resolve(MECH, name)
    impl = adapter.build(Context(namespace=ns, redis_url=url))
    if "redis" in impl.needs and not url:
        pytest.skip(f"{name} needs ${backends.ENV_REDIS}")
    declared = [a for a in ALGORITHMS if a in impl.capabilities]
    assert declared, f"{name} declares no algorithm: {sorted(impl.capabilities)}"
    for algorithm in declared:
        # One implementation object per algorithm: its clients share one configuration.
        impl = adapter.build(Context(namespace=f"{ns}{algorithm}_", redis_url=url))
        try:
            client = impl.client()
            try:
                if algorithm == "token-bucket":
                    client.configure(algorithm, rate=3.0, burst=3)
                else:
                    client.configure(algorithm, limit=3, window=10.0)
                got = [client.hit(f"{algorithm}-k") for _ in range(4)]
                assert got == [True, True, True, False], f"{name} {algorithm}: {got}"
            finally:
                getattr(client, "close", lambda: None)()
        finally:
            if impl.close is not None:
                impl.close()
            if url:
                backends.cleanup_namespace(ns, url, None)

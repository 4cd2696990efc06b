"""JWT verification throughput: tokens verified per second, per library and algorithm.

Groups ``jwt-verify-<ALG>`` (HS256, RS256, ES256, EdDSA): each library's
``verify`` of one valid token (configured with the algorithm and its key, no
audience, issuer or leeway), beside ``floor``: the signature check alone on
the already split and decoded token (``hmac.compare_digest`` of a fresh MAC,
or ``cryptography``'s ``verify``), the least any verifier does. One iteration
is ``BATCH`` verifications on the raw client (no time-limit proxy).

``extra_info["ops_per_s"]`` is verifications per second from the median
iteration (``cycles_per_s`` too, for ``benchmarks/summary.py``, which prints
the ratio to the floor). ``pytest benchmarks/test_jwt_bench.py
--benchmark-json=...``; about a minute. Numbers from a shared machine only
rank the libraries roughly.
"""

from __future__ import annotations

import hmac
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from distconform import mechanisms
from distconform.adapters import resolve
from distconform.api import Context
from distconform.conformance import jwt_forge as forge

ALGORITHMS = ["HS256", "RS256", "ES256", "EdDSA"]
LIBRARIES = ["memory", "pyjwt", "python-jose", "joserfc", "jwcrypto", "authlib"]
#: Verifications per iteration: HS256 takes tens of microseconds, RS256 a few
#: hundred (public-key operations dominate), so 50 keeps an iteration near 10 ms.
BATCH = 50
ROUNDS = 30

_fresh = itertools.count()


def _token(alg: str) -> tuple[str, forge.Key]:
    key = forge.make_key(alg)
    now = int(time.time())
    return forge.forge({"sub": "user-1", "iat": now, "exp": now + 3600}, key), key


def _time(benchmark: Any, label: str, fn: Callable[[], None]) -> None:
    benchmark.pedantic(fn, rounds=ROUNDS)
    ops = round(BATCH / benchmark.stats.stats.median)
    benchmark.extra_info.update(
        implementation=label, cycles_per_iteration=BATCH, ops_per_s=ops, cycles_per_s=ops
    )


def _floor(alg: str, token: str, key: forge.Key) -> Callable[[], None]:
    """The signature check alone, on bytes decoded once outside the timing."""
    signing_input, sig = token.rsplit(".", 1)
    data, signature = signing_input.encode(), forge.unb64(sig)
    if alg == "HS256":
        secret = key.private

        def check() -> None:
            hmac.compare_digest(forge.sign("HS256", secret, data), signature)

        return check
    public = key.private.public_key()
    if alg == "RS256":
        return lambda: public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "ES256":
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        return lambda: public.verify(der, data, ec.ECDSA(hashes.SHA256()))
    return lambda: public.verify(signature, data)


@pytest.mark.parametrize("name", ["floor", *LIBRARIES])
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_verify(benchmark: Any, alg: str, name: str) -> None:
    """``BATCH`` verifications of one valid token by ``name`` (or the bare signature check)."""
    benchmark.group = f"jwt-verify-{alg}"
    token, key = _token(alg)
    if name == "floor":
        one = _floor(alg, token, key)
    else:
        impl = resolve(mechanisms.get("jwt"), name).build(Context(namespace=f"dc_b{next(_fresh)}_"))
        if alg not in impl.capabilities:
            pytest.skip(f"{name} does not offer {alg}")
        client = impl.client()
        client.configure([alg], forge.jwks(key))
        client.verify(token)  # once outside the timing: a refusal stops the benchmark here

        def one() -> None:
            client.verify(token)

    def batch() -> None:
        for _ in range(BATCH):
            one()

    _time(benchmark, name, batch)

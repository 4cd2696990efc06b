"""JWT workloads: verifications per second, one workload per algorithm.

``verify-<ALG>`` (HS256, RS256, ES256, EdDSA) configures the client with that
algorithm and its public key (no audience, issuer or leeway), checks once,
untimed, that it accepts one valid token, then times ``verify`` of that token.
An implementation runs the workloads of the algorithms it declares; the others
are reported not applicable. A refusal during a round fails the benchmark.

The floor is the signature check alone on bytes decoded beforehand: the
token's signing input and signature are split and base64url-decoded on the
floor client's first sight of the token (the warm-up round) and kept under the
token, so a timed ``verify`` is one dict lookup of the token and the
cryptographic check: ``hmac.digest`` + ``hmac.compare_digest`` for HS256
(the one-shot digest, cheaper than the ``hmac.new`` object PyJWT builds per
call), ``cryptography``'s ``verify`` for the others, with the ECDSA signature
already in DER and the padding and hash objects built once. No header or
claims parsing, no key lookup, no clock: every verifier does at least the
check, and at least a split of the token to find what to check.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from distconform.api import Context, Implementation
from distconform.bench import Round, Sequential, Workload, closer
from distconform.conformance import jwt_forge as forge
from distconform.protocols import TokenRejected

ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")
#: Verifications per round: HS256 takes tens of microseconds per token, the
#: public-key algorithms up to a few hundred, so a round stays near 10 ms.
OPS = 50
ROUNDS = 30
#: A token valid far beyond any run.
LIFETIME = 3600

FLOOR = (
    "the signature check alone on the token's bytes decoded beforehand "
    "(HS256: hmac.digest + compare_digest; others: cryptography's verify)"
)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check(alg: str, key: Any, data: bytes, signature: bytes) -> Callable[[], None]:
    """The bare signature check of ``data`` under ``key``; raises when it does not match."""
    if alg == "HS256":

        def mac() -> None:
            if not hmac.compare_digest(hmac.digest(key, data, "sha256"), signature):
                raise TokenRejected("signature mismatch")

        return mac
    if alg == "RS256":
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        return lambda: key.verify(signature, data, pkcs1, sha256)
    if alg == "ES256":
        half = len(signature) // 2
        der = encode_dss_signature(
            int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
        )
        ecdsa = ec.ECDSA(hashes.SHA256())
        return lambda: key.verify(der, data, ecdsa)
    if alg == "EdDSA":
        return lambda: key.verify(signature, data)
    raise ValueError(f"the jwt floor times {', '.join(ALGORITHMS)}, not {alg!r}")


class FloorVerifier:
    """The floor client: per token, its signature check prepared once, then only that."""

    def __init__(self) -> None:
        self._keys: dict[str, tuple[str, Any]] = {}
        self._checks: dict[str, Callable[[], None]] = {}

    def configure(self, algorithms: Sequence[str], keys: dict[str, Any], **claims: Any) -> None:
        """Keys by kid; the claim checks (leeway, audience, ...) are not the floor's to do."""
        self._keys = {}
        for jwk in keys["keys"]:
            key = jwt.PyJWK(jwk)
            self._keys[jwk["kid"]] = (key.algorithm_name, key.key)

    def _prepare(self, token: str) -> Callable[[], None]:
        header, _, signature = token.split(".")
        alg, key = self._keys[json.loads(_unb64(header))["kid"]]
        signing_input = token.rsplit(".", 1)[0].encode()
        check = self._checks[token] = _check(alg, key, signing_input, _unb64(signature))
        return check

    def verify(self, token: str) -> dict[str, Any]:
        (self._checks.get(token) or self._prepare(token))()
        return {}


def floor(ctx: Context) -> Implementation:
    return Implementation(
        client=FloorVerifier, capabilities=frozenset(ALGORITHMS), description=FLOOR
    )


def _verifications(alg: str) -> Callable[[Implementation], Round]:
    def prepare(impl: Implementation) -> Round:
        key = forge.make_key(alg)
        now = int(time.time())
        token = forge.forge({"sub": "user-1", "iat": now, "exp": now + LIFETIME}, key)
        client = impl.client()
        client.configure([alg], forge.jwks(key))
        client.verify(token)  # a refusal stops the benchmark here, before any round
        return Sequential(client.verify, lambda: [(token,)] * OPS, close=closer(client))

    return prepare


WORKLOADS = [
    Workload(f"verify-{a}", f"verify of one valid {a} token (no aud, iss or leeway)", OPS,
             ROUNDS, _verifications(a), requires=a)
    for a in ALGORITHMS
]  # fmt: skip

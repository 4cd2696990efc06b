"""The suite's own token signer: keys, JWKs and tokens no library will produce.

Why hand-written: every JWT library refuses to sign what the tests must feed
a verifier (``alg: none``, HS256 keyed with an RSA public key's PEM, a
``crit`` header, duplicate members, non-object payloads, bad base64url,
wrong segment counts). So the suite assembles tokens itself from their
definition (RFC 7515 section 7.1: ``b64url(header) . b64url(payload) .
b64url(signature)``), signing with ``hmac`` and the ``cryptography``
package's primitives, never with a library under test; the well-formed
tokens it makes also check that verifiers accept tokens they did not issue.

Keys are generated once per process per (algorithm, index) and cached: RSA
generation costs tens of milliseconds.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

__all__ = [
    "HMAC_ALGS",
    "Key",
    "b64",
    "forge",
    "jwks",
    "make_key",
    "raw_token",
    "sign",
    "unb64",
]

HMAC_ALGS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
#: Secret length per HMAC algorithm: the hash output (RFC 7518 section 3.2's minimum).
HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def b64(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    """The bytes of a base64url segment (padding restored)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64(n: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (n.bit_length() + 7) // 8)
    return b64(n.to_bytes(size, "big"))


@dataclass(frozen=True)
class Key:
    """One signing key: its ``kid``, the one algorithm it serves, and its material."""

    kid: str
    alg: str
    #: bytes for HMAC; a ``cryptography`` private key otherwise.
    private: Any

    @property
    def symmetric(self) -> bool:
        return self.alg in HMAC_ALGS

    def with_kid(self, kid: str) -> Key:
        return Key(kid, self.alg, self.private)

    def public_jwk(self) -> dict[str, Any]:
        """The JWK a verifier is configured with (the secret itself for ``oct``)."""
        base = {"kid": self.kid, "alg": self.alg, "use": "sig"}
        if self.symmetric:
            return {**base, "kty": "oct", "k": b64(self.private)}
        pub = self.private.public_key()
        if isinstance(pub, rsa.RSAPublicKey):
            nums = pub.public_numbers()
            return {**base, "kty": "RSA", "n": _int_b64(nums.n), "e": _int_b64(nums.e)}
        if isinstance(pub, ec.EllipticCurvePublicKey):
            nums = pub.public_numbers()
            return {
                **base,
                "kty": "EC",
                "crv": "P-256",
                "x": _int_b64(nums.x, 32),
                "y": _int_b64(nums.y, 32),
            }
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {**base, "kty": "OKP", "crv": "Ed25519", "x": b64(raw)}

    def private_jwk(self) -> dict[str, Any]:
        """The JWK an issuer signs with."""
        jwk = self.public_jwk()
        if self.symmetric:
            return jwk
        priv = self.private
        if isinstance(priv, rsa.RSAPrivateKey):
            n = priv.private_numbers()
            return {
                **jwk,
                "d": _int_b64(n.d),
                "p": _int_b64(n.p),
                "q": _int_b64(n.q),
                "dp": _int_b64(n.dmp1),
                "dq": _int_b64(n.dmq1),
                "qi": _int_b64(n.iqmp),
            }
        if isinstance(priv, ec.EllipticCurvePrivateKey):
            return {**jwk, "d": _int_b64(priv.private_numbers().private_value, 32)}
        raw = priv.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return {**jwk, "d": b64(raw)}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_der(self) -> bytes:
        return self.private.public_key().public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@functools.cache
def _material(alg: str, index: int) -> Any:
    if alg in HMAC_ALGS:
        # Deterministic per (alg, index), full length; distinct per index.
        return hashlib.sha512(f"distconform-{alg}-{index}".encode()).digest()[: HMAC_KEY_BYTES[alg]]
    if alg in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"no key type for algorithm {alg!r}")


def make_key(alg: str, index: int = 0, kid: str | None = None) -> Key:
    """Key number ``index`` for ``alg`` (the same material every call in this process)."""
    return Key(kid or f"{alg.lower()}-{index}", alg, _material(alg, index))


def jwks(*keys: Key) -> dict[str, Any]:
    """A JWK Set of the keys' verification halves (RFC 7517 section 5)."""
    return {"keys": [k.public_jwk() for k in keys]}


def sign(alg: str, secret: Any, signing_input: bytes) -> bytes:
    """The JWS signature of ``signing_input`` (RFC 7518 section 3); ``none``: empty."""
    if alg.lower() == "none":
        return b""
    if alg in HMAC_ALGS:
        return hmac.new(secret, signing_input, HMAC_ALGS[alg]).digest()
    if alg == "RS256":
        return secret.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[no-any-return]
    if alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return secret.sign(signing_input, pss, hashes.SHA256())  # type: ignore[no-any-return]
    if alg == "ES256":
        # JWS wants r || s, 32 bytes each, not cryptography's DER (RFC 7518 section 3.4).
        r, s = decode_dss_signature(secret.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "EdDSA":
        return secret.sign(signing_input)  # type: ignore[no-any-return]
    raise ValueError(f"cannot sign with {alg!r}")


def raw_token(header: bytes | str, payload: bytes | str, alg: str, secret: Any) -> str:
    """A token from header and payload *text* exactly as given, signed with ``alg``."""
    h = header.encode() if isinstance(header, str) else header
    p = payload.encode() if isinstance(payload, str) else payload
    signing_input = f"{b64(h)}.{b64(p)}".encode("ascii")
    return f"{signing_input.decode()}.{b64(sign(alg, secret, signing_input))}"


def forge(
    claims: Any,
    key: Key,
    *,
    header: dict[str, Any] | None = None,
    alg: str | None = None,
    secret: Any = None,
) -> str:
    """A token for ``claims`` under ``key`` (its kid and alg in the header).

    ``header`` adds or replaces header members (a value of None drops one);
    ``alg`` and ``secret`` sign with another algorithm or key material than
    the key's own (the attacks: ``none``, HMAC keyed with a public key).
    """
    used_alg = alg or key.alg
    fields: dict[str, Any] = {"alg": used_alg, "typ": "JWT", "kid": key.kid, **(header or {})}
    fields = {k: v for k, v in fields.items() if v is not None}
    material = secret if secret is not None else key.private
    return raw_token(json.dumps(fields), json.dumps(claims), used_alg, material)

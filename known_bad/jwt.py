"""Known-bad JWT verifiers: the seed's, and the classic mistakes of RFC 8725 section 2.

Each class is the reference verifier (``reference/jwt/memory.py``, PyJWT with
kid lookup and its own time checks) with the one mistake its docstring
names, so that the clause it breaks is the one that catches it. Every class
is its own adapter: ``distconform.known_bad.jwt:Name.factory``.

Seed question 12 of ``000_e2600301e6e42737.txt`` (Go) is a
``JWTAuthenticator`` that stores a secret and never uses it: it compares the
username and password with ``"admin"``/``"password"`` and signs or checks no
token at all. Ported to this interface, the secret is still never used:
:class:`SeedSecretNeverUsed` reads the claims without checking a signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import posixpath
import secrets
from collections.abc import Callable
from typing import Any, ClassVar

import jwt
from jwt.api_jws import PyJWS

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.known_bad import KnownBad
from distconform.protocols import TokenRejected
from distconform.reference.jwt import memory as ref
from distconform.reference.jwt.redis import RedisStore, _fail_closed

__all__ = ["KNOWN_BAD"]


def _segments(token: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """Header, payload bytes, signing input and signature of a token (no checks)."""
    h, p, s = token.split(".")
    raw = [base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)) for x in (h, p, s)]
    return json.loads(raw[0]), raw[1], f"{h}.{p}".encode(), raw[2]


class Bad(ref.Verifier):
    """The reference verifier on its in-process store: the base of the mistakes."""

    NEEDS_REDIS: ClassVar[bool] = False

    @classmethod
    def store(cls, ctx: Context, now: Callable[[], float]) -> ref.Store:
        if cls.NEEDS_REDIS:
            if ctx.redis_url is None:
                raise TokenRejected("no Redis URL in the context")
            return RedisStore(redis_client(ctx.redis_url), ctx.namespace)
        return ref.MemoryStore(now)

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        now = ref.now_source(ctx, injectable=not cls.NEEDS_REDIS)
        secret = secrets.token_bytes(32)
        shared: list[ref.Store] = []

        def client() -> Bad:
            if not shared or not cls.shares_store():
                shared[:] = [cls.store(ctx, now)]
            return cls(now, shared[0], secret)

        caps = ref.CAPABILITIES if cls.NEEDS_REDIS else ref.CAPABILITIES | {"injectable-clock"}
        return Implementation(
            client=client,
            capabilities=caps,
            needs=frozenset({"redis"}) if cls.NEEDS_REDIS else frozenset(),
            description=f"known-bad: {cls.__name__}",
        )

    @classmethod
    def shares_store(cls) -> bool:
        return True

    def _decode_unverified(self, token: str) -> dict[str, Any]:
        """The claims with PyJWT's claim checks but no signature check."""
        ref._check_segments(token)
        claims = self._pyjwt.decode(
            token,
            options={
                "verify_signature": False,
                "verify_aud": True,
                "verify_iss": True,
                "require": self._require,
            },
            audience=self._audience,
            issuer=self._issuer,
        )
        self._check_times(claims)
        return claims


# ------------------------------------------------------------- signatures


class SeedSecretNeverUsed(Bad):
    """Seed question 12: the secret is stored and never used; no signature is checked."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        return self._decode_unverified(token)


class AlgFromHeaderHmacWithPublicKey(Bad):
    """Takes the algorithm from the header and keys HMAC with the key's bytes (a PEM for RSA).

    CVE-2015-9235 and its kin: an HS256 token MACed with the public key verifies.
    """

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        ref._check_segments(token)
        header, _, signing_input, sig = _segments(token)
        key = self._keys.get(header.get("kid", ""))
        if key is None:
            raise TokenRejected("unknown kid")
        alg = header["alg"]
        if alg in ("HS256", "HS384", "HS512"):
            secret = key.key if isinstance(key.key, bytes) else _pem(key.key)
            digest = getattr(hashlib, "sha" + alg[2:])
            if not hmac.compare_digest(hmac.new(secret, signing_input, digest).digest(), sig):
                raise TokenRejected("bad HMAC")
            return self._decode_unverified(token)
        claims = self._signed(token, key, alg)
        self._check_times(claims)
        return claims


def _pem(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class NoneAccepted(Bad):
    """Accepts ``alg: none`` (any case) as an unsigned token: "the token says it is unsigned"."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if str(header.get("alg", "")).lower() == "none":
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            self._check_times(claims)
            return claims  # type: ignore[no-any-return]
        return super()._decode(token, refresh)


class KidPathNormalised(Bad):
    """Looks the kid up as a file name: basename of the normalised path, stripped, any case."""

    def _key_for(self, header: dict[str, Any]) -> tuple[jwt.PyJWK, str]:
        kid = header.get("kid")
        if isinstance(kid, str):
            wanted = posixpath.basename(posixpath.normpath(kid.strip("\x00 "))).lower()
            for name, key in self._keys.items():
                if posixpath.basename(name).lower() == wanted:
                    return key, key.algorithm_name
        return super()._key_for(header)


class TriesEveryKey(Bad):
    """When the kid names no key, tries every configured key until one verifies."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        try:
            return super()._decode(token, refresh)
        except TokenRejected:
            for key in self._keys.values():
                try:
                    claims = self._signed(token, key, key.algorithm_name)
                except jwt.PyJWTError:
                    continue
                self._check_times(claims)
                return claims
            raise


# ------------------------------------------------------------------- time


class ExpInclusive(Bad):
    """Expires only *after* exp (``now > exp``): accepted at the exp instant itself."""

    def _check_times(self, claims: dict[str, Any]) -> None:
        if "exp" in claims and self._now() == claims["exp"] + self._leeway:
            claims = {k: v for k, v in claims.items() if k != "exp"}
        super()._check_times(claims)


class NbfExclusive(Bad):
    """Valid only *after* nbf (``now > nbf``): refused at the nbf instant itself."""

    def _check_times(self, claims: dict[str, Any]) -> None:
        if "nbf" in claims and self._now() == claims["nbf"] - self._leeway:
            raise TokenRejected("not yet valid")
        super()._check_times(claims)


class DatesThroughInt(Bad):
    """Reads dates with ``int()``: ``"1800000300"`` and ``true`` pass; exp T + 0.5 expires at T."""

    def _check_times(self, claims: dict[str, Any]) -> None:
        try:
            coerced = {k: int(v) if k in ref.TIME_CLAIMS else v for k, v in claims.items()}
        except (TypeError, ValueError, OverflowError) as exc:
            raise TokenRejected(str(exc)) from exc
        super()._check_times(coerced)


class LeewayIgnored(Bad):
    """Takes a leeway in configure and never applies it."""

    def configure(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("leeway", None)
        super().configure(*args[:2], **kwargs)


class LeewayOnExpOnly(Bad):
    """Applies the leeway to exp and twice over, and not to nbf: more than declared."""

    def _check_times(self, claims: dict[str, Any]) -> None:
        if "exp" in claims and isinstance(claims["exp"], int | float):
            claims = {**claims, "exp": claims["exp"] + self._leeway}
        if "nbf" in claims and isinstance(claims["nbf"], int | float):
            claims = {**claims, "nbf": claims["nbf"] + self._leeway}
        super()._check_times(claims)


class IatIgnored(Bad):
    """Never looks at iat: a token issued in the future verifies."""

    def _check_times(self, claims: dict[str, Any]) -> None:
        super()._check_times({k: v for k, v in claims.items() if k != "iat"})


# ---------------------------------------------------------- audience, issuer


class AudSubstring(Bad):
    """Checks the audience with ``in``: a substring of a string aud, a key of an object, passes."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        audience, self._audience = self._audience, None
        self._pyjwt.options = {**self._pyjwt.options, "verify_aud": False}
        try:
            claims = super()._decode(token, refresh)
        finally:
            self._audience = audience
        if audience is not None and audience not in claims.get("aud", ""):
            raise TokenRejected("wrong audience")
        return claims


class AudIgnoredWithoutAudience(Bad):
    """Checks aud only when configured with an audience: a token meant for others passes."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        if self._audience is None:
            self._pyjwt.options = {**self._pyjwt.options, "verify_aud": False}
        return super()._decode(token, refresh)


class IssPrefix(Bad):
    """Accepts any iss that starts with the configured issuer."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        issuer, self._issuer = self._issuer, None
        try:
            claims = super()._decode(token, refresh)
        finally:
            self._issuer = issuer
        if issuer is not None and not str(claims.get("iss", "")).startswith(issuer):
            raise TokenRejected("wrong issuer")
        return claims


class RequireIgnored(Bad):
    """Takes ``require`` in configure and never checks it."""

    def configure(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("require", None)
        super().configure(*args[:2], **kwargs)


# ----------------------------------------------------------------- parsing


class _NoCrit(PyJWS):
    def _validate_crit(self, headers: dict[str, Any]) -> None:
        return None


class CritIgnored(Bad):
    """Ignores the crit header: an extension it does not understand is skipped, not refused."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._pyjwt._jws = _NoCrit(options=self._pyjwt._get_sig_options())

    def _header(self, token: str) -> dict[str, Any]:
        return self._pyjwt._jws.get_unverified_header(token)  # type: ignore[no-any-return]


class UnmappedErrors(Bad):
    """Maps only bad signatures and expiry to a refusal: other library errors escape as crashes."""

    def _verified(self, token: str, refresh: bool) -> dict[str, Any]:
        try:
            return self._decode(token, refresh)
        except (jwt.InvalidSignatureError, jwt.ExpiredSignatureError) as exc:
            raise TokenRejected(str(exc)) from exc


class RecursionUncaught(Bad):
    """Peeks at the payload with ``json.loads`` before verifying (to route by tenant, say),
    and maps ValueError and PyJWT's errors only: deeply nested JSON escapes as RecursionError."""

    def _verified(self, token: str, refresh: bool) -> dict[str, Any]:
        try:
            json.loads(_segments(token)[1])
            return self._decode(token, refresh)
        except (ValueError, IndexError, jwt.PyJWTError) as exc:
            raise TokenRejected(str(exc)) from exc


class DuplicateFirstWins(Bad):
    """Reads the claims again with the first of duplicate members winning, and judges those."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        key, alg = self._key_for(self._header(token))
        self._signed(token, key, alg)  # signature, aud, iss, required claims
        first = json.loads(_segments(token)[1], object_pairs_hook=_first_wins)
        self._check_times(first)
        return first  # type: ignore[no-any-return]


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


# -------------------------------------------------------------------- keys


class ShortKeysAccepted(Bad):
    """Takes HMAC secrets of any length (RFC 7518 section 3.2 asks for the hash size)."""

    def configure(self, algorithms: Any, keys: dict[str, Any], *args: Any, **kw: Any) -> None:
        super().configure(algorithms, {"keys": []}, *args, **kw)
        self._keys = {k["kid"]: jwt.PyJWK(k) for k in keys["keys"]}

    def issue(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        signing = jwt.PyJWK(key)
        return jwt.encode(claims, signing.key, algorithm=key["alg"], headers={"kid": key["kid"]})


class ClaimsFiltered(Bad):
    """Returns only the registered claims, as a Go StandardClaims struct would: the rest is lost."""

    def verify(self, token: str) -> dict[str, Any]:
        claims = super().verify(token)
        keep = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")
        return {k: v for k, v in claims.items() if k in keep}


# -------------------------------------------------------------- revocation


class DenylistPerClient(Bad):
    """Keeps the denylist in each client's memory: logout on one server, valid on the others."""

    @classmethod
    def shares_store(cls) -> bool:
        return False


class DenylistByTokenText(Bad):
    """Keys the denylist by the token's text and decodes lenient base64: a re-spelling is new."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        key, alg = self._key_for(jwt.get_unverified_header(token))
        claims = self._signed(token, key, alg)
        self._check_times(claims)
        return claims


class DenylistShortTTL(Bad):
    """Denylist entries last a fixed minute, whatever the token's remaining lifetime."""

    def revoke(self, token: str) -> None:
        self.verify(token)
        self._store.deny(hashlib.sha256(token.encode()).hexdigest(), 60)


class RevokeWithoutVerifying(Bad):
    """Revokes whatever it is given, expired or forged, without verifying it first."""

    def revoke(self, token: str) -> None:
        self._store.deny(hashlib.sha256(token.encode()).hexdigest(), 300)


class RedisDenylistNoTTL(Bad):
    """On Redis, denylist entries without a TTL: the denylist grows forever."""

    NEEDS_REDIS = True

    def revoke(self, token: str) -> None:
        self.verify(token)
        store = self._store
        assert isinstance(store, RedisStore)
        with _fail_closed():
            store._r.set(f"{store._ns}jwt:deny:{hashlib.sha256(token.encode()).hexdigest()}", 1)


class RedisDenylistFullLifetime(Bad):
    """On Redis, the entry's TTL is the token's whole lifetime (exp - iat), not what is left."""

    NEEDS_REDIS = True

    def revoke(self, token: str) -> None:
        claims = self.verify(token)
        ttl = claims["exp"] - claims.get("iat", self._now())
        self._store.deny(hashlib.sha256(token.encode()).hexdigest(), ttl)


class _FailOpenStore(RedisStore):
    def denied(self, token_id: str) -> bool:
        try:
            return super().denied(token_id)
        except TokenRejected:
            return False  # "the denylist is down: let users in"


class RedisDenylistFailsOpen(Bad):
    """On Redis, a denylist that cannot be read counts as empty: an outage un-revokes tokens."""

    NEEDS_REDIS = True

    @classmethod
    def store(cls, ctx: Context, now: Callable[[], float]) -> ref.Store:
        if ctx.redis_url is None:
            raise TokenRejected("no Redis URL in the context")
        return _FailOpenStore(redis_client(ctx.redis_url), ctx.namespace)


# ----------------------------------------------------------------- refresh


class RefreshNotRetired(Bad):
    """Issues a new pair on refresh but never retires the old refresh token."""

    def refresh(self, refresh_token: str) -> tuple[str, str]:
        claims = self._verified(refresh_token, refresh=True)
        user = {k: v for k, v in claims.items() if k not in ("fam", "jti", "exp", "iat")}
        return self._pair(user, claims["fam"], claims["jti"])


class _NoReuseDetection(ref.MemoryStore):
    def rotate(self, family: str, presented: str, new: str, ttl: float) -> bool:
        with self._lock:
            current, deadline = self._families.get(family, (None, 0.0))
            if current != presented or deadline <= self._now():
                return False  # refused, and the family left alone
            self._families[family] = (new, self._now() + ttl)
            return True


class RefreshWithoutReuseDetection(Bad):
    """Refuses a retired refresh token but leaves its family alive (no reuse detection)."""

    @classmethod
    def store(cls, ctx: Context, now: Callable[[], float]) -> ref.Store:
        return _NoReuseDetection(now)


class RefreshAcceptedAsAccess(Bad):
    """Ignores the token type: a refresh token verifies as an access token and the reverse."""

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        return super()._decode(token, header.get("typ") == ref.REFRESH_TYP)


def _entry(cls: type[Bad], breaks: tuple[str, ...], why: str) -> KnownBad:
    name = "".join("-" + c.lower() if c.isupper() else c for c in cls.__name__).lstrip("-")
    return KnownBad(name, "jwt", f"distconform.known_bad.jwt:{cls.__name__}.factory", breaks, why)


KNOWN_BAD = [
    _entry(SeedSecretNeverUsed, ("JWT-2", "JWT-3", "JWT-4", "JWT-5", "JWT-6"),
           "seed q12: the secret is never used, so any signature passes"),
    _entry(AlgFromHeaderHmacWithPublicKey, ("JWT-3", "JWT-5"),
           "the header picks the algorithm; HMAC keyed with the RSA key's PEM (CVE-2015-9235)"),
    _entry(NoneAccepted, ("JWT-4",), "alg none accepted as unsigned"),
    _entry(KidPathNormalised, ("JWT-6",), "kid read as a path: ../ and case steer the key"),
    _entry(TriesEveryKey, ("JWT-6",), "unknown kid: every key tried"),
    _entry(ExpInclusive, ("JWT-7",), "now > exp instead of now >= exp"),
    _entry(NbfExclusive, ("JWT-8",), "now > nbf instead of now >= nbf"),
    _entry(DatesThroughInt, ("JWT-9", "JWT-26"), "int() on dates: strings pass, fractions cut"),
    _entry(LeewayIgnored, ("JWT-10",), "leeway taken and not applied"),
    _entry(LeewayOnExpOnly, ("JWT-10",), "leeway pushed nbf the wrong way"),
    _entry(IatIgnored, ("JWT-11",), "iat never checked"),
    _entry(AudSubstring, ("JWT-12",), "aud matched with `in`: substrings pass"),
    _entry(AudIgnoredWithoutAudience, ("JWT-13",), "aud ignored without a configured audience"),
    _entry(IssPrefix, ("JWT-14",), "iss matched by prefix"),
    _entry(RequireIgnored, ("JWT-15",), "require ignored"),
    _entry(CritIgnored, ("JWT-16",), "crit extensions skipped"),
    _entry(UnmappedErrors, ("JWT-17",), "library decode errors escape as crashes"),
    _entry(RecursionUncaught, ("JWT-19",), "RecursionError escapes verify"),
    _entry(DuplicateFirstWins, ("JWT-18",), "first duplicate member wins"),
    _entry(ShortKeysAccepted, ("JWT-20",), "16-byte HS256 secrets taken"),
    _entry(ClaimsFiltered, ("JWT-1",), "only registered claims returned"),
    _entry(DenylistPerClient, ("JWT-21",), "denylist in each client's memory"),
    _entry(DenylistByTokenText, ("JWT-21", "JWT-27"), "padded re-spelling of a revoked token"),
    _entry(DenylistShortTTL, ("JWT-22",), "denylist entry of a fixed minute"),
    _entry(RevokeWithoutVerifying, ("JWT-22",), "revoke stores tokens that do not verify"),
    _entry(RedisDenylistNoTTL, ("JWT-22",), "Redis denylist entry without TTL"),
    _entry(RedisDenylistFullLifetime, ("JWT-22",), "Redis TTL of the whole lifetime"),
    _entry(RedisDenylistFailsOpen, ("JWT-28",), "denylist outage read as empty"),
    _entry(RefreshNotRetired, ("JWT-23", "JWT-24"), "old refresh token never retired"),
    _entry(RefreshWithoutReuseDetection, ("JWT-24",), "reuse refused, family kept"),
    _entry(RefreshAcceptedAsAccess, ("JWT-25",), "token type ignored"),
]  # fmt: skip

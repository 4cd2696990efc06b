"""Reference JWT verifier and issuer on PyJWT, with an in-process denylist and refresh families.

PyJWT (the project card's package) checks signatures, ``aud``, ``iss``,
``crit`` and required claims. The reference adds what PyJWT's ``decode``
leaves to its caller or does loosely (spec/jwt.md):

- the key comes from the JWK Set by the token's ``kid``, by exact match,
  and is used with its own ``alg`` only, which must also be configured
  (JWT-3, JWT-5, JWT-6): PyJWT is handed one key and one algorithm;
- ``exp``, ``nbf`` and ``iat`` are judged here, on the reference's clock:
  PyJWT truncates them with ``int()`` (an ``exp`` of T + 0.5 expires at T,
  and ``"123"`` or ``true`` pass as dates), so its own time checks are
  switched off and the claims must be JSON numbers (JWT-7 to JWT-11);
- a header or payload nested deep enough to exhaust Python's recursion is a
  refusal, not a ``RecursionError`` (JWT-19);
- tokens of the ``refresh`` capability carry ``typ: refresh+jwt`` and are
  refused as access tokens (JWT-25).

Revocation and refresh keep their state in a :class:`Store`; this module's is
a dict under a lock, expiring entries on the reference's clock. The Redis
reference (``redis.py``) is the same verifier on a Redis store.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import jwt

from distconform.api import Context, Implementation, RealClock
from distconform.mechanisms import JWT_ALGORITHMS
from distconform.protocols import TokenRejected

__all__ = ["MemoryStore", "Store", "Verifier", "factory", "now_source"]

#: Lifetimes of the tokens ``login`` and ``refresh`` issue, in seconds.
ACCESS_LIFETIME = 300
REFRESH_LIFETIME = 3600
REFRESH_TYP = "refresh+jwt"
TIME_CLAIMS = ("exp", "nbf", "iat")


class Store(Protocol):
    """Where revocations and refresh families live (shared by an implementation's clients)."""

    def deny(self, token_id: str, ttl: float) -> None: ...
    def denied(self, token_id: str) -> bool: ...
    def start_family(self, family: str, current: str, ttl: float) -> None: ...
    def rotate(self, family: str, presented: str, new: str, ttl: float) -> bool:
        """Make ``new`` the family's current token if ``presented`` is; else revoke the family."""
        ...


class MemoryStore:
    """The store in a dict under a lock; an entry expires at its deadline on ``now``."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._denied: dict[str, float] = {}
        #: family -> (current refresh token id, deadline); None: revoked.
        self._families: dict[str, tuple[str | None, float]] = {}

    def deny(self, token_id: str, ttl: float) -> None:
        with self._lock:
            self._denied[token_id] = self._now() + ttl

    def denied(self, token_id: str) -> bool:
        with self._lock:
            return self._denied.get(token_id, -math.inf) > self._now()

    def start_family(self, family: str, current: str, ttl: float) -> None:
        with self._lock:
            self._families[family] = (current, self._now() + ttl)

    def rotate(self, family: str, presented: str, new: str, ttl: float) -> bool:
        with self._lock:
            current, deadline = self._families.get(family, (None, -math.inf))
            if deadline <= self._now():
                return False
            if current != presented:
                self._families[family] = (None, deadline)  # reuse: revoke the family
                return False
            self._families[family] = (new, self._now() + ttl)
            return True


def now_source(ctx: Context, injectable: bool) -> Callable[[], float]:
    """POSIX seconds: ``ctx.clock`` when the suite injects one, else ``time.time``."""
    if injectable and not isinstance(ctx.clock, RealClock):
        return ctx.clock.now
    return time.time


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _check_segments(token: str) -> None:
    """Three base64url segments, each the canonical encoding of its bytes (RFC 7515 section 2).

    PyJWT also decodes padded or non-canonical segments, which gives one token
    many spellings: a denylist keyed by the token would miss the others.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected(f"a JWS has 3 segments, this has {len(parts)}")
    for part in parts:
        if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
            raise TokenRejected("a segment is not unpadded base64url")
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        if _b64(raw) != part:
            raise TokenRejected("a segment is not the canonical base64url of its bytes")


#: RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
HMAC_MIN_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def _import_key(jwk: dict[str, Any]) -> jwt.PyJWK:
    """The JWK as PyJWT's key; ValueError for one PyJWT cannot read or a short HMAC secret."""
    try:
        key = jwt.PyJWK(jwk)
    except jwt.PyJWTError as exc:
        raise ValueError(f"key {jwk.get('kid')!r}: {exc}") from exc
    need = HMAC_MIN_BYTES.get(key.algorithm_name)
    if need is not None and len(key.key) < need:
        raise ValueError(
            f"key {jwk.get('kid')!r}: {key.algorithm_name} needs a secret of at least "
            f"{need} bytes (RFC 7518 section 3.2), got {len(key.key)}"
        )
    return key


def _is_numeric_date(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Verifier:
    """One client: a verifier configured once, an issuer, logout and refresh."""

    def __init__(self, now: Callable[[], float], store: Store, session_secret: bytes) -> None:
        self._now = now
        self._store = store
        # login/refresh sign with this HS256 key of the implementation (not configured by
        # the caller); the verifier accepts it too, so access tokens from login verify.
        self._session_key = jwt.PyJWK({"kty": "oct", "k": _b64(session_secret), "alg": "HS256"})
        self._session_kid = "distconform-session-" + hashlib.sha256(session_secret).hexdigest()[:8]
        self._keys: dict[str, jwt.PyJWK] = {}
        self._algorithms: frozenset[str] = frozenset()
        self._pyjwt = jwt.PyJWT()

    # ---------------------------------------------------------------- configure

    def configure(
        self,
        algorithms: Sequence[str],
        keys: dict[str, Any],
        leeway: float = 0,
        audience: str | None = None,
        issuer: str | None = None,
        require: Sequence[str] = (),
    ) -> None:
        unknown = [a for a in algorithms if a not in JWT_ALGORITHMS]
        if not algorithms or unknown:
            raise ValueError(f"algorithms must be some of {', '.join(JWT_ALGORITHMS)}: {unknown}")
        if not isinstance(leeway, int | float) or leeway < 0:
            raise ValueError(f"leeway must be seconds >= 0, got {leeway!r}")
        self._keys = {}
        for jwk in keys["keys"]:
            if not isinstance(jwk.get("kid"), str) or jwk.get("alg") not in JWT_ALGORITHMS:
                raise ValueError(f"every key needs a kid and one of the algorithms: {jwk!r}")
            self._keys[jwk["kid"]] = _import_key(jwk)
        self._algorithms = frozenset(algorithms)
        self._leeway = float(leeway)
        self._audience, self._issuer, self._require = audience, issuer, list(require)

    # ------------------------------------------------------------------- verify

    def verify(self, token: str) -> dict[str, Any]:
        claims = self._verified(token, refresh=False)
        if self._store.denied(_token_id(token)):
            raise TokenRejected("revoked")
        return claims

    def _verified(self, token: str, refresh: bool) -> dict[str, Any]:
        try:
            return self._decode(token, refresh)
        except jwt.PyJWTError as exc:
            raise TokenRejected(str(exc)) from exc
        except RecursionError as exc:
            raise TokenRejected("JSON nested too deep") from exc

    def _decode(self, token: str, refresh: bool) -> dict[str, Any]:
        if not isinstance(token, str):
            raise TokenRejected(f"a token is a str, got {type(token).__name__}")
        _check_segments(token)
        header = self._header(token)
        if (header.get("typ") == REFRESH_TYP) != refresh:
            raise TokenRejected("a refresh token is not an access token, nor the reverse")
        key, alg = self._key_for(header)
        claims = self._signed(token, key, alg)
        self._check_times(claims)
        return claims

    def _header(self, token: str) -> dict[str, Any]:
        return jwt.get_unverified_header(token)

    def _signed(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        """The claims, once PyJWT has checked the signature, aud, iss and required claims."""
        return self._pyjwt.decode(
            token,
            key.key,
            algorithms=[alg],
            leeway=self._leeway,
            audience=self._audience,
            issuer=self._issuer,
            options={
                "require": self._require,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )

    def _key_for(self, header: dict[str, Any]) -> tuple[jwt.PyJWK, str]:
        kid = header.get("kid")
        if kid == self._session_kid:
            return self._session_key, "HS256"
        if kid is None and len(self._keys) == 1:
            kid = next(iter(self._keys))
        if not isinstance(kid, str) or kid not in self._keys:
            raise TokenRejected(f"no configured key has kid {kid!r}")
        key = self._keys[kid]
        alg = key.algorithm_name
        if alg not in self._algorithms or header.get("alg") != alg:
            raise TokenRejected(f"key {kid!r} serves {alg}, not {header.get('alg')!r}")
        return key, alg

    def _check_times(self, claims: dict[str, Any]) -> None:
        now, leeway = self._now(), self._leeway
        for name in TIME_CLAIMS:
            if name in claims and not _is_numeric_date(claims[name]):
                raise TokenRejected(f"{name} must be a NumericDate, got {claims[name]!r}")
        if "exp" in claims and now >= claims["exp"] + leeway:
            raise TokenRejected("expired")
        if "nbf" in claims and now < claims["nbf"] - leeway:
            raise TokenRejected("not yet valid (nbf)")
        if "iat" in claims and claims["iat"] > now + leeway:
            raise TokenRejected("issued in the future (iat)")

    # -------------------------------------------------------------------- issue

    def issue(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        signing = _import_key(key)
        return jwt.encode(claims, signing.key, algorithm=key["alg"], headers={"kid": key["kid"]})

    # --------------------------------------------------------------- revocation

    def revoke(self, token: str) -> None:
        claims = self.verify(token)
        if "exp" not in claims:
            raise TokenRejected("a token without exp cannot be revoked for a bounded time")
        self._store.deny(_token_id(token), claims["exp"] - self._now())

    # ------------------------------------------------------------------ refresh

    def login(self, claims: dict[str, Any]) -> tuple[str, str]:
        family, jti = secrets.token_hex(16), secrets.token_hex(16)
        self._store.start_family(family, jti, REFRESH_LIFETIME)
        return self._pair(claims, family, jti)

    def refresh(self, refresh_token: str) -> tuple[str, str]:
        claims = self._verified(refresh_token, refresh=True)
        family, jti = claims.get("fam"), claims.get("jti")
        if not isinstance(family, str) or not isinstance(jti, str):
            raise TokenRejected("not a refresh token of this implementation")
        new = secrets.token_hex(16)
        if not self._store.rotate(family, jti, new, REFRESH_LIFETIME):
            raise TokenRejected("refresh token retired or revoked (its family is now revoked)")
        user = {k: v for k, v in claims.items() if k not in ("fam", "jti", "exp", "iat")}
        return self._pair(user, family, new)

    def _pair(self, claims: dict[str, Any], family: str, jti: str) -> tuple[str, str]:
        now = self._now()
        secret = self._session_key.key
        access = jwt.encode(
            {**claims, "iat": now, "exp": now + ACCESS_LIFETIME},
            secret,
            algorithm="HS256",
            headers={"kid": self._session_kid},
        )
        refresh = jwt.encode(
            {**claims, "iat": now, "exp": now + REFRESH_LIFETIME, "fam": family, "jti": jti},
            secret,
            algorithm="HS256",
            headers={"kid": self._session_kid, "typ": REFRESH_TYP},
        )
        return access, refresh


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


#: What both references declare besides the clock.
CAPABILITIES = frozenset({*JWT_ALGORITHMS, "revocation", "refresh"})


def factory(ctx: Context) -> Implementation:
    """In-process reference: clients share one store and one session key; time from ctx.clock."""
    now = now_source(ctx, injectable=True)
    store = MemoryStore(now)
    secret = secrets.token_bytes(32)
    return Implementation(
        client=lambda: Verifier(now, store, secret),
        capabilities=CAPABILITIES | {"injectable-clock"},
        package="PyJWT",
        description="in-memory reference (PyJWT, kid lookup, own time checks, dict denylist)",
    )

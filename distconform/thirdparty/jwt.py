"""Adapters for third-party JWT libraries (spec/jwt.md).

Registered names (pyproject ``distconform.implementations``):

=====================  ==================================================================
``pyjwt``              ``jwt.decode(token, key, algorithms=..., audience=..., issuer=...,
                       leeway=..., options={"require": [...]})``, the key found by kid
                       in a ``PyJWKSet`` as ``PyJWKClient`` finds it
``pyjwt-strict``       the same on ``PyJWT(options={"enforce_minimum_key_length": True})``
                       (by default a short HMAC key only warns)
``python-jose``        ``jose.jwt.decode(token, jwks, algorithms=..., audience=...,
                       issuer=..., options={"leeway": ..., "require_<claim>": True})``
``joserfc``            ``joserfc.jwt.decode(token, KeySet, algorithms=...)`` then
                       ``JWTClaimsRegistry(leeway=..., aud=..., iss=...,
                       <claim>={"essential": True}).validate(claims)``
``jwcrypto``           ``jwcrypto.jwt.JWT(algs=..., check_claims=...).deserialize(token, JWKSet)``
                       with its default leeway (60 s)
``jwcrypto-strict``    the same with ``leeway`` set to the configured one (0 by default)
``authlib``            ``authlib.jose.jwt.decode(token, KeySet, claims_options=...)`` then
                       ``claims.validate(leeway=...)``: the module's default instance, which
                       accepts every algorithm it registers, whatever ``configure`` allows
``authlib-strict``     ``JsonWebToken(algorithms).decode(...)``: the configured list pinned
=====================  ==================================================================

How the suite's interface maps, the same way for all:

- ``configure(algorithms, keys, leeway, audience, issuer, require)`` keeps the
  policy and imports the JWK Set with the library's own importer; the
  library's verification call then gets each item as its documentation shows.
  A ``require`` name the library can only require through a registered-claim
  option (python-jose) is passed that way.
- ``verify`` maps the library's documented base error to ``TokenRejected``
  (PyJWT ``PyJWTError``; python-jose ``JOSEError``; joserfc ``JoseError``;
  jwcrypto ``JWException``; Authlib ``JoseError``). Anything else escapes: a
  crash, judged by the clause under test.
- ``issue`` signs with the library's encode call and puts ``kid`` in the header;
  the library's documented errors become TokenRejected there too.
- jwcrypto checks ``exp`` and ``nbf`` only when ``check_claims`` is None; with
  an audience, issuer or required claims the adapter names ``exp`` in it
  (``{"exp": None, ...}``, which also requires it) and ``nbf`` goes unchecked.
- Documented ``ValueError`` refusals count as refusals for jwcrypto
  (``JWT.deserialize``) and Authlib (``KeySet.find_by_kid``, the size limit).
- Time: joserfc's registry and Authlib's ``validate`` take ``now``; they are
  given ``int(ctx.clock.now())`` (``injectable-clock``), the value each
  computes from ``time.time()`` when given none. The others read the
  process's time, which the suite sets with time-machine.
- Algorithms declared: those each library documents and this suite tests;
  python-jose offers no PS256 nor EdDSA.
- No library offers a denylist or refresh rotation: ``revocation`` and
  ``refresh`` are not declared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from distconform.api import Context, Implementation
from distconform.mechanisms import JWT_ALGORITHMS
from distconform.protocols import TokenRejected
from distconform.reference.jwt.memory import now_source
from distconform.thirdparty import _require

__all__ = [
    "authlib",
    "authlib_strict",
    "joserfc",
    "jwcrypto",
    "jwcrypto_strict",
    "pyjwt",
    "pyjwt_strict",
    "python_jose",
]


class _Adapter:
    """The policy from ``configure``; ``verify`` maps the library's errors to TokenRejected."""

    #: The library's documented base class of refusals.
    errors: tuple[type[BaseException], ...] = ()

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now

    def configure(
        self,
        algorithms: Sequence[str],
        keys: dict[str, Any],
        leeway: float = 0,
        audience: str | None = None,
        issuer: str | None = None,
        require: Sequence[str] = (),
    ) -> None:
        self.algorithms = list(algorithms)
        self.leeway = leeway
        self.audience, self.issuer, self.require = audience, issuer, list(require)
        self.keys = self.import_keys(keys)

    def import_keys(self, keys: dict[str, Any]) -> Any:
        raise NotImplementedError

    def verify(self, token: str) -> dict[str, Any]:
        try:
            return self.decode(token)
        except self.errors as exc:
            raise TokenRejected(f"{type(exc).__name__}: {exc}") from exc

    def decode(self, token: str) -> dict[str, Any]:
        raise NotImplementedError

    def issue(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        try:
            return self.sign(claims, key)
        except self.errors as exc:
            raise TokenRejected(f"{type(exc).__name__}: {exc}") from exc

    def sign(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        raise NotImplementedError


def _implementation(
    make: Callable[[Callable[[], float]], _Adapter],
    ctx: Context,
    package: str,
    description: str,
    algorithms: Sequence[str] = JWT_ALGORITHMS,
    clock: bool = False,
    notes: dict[str, str] | None = None,
) -> Implementation:
    now = now_source(ctx, injectable=clock)
    caps = set(algorithms) | ({"injectable-clock"} if clock else set())
    return Implementation(
        client=lambda: make(now),
        capabilities=frozenset(caps),
        package=package,
        description=description,
        notes=notes or {},
    )


# -------------------------------------------------------------------- PyJWT


class _PyJWT(_Adapter):
    #: PyJWT's options beyond the defaults (pyjwt-strict).
    extra: dict[str, Any] = {}

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__(now)
        self.lib = _require("jwt", "PyJWT")
        self.errors = (self.lib.PyJWTError,)
        self.api = self.lib.PyJWT(options=self.extra)

    def import_keys(self, keys: dict[str, Any]) -> Any:
        return self.lib.PyJWKSet.from_dict(keys)

    def decode(self, token: str) -> dict[str, Any]:
        # As PyJWKClient.get_signing_key_from_jwt: the header's kid, matched exactly.
        kid = self.lib.get_unverified_header(token).get("kid")
        matches = [k for k in self.keys.keys if k.key_id == kid]
        if not matches:
            raise TokenRejected(f"no key with kid {kid!r}")
        return self.api.decode(  # type: ignore[no-any-return]
            token,
            matches[0],
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": self.require},
        )

    def sign(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        signing = self.lib.PyJWK(key)
        return self.api.encode(  # type: ignore[no-any-return]
            claims, signing, algorithm=key["alg"], headers={"kid": key["kid"]}
        )


class _PyJWTStrict(_PyJWT):
    extra = {"enforce_minimum_key_length": True}


def pyjwt(ctx: Context) -> Implementation:
    """PyJWT's ``jwt.decode`` with every check its docs name, keys by kid as ``PyJWKClient``."""
    return _implementation(_PyJWT, ctx, "PyJWT", "PyJWT jwt.decode, PyJWKSet by kid")


def pyjwt_strict(ctx: Context) -> Implementation:
    """PyJWT with ``enforce_minimum_key_length``: short HMAC keys refused, not only warned of."""
    return _implementation(_PyJWTStrict, ctx, "PyJWT", "PyJWT, enforce_minimum_key_length=True")


# -------------------------------------------------------------- python-jose

#: python-jose requires a claim through an option per registered claim.
_JOSE_REQUIRABLE = ("aud", "iat", "exp", "nbf", "iss", "sub", "jti")


class _Jose(_Adapter):
    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__(now)
        self.jwt = _require("jose.jwt", "python-jose")
        self.errors = (_require("jose.exceptions", "python-jose").JOSEError,)

    def import_keys(self, keys: dict[str, Any]) -> Any:
        return keys  # python-jose takes a JWK Set dict as the key

    def decode(self, token: str) -> dict[str, Any]:
        options: dict[str, Any] = {"leeway": self.leeway}
        options |= {f"require_{c}": True for c in self.require if c in _JOSE_REQUIRABLE}
        return self.jwt.decode(  # type: ignore[no-any-return]
            token,
            self.keys,
            algorithms=self.algorithms,
            audience=self.audience,
            issuer=self.issuer,
            options=options,
        )

    def sign(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        return self.jwt.encode(  # type: ignore[no-any-return]
            claims, key, algorithm=key["alg"], headers={"kid": key["kid"]}
        )


def python_jose(ctx: Context) -> Implementation:
    """python-jose's ``jwt.decode`` with the JWK Set dict as its key (it has no PS256, EdDSA)."""
    return _implementation(
        _Jose,
        ctx,
        "python-jose",
        "python-jose jwt.decode with a JWK Set",
        algorithms=("HS256", "HS384", "HS512", "RS256", "ES256"),
        notes={
            "JWT-15": "adapter: python-jose can require registered claims only",
            "JWT-1": "library: a JWK Set is tried key by key, kid ignored; a key of "
            "another type raises JWKError instead of being skipped",
        },
    )


# ------------------------------------------------------------------ joserfc


class _Joserfc(_Adapter):
    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__(now)
        self.jwt = _require("joserfc.jwt", "joserfc")
        self.jwk = _require("joserfc.jwk", "joserfc")
        self.errors = (_require("joserfc.errors", "joserfc").JoseError,)

    def import_keys(self, keys: dict[str, Any]) -> Any:
        return self.jwk.KeySet.import_key_set(keys)

    def decode(self, token: str) -> dict[str, Any]:
        decoded = self.jwt.decode(token, self.keys, algorithms=self.algorithms)
        options: dict[str, Any] = {c: {"essential": True} for c in self.require}
        if self.audience is not None:
            options["aud"] = {"essential": True, "value": self.audience}
        if self.issuer is not None:
            options["iss"] = {"essential": True, "value": self.issuer}
        registry = self.jwt.JWTClaimsRegistry(
            now=lambda: int(self.now()), leeway=self.leeway, **options
        )
        registry.validate(decoded.claims)
        return decoded.claims  # type: ignore[no-any-return]

    def sign(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        signing = self.jwk.import_key(key)
        header = {"alg": key["alg"], "kid": key["kid"]}
        return self.jwt.encode(header, claims, signing, algorithms=[key["alg"]])  # type: ignore[no-any-return]


def joserfc(ctx: Context) -> Implementation:
    """joserfc's ``jwt.decode`` then ``JWTClaimsRegistry.validate``, as its docs pair them."""
    return _implementation(
        _Joserfc,
        ctx,
        "joserfc",
        "joserfc jwt.decode + JWTClaimsRegistry",
        clock=True,
        notes={
            "JWT-26": "library: now is int(time.time()) by default; the adapter passes the same"
        },
    )


# ----------------------------------------------------------------- jwcrypto


class _Jwcrypto(_Adapter):
    #: None: the library's default leeway (60 s); else the configured one.
    strict = False

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__(now)
        self.jwt = _require("jwcrypto.jwt", "jwcrypto")
        self.jwk = _require("jwcrypto.jwk", "jwcrypto")
        # JWT.deserialize documents ValueError besides JWException.
        self.errors = (_require("jwcrypto.common", "jwcrypto").JWException, ValueError)

    def import_keys(self, keys: dict[str, Any]) -> Any:
        return self.jwk.JWKSet.from_json(json.dumps(keys))

    def decode(self, token: str) -> dict[str, Any]:
        # check_claims=None checks exp and nbf when present; a dict checks only what it
        # names (and requires it), so with a policy exp is named too, as jwcrypto's
        # docs show, and nbf goes unchecked.
        check: dict[str, Any] | None = None
        if self.require or self.audience is not None or self.issuer is not None:
            check = {"exp": None, **{c: None for c in self.require}}
            if self.audience is not None:
                check["aud"] = self.audience
            if self.issuer is not None:
                check["iss"] = self.issuer
        t = self.jwt.JWT(algs=self.algorithms, check_claims=check, expected_type="JWS")
        if self.strict:
            t.leeway = self.leeway
        t.deserialize(token, self.keys)
        return json.loads(t.claims)  # type: ignore[no-any-return]

    def sign(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        signing = self.jwk.JWK(**key)
        t = self.jwt.JWT(header={"alg": key["alg"], "kid": key["kid"]}, claims=claims)
        t.make_signed_token(signing)
        return t.serialize()  # type: ignore[no-any-return]


class _JwcryptoStrict(_Jwcrypto):
    strict = True


def jwcrypto(ctx: Context) -> Implementation:
    """jwcrypto's ``JWT(...)`` with its default leeway of 60 s (the ``leeway`` attribute)."""
    return _implementation(
        _Jwcrypto,
        ctx,
        "jwcrypto",
        "jwcrypto JWT, default leeway 60 s",
        notes={
            "JWT-8": "library default: 60 s of leeway (jwcrypto-strict sets the configured one)",
            "JWT-10": "library default: 60 s of leeway, not the configured (see jwcrypto-strict)",
        },
    )


def jwcrypto_strict(ctx: Context) -> Implementation:
    """jwcrypto with ``leeway`` set to the configured one (0 unless configured)."""
    return _implementation(_JwcryptoStrict, ctx, "jwcrypto", "jwcrypto JWT, leeway as configured")


# ------------------------------------------------------------------ Authlib


class _Authlib(_Adapter):
    #: True: a JsonWebToken pinned to the configured algorithms; False: the module's instance.
    strict = False

    def __init__(self, now: Callable[[], float]) -> None:
        super().__init__(now)
        self.jose = _require("authlib.jose", "Authlib")
        # KeySet.find_by_kid documents ValueError (no key with the kid), and a token
        # over JsonWebSignature.MAX_CONTENT_LENGTH is refused with ValueError.
        self.errors = (_require("authlib.jose.errors", "Authlib").JoseError, ValueError)

    def import_keys(self, keys: dict[str, Any]) -> Any:
        return self.jose.JsonWebKey.import_key_set(keys)

    def decode(self, token: str) -> dict[str, Any]:
        options: dict[str, Any] = {c: {"essential": True} for c in self.require}
        if self.audience is not None:
            options["aud"] = {"essential": True, "value": self.audience}
        if self.issuer is not None:
            options["iss"] = {"essential": True, "value": self.issuer}
        jwt = self.jose.JsonWebToken(self.algorithms) if self.strict else self.jose.jwt
        claims = jwt.decode(token, self.keys, claims_options=options)
        claims.validate(now=int(self.now()), leeway=self.leeway)
        return dict(claims)

    def sign(self, claims: dict[str, Any], key: dict[str, Any]) -> str:
        signing = self.jose.JsonWebKey.import_key(key)
        header = {"alg": key["alg"], "kid": key["kid"]}
        jwt = self.jose.JsonWebToken([key["alg"]])
        return jwt.encode(header, claims, signing).decode()  # type: ignore[no-any-return]


class _AuthlibStrict(_Authlib):
    strict = True


def authlib(ctx: Context) -> Implementation:
    """Authlib's module-level ``authlib.jose.jwt`` (every algorithm it registers allowed)."""
    return _implementation(
        _Authlib, ctx, "Authlib", "Authlib authlib.jose.jwt, default instance", clock=True
    )


def authlib_strict(ctx: Context) -> Implementation:
    """Authlib's ``JsonWebToken(algorithms)``: the configured algorithms pinned."""
    return _implementation(
        _AuthlibStrict, ctx, "Authlib", "Authlib JsonWebToken(algorithms)", clock=True
    )

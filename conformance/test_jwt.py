"""Conformance tests for JWT verification: spec/jwt.md.

Every test names its clauses; each runs against every selected implementation,
with every algorithm the implementation declares that the clause concerns.

Verdicts. ``verify`` either returns the claims or raises ``TokenRejected``
(the adapter's mapping of the library's documented refusal). :func:`refuses`
fails the clause when a bad token is accepted *or* when ``verify`` raises
anything else: a crash is not a refusal (an ``AssertionError`` says which).
After refusals, :func:`still` probes that the client was left as it was: a
good token still verifies and the refused ones are still refused.

Time. Every test starts at ``T0``, a fixed instant, and moves time by
setting it, never by sleeping: an implementation that declares
``injectable-clock`` is rebuilt on a :class:`SetClock`; any other runs under
``time-machine`` (``tick=False``), which replaces ``time.time``,
``datetime.now`` and friends in this process and its threads. So a boundary
is checked at the exact instant (``exp`` itself, and half a second on each
side), with no margin of real seconds.

Tokens the libraries refuse to make come from :mod:`jwt_forge`.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from distconform.conformance import jwt_forge as forge
from distconform.conformance.jwt_forge import Key, b64, jwks, make_key
from distconform.mechanisms import JWT_ALGORITHMS
from distconform.plugin import NOT_APPLICABLE, Subject
from distconform.protocols import TokenRejected

MECHANISM = "jwt"
clause = pytest.mark.clause

#: The instant every test starts at (2027-01-15 08:00 UTC): later than any real
#: clock running these tests today, so a verifier that ignored the moved time
#: and read the real one would be caught by the boundary tests.
T0 = 1_800_000_000
#: Lifetime of the ordinary tokens the tests make.
LIFE = 300
AUDIENCE = "api.example.com"
ISSUER = "https://issuer.example"
#: Algorithms that share key material: a key of one signs validly under the others.
SIBLINGS = {
    "HS256": ("HS384", "HS512"),
    "HS384": ("HS256", "HS512"),
    "HS512": ("HS256", "HS384"),
    "RS256": ("PS256",),
    "PS256": ("RS256",),
}
ASYMMETRIC = ("RS256", "PS256", "ES256", "EdDSA")


class SetClock:
    """A clock the test sets to any instant, forward or back (POSIX seconds)."""

    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now

    def set(self, t: float) -> None:
        self._now = t

    def sleep(self, seconds: float) -> None:
        self._now += max(0.0, seconds)


class Env:
    """The implementation under test at a time the test sets (see the module docstring)."""

    def __init__(self, impl: Subject) -> None:
        self.impl = impl
        self.clock: SetClock | None = None
        self._travel: Any = None
        if impl.has("injectable-clock"):
            self.clock = SetClock(T0)
            ctx = dataclasses.replace(impl.ctx, clock=self.clock)
            self.subject = Subject(
                impl.adapter, impl.adapter.build(ctx), ctx, impl.mechanism, impl.call_timeout
            )
        else:
            self.subject = impl
            self._traveller = time_machine.travel(T0, tick=False)
            self._travel = self._traveller.start()

    @property
    def algorithms(self) -> list[str]:
        return [a for a in JWT_ALGORITHMS if self.impl.has(a)]

    def at(self, t: float) -> None:
        if self.clock is not None:
            self.clock.set(t)
        else:
            self._travel.move_to(t)

    def verifier(
        self, algorithms: list[str], keys: list[Key], raw: bool = False, **policy: Any
    ) -> Any:
        """A configured client; ``raw``: without the time-limit proxy (its worker thread)."""
        c = self.subject.impl.client() if raw else self.subject.client()
        c.configure(algorithms, jwks(*keys), **policy)
        return c

    def close(self) -> None:
        if self.subject is not self.impl:
            self.subject.close()
        if self._travel is not None:
            self._traveller.stop()


@pytest.fixture(name="env")
def env_fixture(impl: Subject) -> Iterator[Env]:
    """The implementation under test at T0, on a set clock or under time-machine."""
    e = Env(impl)
    try:
        yield e
    finally:
        e.close()


def claims(**extra: Any) -> dict[str, Any]:
    """An ordinary claims set, valid at T0 for LIFE seconds."""
    return {"sub": "user-1", "iat": T0, "exp": T0 + LIFE, **extra}


def _call(c: Any, token: str) -> tuple[str, Any]:
    try:
        return "accepted", c.verify(token)
    except TokenRejected as exc:
        return "refused", exc
    except Exception as exc:
        return "crashed", exc


def accepts(c: Any, token: str, repro: str) -> dict[str, Any]:
    outcome, got = _call(c, token)
    assert outcome == "accepted", (
        f"repro: {repro}: verify {outcome}: {got!r}; token {_short(token)}"
    )
    return got  # type: ignore[no-any-return]


def refuses(c: Any, token: str, repro: str) -> None:
    outcome, got = _call(c, token)
    if outcome == "crashed":
        pytest.fail(
            f"repro: {repro}: verify crashed with {type(got).__name__}: {got} (not a documented "
            f"refusal, TokenRejected); token {_short(token)}",
            pytrace=False,
        )
    assert outcome == "refused", (
        f"repro: {repro}: verify accepted it: {got!r}; token {_short(token)}"
    )


def still(c: Any, good: str, refused: list[str], repro: str) -> None:
    """The probe after refusals: the good token verifies, the refused ones stay refused."""
    accepts(c, good, f"{repro}; then a valid token")
    for t in refused:
        refuses(c, t, f"{repro}; then the refused token again")


def _short(token: str) -> str:
    return token if len(token) <= 160 else f"{token[:150]}... ({len(token)} chars)"


def one_alg(env: Env) -> str:
    """An algorithm the implementation declares (HS256 first: the cheapest)."""
    if not env.algorithms:
        pytest.fail("the implementation declares no algorithm capability (HS256, RS256 ...)")
    return env.algorithms[0]


def single(env: Env, **policy: Any) -> tuple[Any, Key]:
    """A client configured with one algorithm the implementation declares and one key of it."""
    key = make_key(one_alg(env))
    return env.verifier([key.alg], [key], **policy), key


# --------------------------------------------------------------------- JWT-1


def _rich_claims() -> dict[str, Any]:
    """Many claims of every JSON type, unicode and large numbers among them."""
    out: dict[str, Any] = claims(aud=None)
    del out["aud"]
    for i in range(60):
        out[f"c{i}"] = [
            i,
            -(2**53) + i,
            i / 7,
            f"välue-{i}-✓",
            i % 2 == 0,
            None,
            [i, {"n": i}],
            {"deep": {"er": [i, "x"]}},
        ][i % 8]
    return out


@clause("JWT-1")
def test_round_trip_every_algorithm(env: Env) -> None:
    """issue() and the suite's forger both make tokens that verify to the same claims."""
    keys = [make_key(a, i) for a in env.algorithms for i in (0, 1)]
    c = env.verifier(env.algorithms, keys)
    body = _rich_claims()
    for k in keys:
        issued = env.subject.client().issue(body, k.private_jwk())
        got = accepts(c, issued, f"issue(claims, {k.kid}) with {k.alg}; verify")
        assert got == body, f"repro: issue with {k.alg} then verify: claims changed: {got!r}"
        got = accepts(c, forge.forge(body, k), f"a token the suite signed with {k.kid} ({k.alg})")
        assert got == body, f"repro: suite token with {k.alg}: claims changed: {got!r}"


# --------------------------------------------------------------------- JWT-2


def _tampered(token: str, key: Key) -> dict[str, str]:
    h, p, s = token.split(".")
    sig = forge.unb64(s)
    flipped = bytes([sig[0] ^ 1]) + sig[1:]
    retyped = b64(json.dumps({**json.loads(forge.unb64(h)), "typ": "at+jwt"}).encode())
    other = make_key(key.alg, 1)
    return {
        "payload with sub changed": f"{h}.{b64(json.dumps(claims(sub='admin')).encode())}.{s}",
        "payload with exp later": f"{h}.{b64(json.dumps(claims(exp=T0 + 10**6)).encode())}.{s}",
        "header with typ changed": f"{retyped}.{p}.{s}",
        "signature with one bit flipped": f"{h}.{p}.{b64(flipped)}",
        "signature truncated": f"{h}.{p}.{b64(sig[:-1])}",
        "signature empty": f"{h}.{p}.",
        "signed by another key of the algorithm": forge.forge(claims(), other.with_kid(key.kid)),
    }


@clause("JWT-2")
def test_altered_token_refused(env: Env) -> None:
    for alg in env.algorithms:
        key = make_key(alg)
        c = env.verifier([alg], [key])
        good = forge.forge(claims(), key)
        bad = _tampered(good, key)
        for what, token in bad.items():
            refuses(c, token, f"{alg}: a valid token, {what}")
        still(c, good, list(bad.values()), f"{alg}: altered tokens")


# --------------------------------------------------------------------- JWT-3


@clause("JWT-3")
def test_algorithm_outside_the_list_refused(env: Env) -> None:
    """A token signed validly under an algorithm the verifier was not configured for."""
    algs = env.algorithms
    tried = 0
    for alg in algs:
        key = make_key(alg)
        good = forge.forge(claims(), key)
        # The same key material under a sibling algorithm (HS384 for an HS256 secret).
        for sibling in SIBLINGS.get(alg, ()):
            c = env.verifier([alg], [key])
            token = forge.forge(claims(), key, alg=sibling)
            refuses(c, token, f"configure([{alg}]); token signed {sibling} with the {alg} key")
            still(c, good, [token], f"{alg}: {sibling} token")
            tried += 1
        # Another configured key whose algorithm is not in the list.
        for other in algs:
            if other == alg:
                continue
            okey = make_key(other, 2)
            c = env.verifier([alg], [key, okey])
            token = forge.forge(claims(), okey)
            refuses(c, token, f"configure([{alg}], keys of {alg} and {other}); {other} token")
            still(c, good, [token], f"{alg}: {other} token")
            tried += 1
    assert tried, "setup: no algorithm with a sibling and only one declared algorithm"


# --------------------------------------------------------------------- JWT-4


@clause("JWT-4")
def test_alg_none_refused(env: Env) -> None:
    for alg in env.algorithms:
        key = make_key(alg)
        c = env.verifier([alg], [key])
        good = forge.forge(claims(), key)
        bad = []
        for variant in ("none", "None", "NONE", "nOnE"):
            unsigned = forge.forge(claims(), key, alg=variant)
            bad += [unsigned, unsigned + b64(b"\x00" * 32), unsigned.rsplit(".", 1)[0]]
        bad.append(forge.forge(claims(), key, alg="none", header={"kid": None}))
        for token in bad:
            refuses(c, token, f"configure([{alg}]); an alg none token")
        still(c, good, bad, f"{alg}: none tokens")


# --------------------------------------------------------------------- JWT-5


@clause("JWT-5")
def test_hmac_keyed_with_public_key_refused(env: Env) -> None:
    asym = [a for a in env.algorithms if a in ASYMMETRIC]
    if not asym:
        pytest.skip(f"{NOT_APPLICABLE}: JWT-5 needs an asymmetric algorithm besides HS256")
    hs = make_key("HS256")
    for alg in asym:
        key = make_key(alg)
        c = env.verifier(["HS256", alg], [hs, key])
        good = forge.forge(claims(), key)
        jwk_text = json.dumps(key.public_jwk())
        secrets = {
            "PEM": key.public_pem(),
            "PEM without its last newline": key.public_pem().rstrip(b"\n"),
            "DER": key.public_der(),
            "JWK JSON": jwk_text.encode(),
        }
        bad = []
        for what, secret in secrets.items():
            token = forge.forge(claims(), key, alg="HS256", secret=secret)
            refuses(c, token, f"configure([HS256, {alg}]); HS256 keyed with the {alg} key's {what}")
            bad.append(token)
        still(c, good, bad, f"{alg}: HS256 with public key bytes")
        accepts(c, forge.forge(claims(), hs), "then a genuine HS256 token")


# --------------------------------------------------------------------- JWT-6


@clause("JWT-6")
def test_kid_names_the_key(env: Env) -> None:
    alg = one_alg(env)
    k0, k1 = make_key(alg, 0, kid="key-a"), make_key(alg, 1, kid="keys/key-b")
    c = env.verifier([alg], [k0, k1])
    good = forge.forge(claims(), k0)
    cases = {
        "unknown kid": forge.forge(claims(), k0.with_kid("key-c")),
        "kid ../key-a": forge.forge(claims(), k0.with_kid("../key-a")),
        "kid keys/../key-a": forge.forge(claims(), k0.with_kid("keys/../key-a")),
        "kid key-a + NUL": forge.forge(claims(), k0.with_kid("key-a\x00")),
        "kid KEY-A": forge.forge(claims(), k0.with_kid("KEY-A")),
        "kid ' key-a'": forge.forge(claims(), k0.with_kid(" key-a")),
        "kid key-b (basename of keys/key-b)": forge.forge(claims(), k1.with_kid("key-b")),
        "kid key-a, signed by keys/key-b": forge.forge(claims(), k1.with_kid("key-a")),
        "kid keys/key-b, signed by key-a": forge.forge(claims(), k0.with_kid("keys/key-b")),
        "no kid, two keys": forge.forge(claims(), k0, header={"kid": None}),
    }
    for what, token in cases.items():
        refuses(c, token, f"configure([{alg}], keys key-a and keys/key-b); {what}")
    still(c, good, list(cases.values()), "kid cases")
    accepts(c, forge.forge(claims(), k1), "then a genuine keys/key-b token")


# ---------------------------------------------------------------- JWT-7, 8


def judge_at(env: Env, c: Any, token: str, cases: list[tuple[float, bool]], what: str) -> None:
    """At each instant of ``cases``, the token is accepted (True) or refused (False)."""
    for t, ok in cases:
        env.at(t)
        (accepts if ok else refuses)(c, token, f"{what}, now = T0 + {t - T0}")


@clause("JWT-7")
def test_exp_boundary(env: Env) -> None:
    c, key = single(env)
    token = forge.forge(claims(exp=T0 + 100), key)
    cases = [(T0 + 99, True), (T0 + 99.5, True), (T0 + 100, False), (T0 + 100.5, False)]
    judge_at(env, c, token, cases, "exp = T0 + 100, leeway 0")


@clause("JWT-8")
def test_nbf_boundary(env: Env) -> None:
    c, key = single(env)
    token = forge.forge(claims(nbf=T0 + 100), key)
    cases = [(T0 + 99, False), (T0 + 99.5, False), (T0 + 100, True)]
    judge_at(env, c, token, cases, "nbf = T0 + 100, leeway 0")


@clause("JWT-26")
def test_fractional_dates(env: Env) -> None:
    c, key = single(env)
    exp_token = forge.forge(claims(exp=T0 + 200.5), key)
    judge_at(env, c, exp_token, [(T0 + 200, True), (T0 + 200.5, False)], "exp = T0 + 200.5")
    nbf_token = forge.forge(claims(nbf=T0 + 200.5), key)
    judge_at(env, c, nbf_token, [(T0 + 200, False), (T0 + 200.5, True)], "nbf = T0 + 200.5")


# --------------------------------------------------------------------- JWT-9


@clause("JWT-9")
def test_time_claims_must_be_numeric_dates(env: Env) -> None:
    c, key = single(env)
    alg = key.alg
    good = forge.forge(claims(), key)
    values: list[Any] = [str(T0 + LIFE), True, None, [T0 + LIFE], {"t": T0 + LIFE}]
    bad = []
    for name, typical in (("exp", T0 + LIFE), ("nbf", T0 - 10), ("iat", T0 - 10)):
        for v in [*values, str(typical)]:
            token = forge.forge({**claims(), name: v}, key)
            refuses(c, token, f"{name} = {json.dumps(v)}")
            bad.append(token)
        # Not JSON numbers at all, but Python's json reads them: NaN and Infinity.
        head = json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid})
        for literal in ("NaN", "Infinity"):
            text = json.dumps({**claims(), name: "?"}).replace('"?"', literal)
            token = forge.raw_token(head, text, alg, key.private)
            refuses(c, token, f"{name} = {literal} (not JSON)")
            bad.append(token)
    still(c, good, bad, "non-numeric dates")


# -------------------------------------------------------------------- JWT-10


@clause("JWT-10")
def test_leeway_both_ways(env: Env) -> None:
    alg = one_alg(env)
    key = make_key(alg)
    leeway = 30
    c = env.verifier([alg], [key], leeway=leeway)
    exp_token = forge.forge(claims(exp=T0 + 100), key)
    nbf_token = forge.forge(claims(nbf=T0 + 200, exp=T0 + 1000), key)
    for t, token, ok, what in [
        (T0 + 129, exp_token, True, "exp = T0 + 100"),
        (T0 + 129.5, exp_token, True, "exp = T0 + 100"),
        (T0 + 130, exp_token, False, "exp = T0 + 100"),
        (T0 + 169, nbf_token, False, "nbf = T0 + 200"),
        (T0 + 169.5, nbf_token, False, "nbf = T0 + 200"),
        (T0 + 170, nbf_token, True, "nbf = T0 + 200"),
    ]:
        env.at(t)
        (accepts if ok else refuses)(c, token, f"leeway {leeway}, {what}, now = T0 + {t - T0}")


# -------------------------------------------------------------------- JWT-11


@clause("JWT-11")
def test_iat_in_the_future_refused(env: Env) -> None:
    c, key = single(env)
    token = forge.forge(claims(iat=T0 + 100), key)
    env.at(T0 + 99)
    refuses(c, token, "iat = T0 + 100, now = T0 + 99, leeway 0")
    env.at(T0 + 100)
    accepts(c, token, "iat = T0 + 100, now = T0 + 100, leeway 0")


# -------------------------------------------------------------- JWT-12, 13


@clause("JWT-12")
def test_audience_exact_match(env: Env) -> None:
    c, key = single(env, audience=AUDIENCE)
    for aud in (AUDIENCE, ["other", AUDIENCE], [AUDIENCE]):
        accepts(c, forge.forge(claims(aud=aud), key), f"audience {AUDIENCE!r}; aud {aud!r}")
    bad_values: list[Any] = [
        "api.example",
        AUDIENCE + ".evil.com",
        "https://" + AUDIENCE,
        AUDIENCE.upper(),
        "x" + AUDIENCE,
        [AUDIENCE + "x"],
        ["api", "example.com"],
        [],
        "",
        1,
        {AUDIENCE: 1},
        [[AUDIENCE]],
    ]
    bad = [forge.forge(claims(), key)]
    refuses(c, bad[0], f"audience {AUDIENCE!r}; token without aud")
    for aud in bad_values:
        token = forge.forge(claims(aud=aud), key)
        refuses(c, token, f"audience {AUDIENCE!r}; aud {aud!r}")
        bad.append(token)
    still(c, forge.forge(claims(aud=AUDIENCE), key), bad, "audience mismatches")


@clause("JWT-13")
def test_aud_without_configured_audience_refused(env: Env) -> None:
    c, key = single(env)
    bad = [forge.forge(claims(aud=a), key) for a in ("someone", ["someone", "else"])]
    for token in bad:
        refuses(c, token, "no audience configured; token with aud")
    still(c, forge.forge(claims(), key), bad, "aud without audience")


# -------------------------------------------------------------------- JWT-14


@clause("JWT-14")
def test_issuer_exact_match(env: Env) -> None:
    c, key = single(env, issuer=ISSUER)
    good = forge.forge(claims(iss=ISSUER), key)
    accepts(c, good, f"issuer {ISSUER!r}; iss equal")
    bad = [forge.forge(claims(), key)]
    refuses(c, bad[0], f"issuer {ISSUER!r}; no iss")
    for iss in (ISSUER + "/", ISSUER[:-1], ISSUER.upper(), "x" + ISSUER, [ISSUER], ""):
        token = forge.forge(claims(iss=iss), key)
        refuses(c, token, f"issuer {ISSUER!r}; iss {iss!r}")
        bad.append(token)
    still(c, good, bad, "issuer mismatches")


# -------------------------------------------------------------------- JWT-15


@clause("JWT-15")
def test_required_claims(env: Env) -> None:
    alg = one_alg(env)
    key = make_key(alg)
    require = ["exp", "sub", "jti", "iat"]
    c = env.verifier([alg], [key], require=require)
    good = forge.forge(claims(jti="j1"), key)
    accepts(c, good, f"require {require}; all present")
    bad = []
    for name in require:
        body = {k: v for k, v in claims(jti="j1").items() if k != name}
        token = forge.forge(body, key)
        refuses(c, token, f"require {require}; {name} missing")
        bad.append(token)
    still(c, good, bad, "missing required claims")


# -------------------------------------------------------------------- JWT-16


@clause("JWT-16")
def test_crit_refused(env: Env) -> None:
    c, key = single(env)
    good = forge.forge(claims(), key)
    # Not "crit": [] nor ["alg"]: RFC 7515 forbids producers those, and lets
    # recipients refuse them (MAY), so a verifier that takes them breaks nothing.
    crits: list[dict[str, Any]] = [
        {"crit": ["x-unknown"], "x-unknown": 1},
        {"crit": ["x-unknown"]},
        {"crit": "x-unknown", "x-unknown": 1},
        {"crit": [1]},
        {"crit": {"x-unknown": 1}},
    ]
    bad = []
    for extra in crits:
        token = forge.forge(claims(), key, header=extra)
        refuses(c, token, f"header with {json.dumps(extra)}")
        bad.append(token)
    still(c, good, bad, "crit headers")


# -------------------------------------------------------------------- JWT-17


NOT_UTF8 = b64(b"\xff\xfe{}")


def _malformed(key: Key) -> dict[str, str]:
    alg = key.alg
    good = forge.forge(claims(), key)
    h, p, s = good.split(".")
    head = json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid})
    body = json.dumps(claims())

    def signed(header: str | bytes, payload: str | bytes) -> str:
        return forge.raw_token(header, payload, alg, key.private)

    # A header whose standard base64 has '+' and '/' where base64url has '-' and '_'.
    odd = json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid, "x": "\u00fb\u00ff?>"})
    std = base64.b64encode(odd.encode()).decode().rstrip("=")
    std_token = f"{std}.{p}.{s}"
    out = {
        "empty string": "",
        "one segment": h,
        "two segments": f"{h}.{p}",
        "four segments": f"{good}.{s}",
        "five segments": f"{good}.{s}.{s}",
        "trailing dot": f"{good}.",
        "dots only": "..",
        "standard base64 header (+ and /)": std_token,
        "a space inside the payload": f"{h}.{p[:5]} {p[5:]}.{s}",
        "a non-ASCII character": f"{h}.{p[:5]}\u00e9{p[5:]}.{s}",
        "a character outside base64": f"{h}.{p[:5]}*{p[5:]}.{s}",
        "header not JSON": f"{b64(b'not json')}.{p}.{s}",
        "header not UTF-8": f"{NOT_UTF8}.{p}.{s}",
        "payload not JSON (signed)": signed(head, "not json"),
        "payload not UTF-8 (signed)": signed(head, b'{"sub": "\xff\xfe"}'),
    }
    for what, text in (("array", "[1, 2]"), ("string", '"s"'), ("number", "42"), ("null", "null")):
        out[f"header a JSON {what}"] = f"{b64(text.encode())}.{p}.{s}"
        out[f"payload a JSON {what} (signed)"] = signed(head, text)
    for bad_alg in (123, None, [alg]):
        hdr = json.dumps({"alg": bad_alg, "typ": "JWT", "kid": key.kid})
        out[f"alg {json.dumps(bad_alg)}"] = signed(hdr, body)
    for bad_kid in (123, [key.kid], {"kid": key.kid}):
        hdr = json.dumps({"alg": alg, "typ": "JWT", "kid": bad_kid})
        out[f"kid {json.dumps(bad_kid)}"] = signed(hdr, body)
    return out


@clause("JWT-17")
def test_malformed_tokens_refused_not_crashed(env: Env) -> None:
    for alg in env.algorithms[:2]:
        key = make_key(alg)
        c = env.verifier([alg], [key])
        bad = _malformed(key)
        for what, token in bad.items():
            refuses(c, token, f"{alg}: {what}")
        still(c, forge.forge(claims(), key), list(bad.values()), f"{alg}: malformed tokens")


@clause("JWT-27")
def test_one_spelling_per_token(env: Env) -> None:
    c, key = single(env)
    good = forge.forge(claims(), key)
    h, p, s = good.split(".")
    last = forge.unb64(s)
    # The signature's last base64url character carries unused low bits (an HS256
    # MAC is 32 bytes: 43 characters, 2 bits unused); setting one gives the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    bumped = alphabet[alphabet.index(s[-1]) ^ 1]
    bad = {
        "padding on the header": f"{h}==.{p}.{s}",
        # Padding where the length needs it, else a stray "==": neither is base64url.
        "padding on the signature": f"{h}.{p}.{s}" + ("=" * (-len(s) % 4) or "=="),
    }
    if forge.unb64(s[:-1] + bumped) == last:
        bad["unused bits of the signature set"] = f"{h}.{p}.{s[:-1]}{bumped}"
    for what, token in bad.items():
        refuses(c, token, f"a valid token, {what}")
    still(c, good, list(bad.values()), "re-spelt tokens")


# -------------------------------------------------------------------- JWT-18


@clause("JWT-18")
def test_duplicate_members(env: Env) -> None:
    c, key = single(env)
    alg = key.alg
    head = json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid})
    body = json.dumps(claims())[:-1]
    # exp twice: the first still valid, the last a day past (beyond any leeway, a
    # library's default 60 s included): refused whichever the verifier reads last.
    twice_exp = forge.raw_token(
        head, f'{body}, "exp": {T0 + LIFE}, "exp": {T0 - 86400}}}', alg, key.private
    )
    refuses(c, twice_exp, f"exp twice, first T0 + {LIFE}, last T0 - 86400")
    # alg twice in the header: the last is none.
    twice_alg = head[:-1] + ', "alg": "none"}'
    none_last = forge.raw_token(twice_alg, json.dumps(claims()), alg, key.private)
    refuses(c, none_last, f'header with "alg" twice, "{alg}" then "none"')
    # sub twice: refused, or read as the last.
    twice_sub = forge.raw_token(head, f'{body}, "sub": "first", "sub": "last"}}', alg, key.private)
    outcome, got = _call(c, twice_sub)
    assert outcome != "crashed", f"repro: sub twice: verify crashed with {got!r}"
    if outcome == "accepted":
        assert got["sub"] == "last", (
            f"repro: sub twice, first then last: verify read {got['sub']!r}"
        )
    still(c, forge.forge(claims(), key), [twice_exp, none_last], "duplicate members")


# -------------------------------------------------------------------- JWT-19


@clause("JWT-19")
def test_huge_and_deep_tokens(env: Env) -> None:
    c, key = single(env)
    alg = key.alg
    other = make_key(alg, 1).with_kid(key.kid)
    head = json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid})
    depth = 100_000
    deep = "[" * depth + "]" * depth
    bad = {
        "1 MiB token, signed by another key": forge.forge(claims(pad="x" * 2**20), other),
        f"payload nested {depth} deep (signed)": forge.raw_token(
            head, f'{{"sub": "u", "x": {deep}}}', alg, key.private
        ),
        f"header nested {depth} deep": forge.raw_token(
            head[:-1] + f', "x": {deep}}}', json.dumps(claims()), alg, key.private
        ),
    }
    for what, token in bad.items():
        refuses(c, token, what)
    still(c, forge.forge(claims(), key), list(bad.values()), "huge tokens")


# -------------------------------------------------------------------- JWT-20


@clause("JWT-20")
def test_short_hmac_key_refused(env: Env) -> None:
    short = Key("short", "HS256", b"s3cr3t-16-bytes!")
    c = env.subject.client()
    try:
        c.configure(["HS256"], jwks(short))
    except (ValueError, TypeError, TokenRejected):
        return
    try:
        token = c.issue(claims(), short.private_jwk())
    except (ValueError, TypeError, TokenRejected):
        return
    refuses(c, token, "a 16-byte HS256 key: configure and issue took it; verify")
    refuses(c, forge.forge(claims(), short), "a 16-byte HS256 key; a suite-signed token")


# -------------------------------------------------------------- JWT-21, 22


def _revocation_env(env: Env) -> tuple[Any, Any, Key]:
    alg = one_alg(env)
    key = make_key(alg)
    return env.verifier([alg], [key]), env.verifier([alg], [key]), key


@clause("JWT-21")
def test_revoked_token_refused_everywhere(env: Env) -> None:
    c1, c2, key = _revocation_env(env)
    token = forge.forge(claims(jti="session-1"), key)
    sibling = forge.forge(claims(jti="session-2"), key)
    accepts(c2, token, "before revoke")
    c1.revoke(token)
    h, p, sig = token.split(".")
    spellings = [token, f"{h}.{p}.{sig}=", f"{h}.{p}.{sig}=="]
    for t in (T0, T0 + LIFE / 2, T0 + LIFE - 0.5):
        env.at(t)
        for name, c in (("the revoking client", c1), ("another client", c2)):
            for spelt in spellings:
                refuses(c, spelt, f"revoke(token) at T0; verify by {name} at T0 + {t - T0}")
            accepts(c, sibling, f"revoke(token); another token of the same sub, by {name}")


def _keys_under(env: Env) -> dict[str, int]:
    """Every Redis key of this test's namespace, with its PTTL in ms (-1: none)."""
    from distconform.backends import redis_client

    r = redis_client(env.subject.ctx.redis_url)
    try:
        return {k.decode(): r.pttl(k) for k in r.scan_iter(match=env.subject.ctx.namespace + "*")}
    finally:
        r.close()


@clause("JWT-22")
def test_denylist_entry_lives_as_long_as_the_token(env: Env) -> None:
    c1, c2, key = _revocation_env(env)
    on_redis = "redis" in env.subject.impl.needs and env.subject.ctx.redis_url is not None
    before = _keys_under(env) if on_redis else {}
    # revoke of a token that does not verify: refused, stores nothing.
    for what, token in (
        ("an expired token", forge.forge(claims(exp=T0 - 1), key)),
        (
            "a token signed by another key",
            forge.forge(claims(), make_key(key.alg, 1).with_kid(key.kid)),
        ),
    ):
        try:
            c1.revoke(token)
        except TokenRejected:
            pass
        else:
            pytest.fail(
                f"repro: revoke({what}) returned; it must raise TokenRejected", pytrace=False
            )
    if on_redis:
        stray = set(_keys_under(env)) - set(before)
        assert not stray, f"repro: revoke of tokens that do not verify stored {sorted(stray)}"
    token = forge.forge(claims(exp=T0 + LIFE), key)
    env.at(T0 + 100)
    c1.revoke(token)
    remaining_ms = (LIFE - 100) * 1000
    if on_redis:
        new = {k: v for k, v in _keys_under(env).items() if k not in before}
        assert new, "repro: revoke stored no key under the namespace"
        for k, pttl in new.items():
            # 1 s of slack each way: the TTL may be rounded to whole seconds.
            assert remaining_ms - 1000 <= pttl <= remaining_ms + 1000, (
                f"repro: revoke at T0 + 100 of a token with exp T0 + {LIFE}: key {k} has "
                f"PTTL {pttl} ms, expected about {remaining_ms} (the remaining lifetime; -1: none)"
            )
    env.at(T0 + LIFE - 0.5)
    refuses(c2, token, f"revoked at T0 + 100, exp T0 + {LIFE}; verify at exp - 0.5 s")


@clause("JWT-28")
def test_denylist_store_unreachable_fails_closed(env: Env) -> None:
    """Connections to the store reset: every verify refused; back: the revocation held."""
    backend = "redis" if "redis" in env.subject.impl.needs else None
    if backend is None:
        # An in-process denylist is never out of reach: the clause holds vacuously.
        pytest.skip(f"{NOT_APPLICABLE}: the denylist is in-process, no store to lose")
    proxied, proxy = env.subject.via_proxy(backend)
    alg = one_alg(env)
    key = make_key(alg)
    c = proxied.client()
    c.configure([alg], jwks(key))
    revoked = forge.forge(claims(jti="gone"), key)
    good = forge.forge(claims(jti="kept"), key)
    c.revoke(revoked)
    proxy.refuse(True)
    proxy.cut()
    for what, token in (("a revoked token", revoked), ("a valid token", good)):
        refuses(c, token, f"revoke; store connections reset; verify {what} (must fail closed)")
    proxy.reset()
    still(c, good, [revoked], "store back after the outage")


# ---------------------------------------------------------- JWT-23, 24, 25


def _refresh_client(env: Env) -> Any:
    alg = one_alg(env)
    return env.verifier([alg], [make_key(alg)])


@clause("JWT-23")
def test_refresh_rotates(env: Env) -> None:
    c = _refresh_client(env)
    access, r0 = c.login({"sub": "user-1"})
    accepts(c, access, "login(); verify(access)")
    access1, r1 = c.refresh(r0)
    assert r1 != r0, "repro: login(); refresh(r0) returned r0 itself as the new refresh token"
    got = accepts(c, access1, "login(); refresh(r0); verify(new access)")
    assert got.get("sub") == "user-1", f"repro: refresh lost the claims: {got!r}"
    refresh_refused(c, r0, "login(); refresh(r0); refresh(r0) again")


def refresh_refused(c: Any, token: str, repro: str) -> None:
    """``refresh(token)`` raises TokenRejected (a crash or an answer fails the clause)."""
    try:
        got = c.refresh(token)
    except TokenRejected:
        return
    except Exception as exc:
        pytest.fail(f"repro: {repro}: refresh crashed with {exc!r}", pytrace=False)
    pytest.fail(f"repro: {repro}: refresh accepted it and returned {got!r}", pytrace=False)


@clause("JWT-24")
def test_refresh_reuse_revokes_the_family(env: Env) -> None:
    c = _refresh_client(env)
    other = env.subject.client()
    other.configure(*_same_config(env))
    _, r0 = c.login({"sub": "user-1"})
    _, s0 = c.login({"sub": "user-2"})
    _, r1 = c.refresh(r0)
    refresh_refused(other, r0, "login() -> r0; refresh(r0); refresh(r0) by another client")
    refresh_refused(
        c, r1, "login() -> r0; refresh(r0) -> r1; refresh(r0) (reuse); refresh(r1): the family"
    )
    c.refresh(s0)  # another family keeps working


def _same_config(env: Env) -> tuple[list[str], dict[str, Any]]:
    alg = one_alg(env)
    return [alg], jwks(make_key(alg))


@clause("JWT-25")
def test_refresh_and_access_tokens_not_interchangeable(env: Env) -> None:
    c = _refresh_client(env)
    access, r0 = c.login({"sub": "user-1"})
    refuses(c, r0, "login(); verify(refresh token)")
    refresh_refused(c, access, "login(); refresh(the access token)")
    accepts(c, access, "then verify(access)")
    c.refresh(r0)

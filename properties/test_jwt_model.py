"""Property tests for JWT verification (spec/jwt.md) against a model of RFC 7519 section 7.2.

``test_claims_agree_with_model``: hypothesis draws a policy (algorithm among
those declared, leeway, audience, issuer, required claims), a claims set
(``exp``, ``nbf``, ``iat`` at, or a half or whole second either side of,
their boundaries, as ints when whole and floats otherwise; ``aud`` as a
string or an array; ``iss``; extra claims) and a time,
signs the claims with the suite's forger, and compares the verifier's
accept/refuse with :func:`model_accepts`, which is the contract's rules
written as plainly as possible. A disagreement is reported with the policy,
the claims and the time.

``test_token_bytes_fuzz``: hypothesis edits the text of a valid token
(characters replaced, inserted, deleted; segments swapped for arbitrary JSON,
re-signed or not) and checks that ``verify`` only ever returns the original
claims or raises TokenRejected: any other exception is a crash (JWT-17).

Each example makes a client of its own (configure comes once per client),
without the suite's time-limit proxy: a proxy starts a worker thread per client
that lives until the test ends (``Subject.close``), a thousand per test here;
without them both tests took 8 s instead of 18 s on the references. The Redis
reference's calls keep their socket timeouts; pytest-timeout bounds the rest.

Time is set as in the conformance tests (``Env``: a set clock for
``injectable-clock``, time-machine otherwise); no example sleeps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distconform.conformance import jwt_forge as forge

# env_fixture: the conformance tests' fixture "env" (the implementation at a set time).
from distconform.conformance.test_jwt import T0, Env, _call, env_fixture  # noqa: F401

MECHANISM = "jwt"
clause = pytest.mark.clause

#: Examples at least, whatever the hypothesis profile says: one example is a
#: configure and a verify, a millisecond or two. A boundary mistake shows only
#: when a date sits on its boundary and every other check passes (about one
#: example in 60): 500 examples caught ExpInclusive and NbfExclusive in each
#: of 5 fresh runs (no example database), AudSubstring and IssPrefix too.
MIN_EXAMPLES = 500
#: "a" is a substring of "ab": a verifier matching with ``in`` shows.
AUDIENCES = ["a", "ab"]
#: One issuer, so that a verifier configured with it often meets "i1x" (a prefix match).
ISSUERS = ["i1"]
OPTIONAL = ["sub", "jti", "exp", "iat"]


def _settings() -> settings:
    return settings(
        max_examples=max(settings().max_examples, MIN_EXAMPLES),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


#: The time of an example, in half seconds from T0.
OFFSETS = st.integers(-4, 4).map(lambda n: n / 2)
#: A date's distance from its own boundary (exp: now - leeway; nbf and iat:
#: now + leeway), so that a third of the dates drawn sit exactly on it.
DELTAS = st.sampled_from([-1, -0.5, 0, 0, 0.5, 1])
# Each check is off (None, nothing required) half the time or more, so that a
# token often passes every check but the one a mistake bends: a boundary hit
# is seen only when every other check lets the token through.
POLICY = st.fixed_dictionaries(
    {
        "leeway": st.sampled_from([0, 0, 0.5, 2]),
        "audience": st.sampled_from([None, None, *AUDIENCES]),
        "issuer": st.sampled_from([None, None, *ISSUERS]),
        "require": st.one_of(
            st.just([]), st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=2)
        ),
    }
)
AUD = st.one_of(st.sampled_from(AUDIENCES), st.lists(st.sampled_from(AUDIENCES), max_size=3))


def _date(t: float) -> int | float:
    """A NumericDate as issuers write it: an int when whole."""
    return int(t) if t == int(t) else t


@st.composite
def claim_sets(draw: st.DrawFn, now: float, leeway: float) -> dict[str, Any]:
    out: dict[str, Any] = {"n": draw(st.integers(0, 10**6))}
    edges = {"exp": now - leeway, "nbf": now + leeway, "iat": now + leeway}
    for name, edge in edges.items():
        if draw(st.booleans()):
            out[name] = _date(edge + draw(DELTAS))
    if draw(st.integers(0, 2)) == 0:
        out["aud"] = draw(AUD)
    iss = draw(st.sampled_from([None, "i1", "i", "i1x"]))
    if iss is not None:
        out["iss"] = iss
    if draw(st.booleans()):
        out["sub"] = "user"
    return out


def model_accepts(claims: dict[str, Any], policy: dict[str, Any], now: float) -> bool:
    """RFC 7519 section 7.2 as spec/jwt.md words it (JWT-7 to JWT-15)."""
    leeway = policy["leeway"]
    if "exp" in claims and now >= claims["exp"] + leeway:
        return False
    if "nbf" in claims and now < claims["nbf"] - leeway:
        return False
    if "iat" in claims and claims["iat"] > now + leeway:
        return False
    aud = claims.get("aud")
    if policy["audience"] is None:
        if aud is not None and aud != []:
            return False  # PyJWT and the RFC: an aud the verifier does not identify with
    else:
        members = aud if isinstance(aud, list) else [aud]
        if policy["audience"] not in members:
            return False
    if policy["issuer"] is not None and claims.get("iss") != policy["issuer"]:
        return False
    return all(name in claims for name in policy["require"])


@clause("JWT-7", "JWT-8", "JWT-10", "JWT-12", "JWT-14", "JWT-15")
def test_claims_agree_with_model(env: Env) -> None:
    """Accept or refuse as the model does, for random claims, policies, algorithms and times."""
    algs = env.algorithms

    @_settings()
    @given(data=st.data(), alg=st.sampled_from(algs), policy=POLICY, now=OFFSETS)
    def check(data: st.DataObject, alg: str, policy: dict[str, Any], now: float) -> None:
        body = data.draw(claim_sets(T0 + now, policy["leeway"]))
        key = forge.make_key(alg)
        c = env.verifier([alg], [key], raw=True, **policy)
        env.at(T0 + now)
        outcome, got = _call(c, forge.forge(body, key))
        expected = model_accepts(body, policy, T0 + now)
        assert outcome != "crashed", f"verify crashed with {got!r}"
        assert (outcome == "accepted") == expected, (
            f"repro: configure([{alg}], {policy}); now = T0 + {now}; claims (T0 = {T0}) "
            f"{json.dumps(body)}: verify {outcome} ({got!r}), the model "
            f"{'accepts' if expected else 'refuses'}"
        )

    check()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3)
    ),
    max_leaves=8,
)
ALPHABET = st.sampled_from([*"AZaz09-_.=+/ \x00é%\n"])


@st.composite
def mutated(draw: st.DrawFn, token: str, key: forge.Key) -> tuple[str, Any]:
    """An edited token, and the claims a verifier may return for it (its signed payload)."""
    kind = draw(st.sampled_from(["replace", "insert", "delete", "segment", "resigned"]))
    original = json.loads(forge.unb64(token.split(".")[1]))
    if kind in ("replace", "insert", "delete"):
        i = draw(st.integers(0, len(token) - 1))
        ch = draw(ALPHABET)
        if kind == "replace":
            return token[:i] + ch + token[i + 1 :], original
        if kind == "insert":
            return token[:i] + ch + token[i:], original
        return token[:i] + token[i + 1 :], original
    value = draw(JSON_VALUES)
    parts = token.split(".")
    which = draw(st.integers(0, 2))
    parts[which] = forge.b64(json.dumps(value).encode())
    if kind == "resigned":
        head, payload = forge.unb64(parts[0]), forge.unb64(parts[1])
        signed = forge.raw_token(head, payload, key.alg, key.private)
        return signed, value if which == 1 else original
    return ".".join(parts), original


@clause("JWT-17")
def test_token_bytes_fuzz(env: Env) -> None:
    """Edited tokens verify to the claims signed or are refused with TokenRejected, never crash."""
    algs = env.algorithms
    body = {"sub": "user", "exp": T0 + 300}

    @_settings()
    @given(data=st.data(), alg=st.sampled_from(algs))
    def check(data: st.DataObject, alg: str) -> None:
        key = forge.make_key(alg)
        token = forge.forge(body, key)
        c = env.verifier([alg], [key], raw=True)
        bad, signed = data.draw(mutated(token, key))
        outcome, got = _call(c, bad)
        assert outcome != "crashed", (
            f"repro: {alg}; verify({bad!r}) crashed with {type(got).__name__}: {got}"
        )
        if outcome == "accepted":
            assert got == signed, f"repro: {alg}; verify({bad!r}) returned {got!r}, not {signed!r}"

    check()

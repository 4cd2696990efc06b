"""The mechanisms the suite knows: their interfaces and where their parts live."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from distconform import protocols as p
from distconform.errors import UsageError

__all__ = ["JWT_ALGORITHMS", "MECHANISMS", "Mechanism", "get"]

#: JWS algorithms a jwt implementation may declare, each a capability (spec/jwt.md).
JWT_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "PS256", "ES256", "EdDSA")


def _methods(protocol: type) -> tuple[str, ...]:
    """The public methods a protocol class defines, in the order it defines them."""
    return tuple(n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_"))


@dataclass(frozen=True)
class Mechanism:
    """One mechanism: its client protocol, optional abilities and references."""

    name: str
    #: What every client is (``distconform.protocols``).
    protocol: type
    #: capability -> the protocol a client must also follow when it declares it.
    capability_protocols: dict[str, type] = field(default_factory=dict)
    #: Registered names of the reference implementations.
    references: tuple[str, ...] = ()
    #: Capabilities an implementation may declare for this mechanism.
    capabilities: tuple[str, ...] = ()

    @property
    def methods(self) -> tuple[str, ...]:
        """Methods every client must have."""
        return _methods(self.protocol)

    @property
    def capability_methods(self) -> dict[str, tuple[str, ...]]:
        """capability -> methods a client must have when it declares it."""
        return {cap: _methods(proto) for cap, proto in self.capability_protocols.items()}

    @property
    def spec_path(self) -> Path:
        return Path(str(resources.files("distconform.spec").joinpath(f"{self.name}.md")))

    @property
    def conformance_path(self) -> Path:
        return Path(
            str(resources.files("distconform.conformance").joinpath(f"test_{self.name}.py"))
        )


MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in [
        Mechanism(
            name="lock",
            protocol=p.LockClient,
            capability_protocols={
                "extend": p.LockExtend,
                "fencing": p.LockFencing,
                "owned": p.LockOwned,
                "remaining": p.LockRemaining,
                "auto-renew": p.LockAutoRenew,
            },
            references=("memory", "redis", "mysql"),
            capabilities=(
                "distributed",
                "extend",
                "fencing",
                "injectable-clock",
                "no-ttl",
                "owned",
                "remaining",
                "auto-renew",
                "reentrant",
                "thread-bound",
            ),
        ),
        Mechanism(
            name="lru",
            protocol=p.LRUClient,
            capability_protocols={
                "contains": p.LRUContains,
                "size": p.LRUSize,
                "peek": p.LRUPeek,
                "keys": p.LRUKeys,
                "popitem": p.LRUPopitem,
                "items": p.LRUItems,
                "pop": p.LRUPop,
                "clear": p.LRUClear,
                "resize": p.LRUResize,
                "evict-callback": p.LRUEvictions,
                "approximate": p.LRUApproximate,
            },
            references=("memory", "redis"),
            capabilities=(
                "contains",
                "size",
                "peek",
                "keys",
                "thread-safe",
                "shared",
                "popitem",
                "items",
                "lru-first",
                "mru-first",
                "object-keys",
                "pop",
                "clear",
                "resize",
                "evict-callback",
                "approximate",
            ),
        ),
        Mechanism(
            name="ratelimit",
            protocol=p.RateLimitClient,
            capability_protocols={
                "peek": p.RateLimitPeek,
                "remaining": p.RateLimitRemaining,
                "reset-after": p.RateLimitResetAfter,
                "clear": p.RateLimitClear,
            },
            references=("memory", "redis"),
            capabilities=(
                "sliding-log",
                "fixed-window",
                "sliding-window-counter",
                "token-bucket",
                "cost",
                "rejected-consumes",
                "distributed",
                "injectable-clock",
                "peek",
                "remaining",
                "reset-after",
                "clear",
            ),
        ),
        Mechanism(
            name="twopc",
            protocol=p.Coordinator,
            capability_protocols={
                "participants": p.HasParticipants,
                "prepare-timeout": p.PrepareTimeout,
                "outcome": p.HasOutcome,
            },
            references=("memory", "mysql"),
            capabilities=("participants", "prepare-timeout", "outcome"),
        ),
        Mechanism(
            name="hotwarm",
            protocol=p.HotWarmClient,
            capability_protocols={"switchover": p.HotWarmSwitchover},
            references=("memory", "memory-async", "redis-sentinel"),
            capabilities=("sync", "async", "switchover", "injectable-clock"),
        ),
        Mechanism(
            name="session",
            protocol=p.SessionClient,
            capability_protocols={"cookies": p.SessionCookies},
            references=("memory", "redis"),
            capabilities=("injectable-clock", "cookies", "remote-store", "last-writer-wins"),
        ),
        Mechanism(
            name="jwt",
            protocol=p.JWTClient,
            capability_protocols={"revocation": p.JWTRevocation, "refresh": p.JWTRefresh},
            references=("memory", "redis"),
            capabilities=(
                *JWT_ALGORITHMS,
                "revocation",
                "refresh",
                "injectable-clock",
            ),
        ),
    ]
}


def get(name: str) -> Mechanism:
    try:
        return MECHANISMS[name]
    except KeyError:
        known = ", ".join(sorted(MECHANISMS))
        raise UsageError(f"unknown mechanism {name!r}: choose one of {known}") from None

"""The client interface of each mechanism, as ``typing.Protocol`` classes.

A client is what ``Implementation.client()`` returns. The base protocol of a
mechanism lists what every client has; each optional ability is a small
protocol of its own, required only of clients that declare the capability of
that name (``distconform.mechanisms`` pairs them). ``spec/<mechanism>.md``
says what each call must do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Control",
    "Coordinator",
    "HasOutcome",
    "HasParticipants",
    "HotWarmClient",
    "HotWarmSwitchover",
    "JWTClient",
    "JWTRefresh",
    "JWTRevocation",
    "LRUApproximate",
    "LRUClear",
    "LRUClient",
    "LRUContains",
    "LRUEvictions",
    "LRUItems",
    "LRUKeys",
    "LRUPeek",
    "LRUPop",
    "LRUPopitem",
    "LRUResize",
    "LRUSize",
    "LockAutoRenew",
    "LockClient",
    "LockExtend",
    "LockFencing",
    "LockOwned",
    "LockRemaining",
    "Participant",
    "PrepareTimeout",
    "RateLimitClear",
    "RateLimitClient",
    "RateLimitPeek",
    "RateLimitRemaining",
    "RateLimitResetAfter",
    "SessionClient",
    "SessionCookies",
    "TokenRejected",
]


# ----------------------------------------------------------------------- lock


@runtime_checkable
class LockClient(Protocol):
    """spec/lock.md: a participant that acquires and releases named leases."""

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> Any | None: ...
    def release(self, handle: Any) -> bool: ...


@runtime_checkable
class LockExtend(Protocol):
    """Capability ``extend``."""

    def extend(self, handle: Any, ttl: float) -> bool: ...


@runtime_checkable
class LockFencing(Protocol):
    """Capability ``fencing``."""

    def token(self, handle: Any) -> int: ...


@runtime_checkable
class LockOwned(Protocol):
    """Capability ``owned``: does the handle's grant hold the lock now."""

    def owned(self, handle: Any) -> bool: ...


@runtime_checkable
class LockRemaining(Protocol):
    """Capability ``remaining``: seconds left in the handle's grant (0: none; None: no TTL)."""

    def remaining(self, handle: Any) -> float | None: ...


@runtime_checkable
class LockAutoRenew(Protocol):
    """Capability ``auto-renew``: grants renewed by the implementation while the holder lives."""

    def acquire_renewing(self, name: str, ttl: float, timeout: float = 0.0) -> Any | None: ...
    def owned(self, handle: Any) -> bool: ...


# ------------------------------------------------------------------------ lru


@runtime_checkable
class LRUClient(Protocol):
    """spec/lru.md: a handle on one cache; ``configure`` comes first, once."""

    def configure(self, capacity: int) -> None: ...
    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> bool: ...


@runtime_checkable
class LRUContains(Protocol):
    def contains(self, key: str) -> bool: ...


@runtime_checkable
class LRUSize(Protocol):
    def size(self) -> int: ...


@runtime_checkable
class LRUPeek(Protocol):
    def peek(self, key: str) -> str | None: ...


@runtime_checkable
class LRUKeys(Protocol):
    def keys(self) -> list[str]: ...


@runtime_checkable
class LRUPopitem(Protocol):
    """Capability ``popitem``: remove and return the least recently used entry."""

    def popitem(self) -> tuple[Any, str]: ...


@runtime_checkable
class LRUItems(Protocol):
    """Capability ``items``: every entry, with its value; ``values`` alone."""

    def items(self) -> list[tuple[Any, str]]: ...
    def values(self) -> list[str]: ...


@runtime_checkable
class LRUPop(Protocol):
    """Capability ``pop``: remove a key and return its value."""

    def pop(self, key: Any) -> str | None: ...


@runtime_checkable
class LRUClear(Protocol):
    """Capability ``clear``: remove every entry."""

    def clear(self) -> None: ...


@runtime_checkable
class LRUResize(Protocol):
    """Capability ``resize``: change the capacity of a configured cache."""

    def resize(self, capacity: int) -> None: ...


@runtime_checkable
class LRUEvictions(Protocol):
    """Capability ``evict-callback``: what the eviction callback was called with."""

    def evictions(self) -> list[tuple[Any, str]]: ...


@runtime_checkable
class LRUApproximate(Protocol):
    """Capability ``approximate``: an approximated LRU with a declared bound."""

    def eviction_bound(self) -> float: ...
    def recency_resolution(self) -> float: ...


# ------------------------------------------------------------------ ratelimit


@runtime_checkable
class RateLimitClient(Protocol):
    """spec/ratelimit.md: one algorithm chosen by ``configure``, then decisions."""

    def configure(self, algorithm: str, **params: float) -> None: ...
    def hit(self, key: str, cost: int = 1) -> bool: ...


@runtime_checkable
class RateLimitPeek(Protocol):
    """Capability ``peek``: what a hit would answer, without consuming."""

    def peek(self, key: str, cost: int = 1) -> bool: ...


@runtime_checkable
class RateLimitRemaining(Protocol):
    """Capability ``remaining``: the units a hit could take now."""

    def remaining(self, key: str) -> int: ...


@runtime_checkable
class RateLimitResetAfter(Protocol):
    """Capability ``reset-after``: seconds until one unit is admitted again."""

    def reset_after(self, key: str) -> float: ...


@runtime_checkable
class RateLimitClear(Protocol):
    """Capability ``clear``: forget a key's usage."""

    def clear(self, key: str) -> None: ...


# ---------------------------------------------------------------------- twopc


@runtime_checkable
class Participant(Protocol):
    """spec/twopc.md: one resource manager in a two-phase commit."""

    name: str

    def write(self, txid: str, key: str, delta: int) -> None: ...
    def prepare(self, txid: str) -> bool: ...
    def commit(self, txid: str) -> None: ...
    def abort(self, txid: str) -> None: ...
    def in_doubt(self) -> list[str]: ...
    def read(self, key: str) -> int: ...
    def close(self) -> None: ...


@runtime_checkable
class Coordinator(Protocol):
    """spec/twopc.md: what a two-phase-commit implementation's client is."""

    def run(self, txid: str, participants: Sequence[Participant]) -> bool: ...
    def recover(self, participants: Sequence[Participant]) -> dict[str, bool]: ...


@runtime_checkable
class HasParticipants(Protocol):
    """Capability ``participants``: the implementation offers its own participants."""

    def participant(self, name: str) -> Participant: ...


@runtime_checkable
class PrepareTimeout(Protocol):
    """Capability ``prepare-timeout``: votes not all in ``prepare_timeout`` s abort the run."""

    prepare_timeout: float


@runtime_checkable
class HasOutcome(Protocol):
    """Capability ``outcome``: True committed, False aborted, None not decided yet."""

    def outcome(self, txid: str) -> bool | None: ...


# -------------------------------------------------------------------- hotwarm


@runtime_checkable
class Control(Protocol):
    """spec/hotwarm.md: the suite's handle for injecting faults into the nodes."""

    mode: str
    detection_bound: float
    hold_off: float
    loss_window: float

    def nodes(self) -> list[str]: ...
    def hot(self) -> str | None: ...
    def role(self, node: str) -> str: ...
    def write_direct(self, node: str, key: str, value: str) -> bool: ...
    def read_direct(self, node: str, key: str) -> str | None: ...
    def kill(self, node: str) -> None: ...
    def pause(self, node: str) -> None: ...
    def resume(self, node: str) -> None: ...
    def restart(self, node: str) -> None: ...
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


@runtime_checkable
class HotWarmClient(Protocol):
    """spec/hotwarm.md: writes and reads through the implementation's discovery."""

    def write(self, key: str, value: str) -> bool: ...
    def read(self, key: str) -> str | None: ...
    def control(self) -> Control: ...


@runtime_checkable
class HotWarmSwitchover(Protocol):
    """Capability ``switchover``: an operator's planned move of the hot role (HW-14)."""

    def switchover(self) -> None: ...


# -------------------------------------------------------------------- session


@runtime_checkable
class SessionClient(Protocol):
    """spec/session.md: one application server's handle on a server-side session store."""

    def configure(self, idle: float, absolute: float) -> None: ...
    def create(self, user: str | None = None) -> str: ...
    def load(self, sid: str) -> dict[str, str] | None: ...
    def save(self, sid: str, changes: dict[str, str]) -> bool: ...
    def login(self, sid: str, user: str) -> str: ...
    def revoke(self, sid: str) -> None: ...
    def revoke_user(self, user: str) -> None: ...


@runtime_checkable
class SessionCookies(Protocol):
    """Capability ``cookies``: the Set-Cookie header value that issued an id."""

    def cookie(self, sid: str) -> str: ...


# ------------------------------------------------------------------------ jwt


class TokenRejected(Exception):
    """spec/jwt.md: a verifier's documented refusal of a token.

    Adapters map the library's documented errors (PyJWT's ``InvalidTokenError``,
    joserfc's ``JoseError``, ...) to this, so that a refusal is told apart from
    a crash: any other exception out of ``verify`` is a failure of the clause.
    """


@runtime_checkable
class JWTClient(Protocol):
    """spec/jwt.md: a verifier configured once, and an issuer."""

    def configure(
        self,
        algorithms: Sequence[str],
        keys: dict[str, Any],
        leeway: float = 0,
        audience: str | None = None,
        issuer: str | None = None,
        require: Sequence[str] = (),
    ) -> None: ...
    def verify(self, token: str) -> dict[str, Any]: ...
    def issue(self, claims: dict[str, Any], key: dict[str, Any]) -> str: ...


@runtime_checkable
class JWTRevocation(Protocol):
    """Capability ``revocation``: logout, a denylist entry that lives as long as the token."""

    def revoke(self, token: str) -> None: ...


@runtime_checkable
class JWTRefresh(Protocol):
    """Capability ``refresh``: refresh-token rotation with reuse detection."""

    def login(self, claims: dict[str, Any]) -> tuple[str, str]: ...
    def refresh(self, refresh_token: str) -> tuple[str, str]: ...

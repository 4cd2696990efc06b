"""Known-bad session stores: real mistakes, each small enough to read in a minute.

Most classes are the in-memory reference's client with the one mistake
their docstring names, so that the clause that catches it is the one it
breaks. :class:`SeedStore` is seed questions 14 and 27 of
``000_e2600301e6e42737.txt`` (Go), ported line for line onto Redis: the id
*is* the key ``user:%s:session``, known to anyone who knows the user name,
shared by all of that user's sessions, and valid whether or not it exists
(``HGETALL`` of a missing key is an empty map, not an error); its one TTL is
set at creation and never refreshed, and ``HSET`` to any id creates a
session with no TTL at all.

Every class is its own adapter: ``distconform.known_bad.session:Name.factory``.
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from typing import Any, ClassVar

import redis as redis_lib

from distconform.api import Context, Implementation
from distconform.backends import redis_client
from distconform.known_bad import KnownBad
from distconform.reference.session.memory import (
    MemorySessionClient,
    Record,
    SessionStore,
    check_timeouts,
)
from distconform.reference.session.redis import RedisSessionClient

__all__ = ["KNOWN_BAD"]


class Bad(MemorySessionClient):
    """The memory reference as a base: one store per implementation, on ``ctx.clock``."""

    CAPABILITIES: ClassVar[frozenset[str]] = frozenset({"injectable-clock"})

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        store = SessionStore(ctx.clock)
        return Implementation(
            client=lambda: cls(store),
            capabilities=cls.CAPABILITIES,
            description=f"known-bad: {cls.__name__}",
        )


class IdStore(SessionStore):
    """A store whose ids come from :meth:`next_id` instead of the CSPRNG."""

    def next_id(self) -> str:
        raise NotImplementedError

    def start(self, user: str | None, data: dict[str, str], now: float) -> str:
        sid = self.next_id()
        self.sessions[sid] = Record(user, now, now, dict(data))
        return sid


def _with_ids(make_id: Any, name: str) -> type[Bad]:
    """A Bad whose store draws ids from ``make_id(store)``."""

    class Store(IdStore):
        def next_id(self) -> str:
            return str(make_id(self))

    class WithIds(Bad):
        @classmethod
        def factory(cls, ctx: Context) -> Implementation:
            store = Store(ctx.clock)
            return Implementation(
                client=lambda: cls(store), capabilities=cls.CAPABILITIES, description=name
            )

    WithIds.__name__ = WithIds.__qualname__ = name
    return WithIds


_counter = itertools.count(1)
#: "sess-00000042": a counter, as frameworks' debug stores do.
CounterIds = _with_ids(lambda s: f"sess-{next(_counter):08d}", "CounterIds")
#: The time in hex nanoseconds (and a counter against collisions): guessable to the second.
TimeIds = _with_ids(lambda s: f"{time.time_ns():x}{next(_counter) % 16:x}", "TimeIds")
#: 128 bits from Mersenne Twister: estimates at 128 bits, predictable from 624 outputs.
RandomIds = _with_ids(lambda s: f"{random.getrandbits(128):032x}", "RandomIds")
#: 64 bits from the CSPRNG: OWASP's floor, half of this contract's.
ShortIds = _with_ids(lambda s: secrets.token_hex(8), "ShortIds")


class AdoptsUnknownIds(Bad):
    """Permissive mode (PHP without ``use_strict_mode``): a save to an unknown id creates it."""

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        now = self._now()
        with self._store.lock:
            if self._store.live(sid, now) is None:
                self._store.sessions[sid] = Record(None, now, now, {})
        return super().save(sid, changes)


class SaveReplaces(Bad):
    """``save`` replaces the session's data with its changes: keys saved earlier are lost."""

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        with self._store.lock:
            rec = self._store.live(sid, self._now())
            if rec is not None:
                rec.data.clear()
        return super().save(sid, changes)


class DeclaredLastWriterButReplaces(SaveReplaces):
    """Declares ``last-writer-wins`` but loses more: even saves one after another."""

    CAPABILITIES = frozenset({"injectable-clock", "last-writer-wins"})


class NoRegeneration(Bad):
    """``login`` marks the session logged in and keeps its id: session fixation."""

    def login(self, sid: str, user: str) -> str:
        with self._store.lock:
            rec = self._store.live(sid, self._now())
            if rec is not None:
                rec.user = user
                return sid
        return super().login(sid, user)


class LoginKeepsOldId(Bad):
    """``login`` copies the session to a new id but leaves the old one live."""

    def login(self, sid: str, user: str) -> str:
        now = self._now()
        with self._store.lock:
            rec = self._store.live(sid, now)
            return self._store.start(user, {} if rec is None else rec.data, now)


class IdleNotRefreshed(Bad):
    """Uses do not restart the idle period: the idle timeout counts from creation."""

    def load(self, sid: str) -> dict[str, str] | None:
        with self._store.lock:
            rec = self._store.live(sid, self._now())
            return None if rec is None else dict(rec.data)

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        with self._store.lock:
            rec = self._store.live(sid, self._now())
            if rec is None:
                return False
            rec.data.update(changes)
            return True


class IdleOneTickLate(Bad):
    """Dead only *after* the idle deadline (``>`` for ``>=``): live at exactly idle."""

    def configure(self, idle: float, absolute: float) -> None:
        super().configure(idle, absolute)
        store = self._store

        def live(sid: str, now: float) -> Record | None:
            rec = store.sessions.get(sid)
            if rec is None or store.timeouts is None:
                return None
            i, a = store.timeouts
            if now > rec.last_use + i or now >= rec.created + a:
                del store.sessions[sid]
                return None
            return rec

        store.live = live  # type: ignore[method-assign]


class NoAbsoluteTimeout(Bad):
    """Only the idle timeout: a session used often enough lives for ever (a sliding TTL)."""

    def configure(self, idle: float, absolute: float) -> None:
        i, _ = check_timeouts(idle, absolute)
        super().configure(i, 1e18)  # a century of centuries: never met


class RevokeClearsData(Bad):
    """Logout empties the session's data but leaves its id live."""

    def revoke(self, sid: str) -> None:
        with self._store.lock:
            rec = self._store.sessions.get(sid)
            if rec is not None:
                rec.data.clear()


class RevokeUserMissesLogins(Bad):
    """``revoke_user`` walks an index that ``create(user)`` fills and ``login`` forgets."""

    def __init__(self, store: SessionStore) -> None:
        super().__init__(store)
        self._created: set[str] = store.__dict__.setdefault("created_by_user", set())

    def create(self, user: str | None = None) -> str:
        sid = super().create(user)
        if user is not None:
            self._created.add(sid)
        return sid

    def revoke_user(self, user: str) -> None:
        with self._store.lock:
            for sid in [s for s in self._created if s in self._store.sessions]:
                if self._store.sessions[sid].user == user:
                    del self._store.sessions[sid]


#: A request's read and write of a whole session are apart by a store round trip.
ROUND_TRIP = 0.001


class ReadModifyWrite(Bad):
    """``save`` reads the whole session, merges, and writes it back a round trip later."""

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        with self._store.lock:
            rec = self._store.live(sid, self._now())
            if rec is None:
                return False
            data = dict(rec.data)
        time.sleep(ROUND_TRIP)
        data.update(changes)
        with self._store.lock:
            rec.data = data
            rec.last_use = self._now()
        return True


#: Replace a session's data fields with ARGV's (field, value) pairs: a whole write.
REPLACE_DATA = """
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 2) == 'd:' then redis.call('HDEL', KEYS[1], f) end
end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class RedisBad(RedisSessionClient):
    """The Redis reference as a base, on ``ctx.clock``."""

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=lambda: cls(redis_client(str(ctx.redis_url), decode_responses=True),
                               ctx.namespace, ctx),
            capabilities=frozenset({"injectable-clock", "remote-store"}),
            needs=frozenset({"redis"}),
            description=f"known-bad: {cls.__name__}",
        )  # fmt: skip


class RedisReadModifyWrite(RedisBad):
    """The Redis reference whose ``save`` reads the whole session, then writes it all back.

    As the web libraries do (load at the request's start, write the whole
    session at its end): fields the read did not see are deleted by the write.
    """

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        data = self.load(sid)
        if data is None:
            return False
        data.update(changes)
        fields = [x for k, v in data.items() for x in (f"d:{k}", v)]
        self._redis.register_script(REPLACE_DATA)(keys=[self._key(sid)], args=fields)
        return True


class CookieWithoutAttributes(Bad):
    """Issues ``Set-Cookie: sid=<id>; Path=/``: no Secure, no HttpOnly, no SameSite."""

    CAPABILITIES = frozenset({"injectable-clock", "cookies"})

    def cookie(self, sid: str) -> str:
        return f"sid={sid}; Path=/"


class FailOpen(RedisBad):
    """The Redis reference behind a "resilient" wrapper: a store error means an empty session."""

    def load(self, sid: str) -> dict[str, str] | None:
        try:
            return super().load(sid)
        except redis_lib.RedisError:
            return {}

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        try:
            return super().save(sid, changes)
        except redis_lib.RedisError:
            return True

    def create(self, user: str | None = None) -> str:
        try:
            return super().create(user)
        except redis_lib.RedisError:
            return secrets.token_urlsafe(32)

    def login(self, sid: str, user: str) -> str:
        try:
            return super().login(sid, user)
        except redis_lib.RedisError:
            return secrets.token_urlsafe(32)


class SeedStore:
    """Seed questions 14 and 27 (Go), line for line: the id is ``user:%s:session``."""

    def __init__(self, r: Any, namespace: str) -> None:
        self.r, self.ns = r, namespace
        self.ttl = 0.0

    def configure(self, idle: float, absolute: float) -> None:
        self.ttl, _ = check_timeouts(idle, absolute)  # NewRedisSessionManager(client, sessionTTL)

    def create(self, user: str | None = None) -> str:
        session_id = f"user:{user or ''}:session"  # fmt.Sprintf("user:%s:session", userID)
        self.r.hset(self.ns + session_id, mapping={"userID": user or ""})
        self.r.pexpire(self.ns + session_id, round(self.ttl * 1000))
        return session_id

    def load(self, sid: str) -> dict[str, str] | None:
        result = self.r.hgetall(self.ns + sid)  # HGetAll: a missing key is an empty map
        return {k: v for k, v in result.items() if k != "userID"}

    def save(self, sid: str, changes: dict[str, str]) -> bool:
        if changes:
            self.r.hset(self.ns + sid, mapping=changes)  # HSet: creates any key, no TTL
        return True

    def login(self, sid: str, user: str) -> str:
        return self.create(user)  # the seed has no login: a new CreateSession

    def revoke(self, sid: str) -> None:
        self.r.delete(self.ns + sid)

    def revoke_user(self, user: str) -> None:
        self.r.delete(f"{self.ns}user:{user}:session")

    def close(self) -> None:
        self.r.close()

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        return Implementation(
            client=lambda: cls(redis_client(str(ctx.redis_url), decode_responses=True),
                               ctx.namespace),
            needs=frozenset({"redis"}),
            description="seed questions 14 and 27 (Go), user:%s:session",
        )  # fmt: skip


def _spec(cls: type) -> str:
    return f"{__name__}:{cls.__name__}.factory"


KNOWN_BAD = [
    KnownBad(
        "seed", "session", _spec(SeedStore),
        ("SESSION-1", "SESSION-2", "SESSION-3", "SESSION-4", "SESSION-5", "SESSION-6"),
        "seed questions 14 and 27: the id is user:%s:session (guessable, one per user), a "
        "missing key reads as an empty valid session, HSET adopts any id, no regeneration, "
        "and the TTL set at creation is never refreshed",
    ),
    KnownBad(
        "counter-ids", "session", _spec(CounterIds), ("SESSION-1",),
        "sequential ids: the next session's id is the last one plus one",
    ),
    KnownBad(
        "time-ids", "session", _spec(TimeIds), ("SESSION-1",),
        "ids from the clock: an attacker who knows the login time guesses them",
    ),
    KnownBad(
        "short-ids", "session", _spec(ShortIds), ("SESSION-1",),
        "64-bit ids: OWASP's floor, not this contract's 128 bits",
    ),
    KnownBad(
        "random-ids", "session", _spec(RandomIds), ("SESSION-2",),
        "ids from Python's random (Mersenne Twister): 624 observed outputs predict the rest",
    ),
    KnownBad(
        "adopts-unknown-ids", "session", _spec(AdoptsUnknownIds), ("SESSION-3",),
        "permissive session management: an attacker-chosen id becomes a session",
    ),
    KnownBad(
        "save-replaces", "session", _spec(SaveReplaces), ("SESSION-4", "SESSION-10"),
        "save writes its changes as the whole session: keys saved before are lost",
    ),
    KnownBad(
        "no-regeneration", "session", _spec(NoRegeneration), ("SESSION-5",),
        "login keeps the id: an attacker who planted it is logged in with the victim",
    ),
    KnownBad(
        "login-keeps-old-id", "session", _spec(LoginKeepsOldId), ("SESSION-5",),
        "login issues a new id but the pre-login id stays live: fixation still works",
    ),
    KnownBad(
        "idle-not-refreshed", "session", _spec(IdleNotRefreshed), ("SESSION-6",),
        "the TTL is set at creation and uses never extend it (the seed's EXPIRE)",
    ),
    KnownBad(
        "idle-one-tick-late", "session", _spec(IdleOneTickLate), ("SESSION-6",),
        "expired only after the deadline (> for >=): live at exactly idle",
    ),
    KnownBad(
        "no-absolute-timeout", "session", _spec(NoAbsoluteTimeout), ("SESSION-7",),
        "a sliding TTL only: every request pushes the end, so a used session never ends",
    ),
    KnownBad(
        "revoke-clears-data", "session", _spec(RevokeClearsData), ("SESSION-8",),
        "logout empties the session but its id stays a live session",
    ),
    KnownBad(
        "revoke-user-misses-logins", "session", _spec(RevokeUserMissesLogins), ("SESSION-9",),
        "the per-user index is filled on create and forgotten on login",
    ),
    KnownBad(
        "read-modify-write", "session", _spec(ReadModifyWrite), ("SESSION-10",),
        "each request writes back the whole session it read: overlapping requests undo "
        "each other's changes",
    ),
    KnownBad(
        "redis-read-modify-write", "session", _spec(RedisReadModifyWrite), ("SESSION-10",),
        "on Redis, each save reads the session and writes it all back: two requests that "
        "read before either writes lose one's change",
    ),
    KnownBad(
        "declared-last-writer-but-replaces", "session", _spec(DeclaredLastWriterButReplaces),
        ("SESSION-11",),
        "declares last-writer-wins, but its saves drop every key they do not name, even "
        "saves that do not overlap",
    ),
    KnownBad(
        "fail-open", "session", _spec(FailOpen), ("SESSION-12",),
        "a store error reads as an empty session, a save as done, a create as a fresh id: "
        "an outage logs everyone in as anonymous-valid",
    ),
    KnownBad(
        "cookie-without-attributes", "session", _spec(CookieWithoutAttributes),
        ("SESSION-13",),
        "Set-Cookie: sid=<id>; Path=/ is readable by scripts, sent over HTTP and cross-site",
    ),
]  # fmt: skip

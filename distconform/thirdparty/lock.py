"""Adapters for third-party Redis lock libraries.

Registered names (pyproject ``distconform.implementations``):

=============================  ==================================================
``redis-py``                   ``redis.Redis.lock`` (``redis.lock.Lock``), defaults:
                               the token is thread-local (``thread_local=True``)
``redis-py-thread-local-off``  the same with ``thread_local=False``: the
                               configuration redis-py's docstring recommends
                               when one thread acquires and another releases
``python-redis-lock``          ``redis_lock.Lock`` (SET NX EX, BLPOP on a signal list)
``pottery``                    ``pottery.Redlock`` with one master
``pottery-3``                  ``pottery.Redlock`` with three independent masters
``sherlock``                   ``sherlock.RedisLock``
=============================  ==================================================

How the suite's interface (spec/lock.md) maps onto each library, the same way
for all of them:

- Each library runs with its own defaults; only what the interface requires is
  passed: the lock's name, its TTL and the acquire's timeout.
- The name given to the library is ``ctx.namespace + name``. Libraries that
  put their own prefix in front of it (``lock:``, ``redlock:``) make keys the
  suite's cleanup (``SCAN MATCH namespace*``) cannot see, so the
  implementation's ``close`` deletes those prefixed keys itself.
- TTL and timeout are handed over in the library's own unit. When a library
  truncates a value to whole seconds or refuses it, it does so itself: the
  adapter never rounds, clamps or checks for it (LOCK-5, LOCK-6 and LOCK-8
  judge what the library does).
- ``timeout == 0`` is the library's non-blocking acquire; a positive timeout is
  its blocking acquire bounded by that timeout.
- A handle is the library's lock object, one per grant. A release or extend
  the library refuses because the grant is gone (its "not owned" error)
  returns False; any other error propagates and is reported as such.

None of these libraries hands out an increasing token, so none declares
``fencing``; each has some form of extend, so each declares ``extend``.
Further capabilities are declared where the library offers them (spec/lock.md):

=============================  ==============================================
``no-ttl``                     redis-py (``timeout=None``, its default),
                               python-redis-lock (``expire=None``, its
                               default), sherlock (``expire=None``, documented
                               "lock will not expire")
``owned``                      redis-py ``Lock.owned()``; python-redis-lock
                               ``get_owner_id() == id``; pottery
                               ``Redlock.locked() > 0``
``remaining``                  pottery ``Redlock.locked()`` (seconds left;
                               0 when not held by this Redlock)
``auto-renew``                 python-redis-lock ``auto_renewal=True``
``thread-bound``               redis-py with its default ``thread_local=True``
=============================  ==============================================

Not declared, because the library has no such call: ``remaining`` for
redis-py, python-redis-lock and sherlock (only a raw ``PTTL`` of the key,
which is not the library's API); ``owned`` for sherlock (its ``locked()``
says whether *anyone* holds the lock); ``auto-renew`` for redis-py, pottery
and sherlock; ``reentrant`` for all (each grant is a new lock object with a
new random owner value, so a second acquire by the same client is refused,
which LOCK-24 checks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import SERVER_TIMEOUT, redis_client
from distconform.errors import UsageError
from distconform.thirdparty import _require

__all__ = [
    "pottery",
    "pottery_3",
    "python_redis_lock",
    "redis_py",
    "redis_py_thread_local_off",
    "sherlock",
]

_CAPABILITIES = frozenset({"distributed", "extend"})


def _connect(url: str | None, *, socket_timeout: float | None = SERVER_TIMEOUT) -> Any:
    if not url:
        raise UsageError("this implementation needs a Redis server: pass --redis-url")
    return redis_client(url, socket_timeout=socket_timeout)


def _deleter(urls: Iterable[str], patterns: Iterable[str]) -> Callable[[], None]:
    """A ``close`` that deletes the keys matching ``patterns`` on every server in ``urls``."""
    urls, patterns = tuple(urls), tuple(patterns)

    def close() -> None:
        import redis

        for url in urls:
            # Like the plugin's own cleanup: a server that is gone (a fault
            # test killed it) has nothing left to clean.
            with contextlib.suppress(redis.RedisError):
                r = redis_client(url)
                try:
                    for pattern in patterns:
                        keys = list(r.scan_iter(match=pattern, count=500))
                        for i in range(0, len(keys), 500):
                            r.delete(*keys[i : i + 500])
                finally:
                    r.close()

    return close


# ------------------------------------------------------------------- redis-py


class RedisPyLockClient:
    """redis-py's ``Redis.lock``: SET NX PX, compare-and-delete release.

    Library calls: ``Redis.lock(name, timeout=ttl, blocking=..., blocking_timeout=...,
    thread_local=...)`` (one Lock object per grant), ``Lock.acquire()``,
    ``Lock.release()``, ``Lock.extend(ttl, replace_ttl=True)``, ``Lock.owned()``.
    Deviations from the defaults: ``blocking`` and ``blocking_timeout`` come from
    the suite's timeout (the defaults, blocking for ever, are not the interface);
    ``replace_ttl=True`` because the interface's extend sets the new TTL (the
    default adds to it). ``thread_local`` is redis-py's default (True) for
    ``redis-py`` and False for ``redis-py-thread-local-off``.
    """

    def __init__(self, url: str | None, namespace: str, *, thread_local: bool = True) -> None:
        self._exc = _require("redis.exceptions", "redis")
        self._r = _connect(url)
        self._ns = namespace
        self._thread_local = thread_local

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> Any | None:
        # timeout= is the lock's TTL in seconds (float; redis-py sends PX ms);
        # None, its default, is no TTL at all.
        lock = self._r.lock(
            self._ns + name,
            timeout=ttl,
            blocking=timeout > 0,
            blocking_timeout=timeout,
            thread_local=self._thread_local,
        )
        return lock if lock.acquire() else None

    def release(self, handle: Any) -> bool:
        try:
            handle.release()
        except self._exc.LockError:  # LockNotOwnedError is a LockError
            return False
        return True

    def extend(self, handle: Any, ttl: float) -> bool:
        try:
            handle.extend(ttl, replace_ttl=True)
        except self._exc.LockError:
            return False
        return True

    def owned(self, handle: Any) -> bool:
        return bool(handle.owned())

    def close(self) -> None:
        self._r.close()


def redis_py(ctx: Context) -> Implementation:
    """``lock/redis-py``: ``redis.Redis.lock`` on the run's Redis, redis-py's defaults."""
    _require("redis.lock", "redis")
    return Implementation(
        client=lambda: RedisPyLockClient(ctx.redis_url, ctx.namespace),
        # thread_local=True: a Lock's token is visible only to the thread that
        # acquired it, so a release from another thread is refused.
        capabilities=_CAPABILITIES | {"no-ttl", "owned", "thread-bound"},
        needs=frozenset({"redis"}),
        package="redis",
        description="redis-py Redis.lock (SET NX PX; token compare on release/extend)",
    )


def redis_py_thread_local_off(ctx: Context) -> Implementation:
    """``lock/redis-py-thread-local-off``: ``redis.Redis.lock(..., thread_local=False)``."""
    _require("redis.lock", "redis")
    return Implementation(
        client=lambda: RedisPyLockClient(ctx.redis_url, ctx.namespace, thread_local=False),
        capabilities=_CAPABILITIES | {"no-ttl", "owned"},
        needs=frozenset({"redis"}),
        package="redis",
        description="redis-py Redis.lock with thread_local=False (handles usable from any thread)",
    )


# ---------------------------------------------------------- python-redis-lock


class PythonRedisLockClient:
    """python-redis-lock's ``redis_lock.Lock``: SET NX EX; waiters BLPOP a signal list.

    Library calls: ``redis_lock.Lock(redis, name, expire=ttl)`` (one per grant;
    ``auto_renewal=True`` for ``acquire_renewing``), ``Lock.acquire(blocking=...,
    timeout=...)``, ``Lock.release()``, ``Lock.extend(expire=ttl)``,
    ``Lock.get_owner_id()`` and ``Lock.id`` (owned). Deviations from the
    defaults: ``expire`` is the suite's TTL (the default, None, is used for
    ``ttl=None``); the Redis client has no socket timeout (see ``__init__``).
    """

    def __init__(self, url: str | None, namespace: str) -> None:
        self._lib = _require("redis_lock", "python-redis-lock")
        # A blocking acquire waits in BLPOP for up to its timeout or, when that
        # truncates to 0, for the lock's whole expire: a socket timeout would
        # cut that wait short and report a socket error instead of the
        # library's own behaviour. The suite's guard bounds every call.
        self._r = _connect(url, socket_timeout=None)
        self._ns = namespace

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> Any | None:
        # expire= and timeout= are documented in seconds; the library itself
        # truncates both with int() (so 1.5 s -> 1 s, 0.4 s -> 0, refused by
        # Redis) and refuses a timeout above the expire (TimeoutTooLarge).
        # expire=None (its default) is no TTL.
        return self._acquire(self._lib.Lock(self._r, self._ns + name, expire=ttl), timeout)

    def acquire_renewing(self, name: str, ttl: float, timeout: float = 0.0) -> Any | None:
        # auto_renewal=True: a daemon thread extends the lock every 2/3 of expire.
        lock = self._lib.Lock(self._r, self._ns + name, expire=ttl, auto_renewal=True)
        return self._acquire(lock, timeout)

    def _acquire(self, lock: Any, timeout: float) -> Any | None:
        if timeout > 0:
            ok = lock.acquire(blocking=True, timeout=timeout)
        else:
            ok = lock.acquire(blocking=False)  # it refuses a timeout with blocking=False
        return lock if ok else None

    def release(self, handle: Any) -> bool:
        try:
            handle.release()
        except self._lib.NotAcquired:
            return False
        return True

    def extend(self, handle: Any, ttl: float) -> bool:
        try:
            handle.extend(expire=ttl)  # whole seconds, truncated by the library
        except self._lib.NotAcquired:
            return False
        return True

    def owned(self, handle: Any) -> bool:
        # The library's locked() says whether anyone holds the key; these two
        # public calls say whether this Lock does.
        return bool(handle.get_owner_id() == handle.id)

    def close(self) -> None:
        self._r.close()


def python_redis_lock(ctx: Context) -> Implementation:
    """``lock/python-redis-lock``: ``redis_lock.Lock`` on the run's Redis."""
    _require("redis_lock", "python-redis-lock")
    ns = ctx.namespace
    return Implementation(
        client=lambda: PythonRedisLockClient(ctx.redis_url, ns),
        capabilities=_CAPABILITIES | {"no-ttl", "owned", "auto-renew"},
        needs=frozenset({"redis"}),
        package="python-redis-lock",
        # The library names its keys "lock:<name>" and "lock-signal:<name>".
        close=_deleter(
            [ctx.redis_url] if ctx.redis_url else [], [f"lock:{ns}*", f"lock-signal:{ns}*"]
        ),
        description="python-redis-lock Lock (SET NX EX, whole seconds; BLPOP wake-up)",
    )


# -------------------------------------------------------------------- pottery


class PotteryLockClient:
    """pottery's ``Redlock`` over one or more independent masters (one connection each).

    Library calls: ``Redlock(key=..., masters=..., auto_release_time=ttl)`` (one
    per grant), ``Redlock.acquire(blocking=..., timeout=...)``,
    ``Redlock.release()``, ``Redlock.extend()`` (after setting
    ``auto_release_time``), ``Redlock.locked()`` (remaining and owned).
    Deviations from the defaults: ``auto_release_time`` is the suite's TTL (the
    default is 10 s); ``blocking``/``timeout`` come from the suite's timeout.
    """

    def __init__(self, urls: Iterable[str | None], namespace: str) -> None:
        self._lib = _require("pottery", "pottery")
        self._masters = [_connect(u) for u in urls]
        self._ns = namespace

    def acquire(self, name: str, ttl: float, timeout: float = 0.0) -> Any | None:
        # auto_release_time= is in seconds (float; pottery sends PX ms). Its
        # timeout=-1 means "no timeout", and it refuses a timeout when not blocking.
        lock = self._lib.Redlock(
            key=self._ns + name, masters=set(self._masters), auto_release_time=ttl
        )
        if timeout > 0:
            ok = lock.acquire(blocking=True, timeout=timeout)
        else:
            ok = lock.acquire(blocking=False)
        return lock if ok else None

    def release(self, handle: Any) -> bool:
        try:
            handle.release()
        except self._lib.ReleaseUnlockedLock:
            return False
        return True

    def extend(self, handle: Any, ttl: float) -> bool:
        # Redlock.extend() takes no duration: it renews the lease to the lock's
        # auto_release_time (a public attribute), so that is where the new TTL
        # goes. Its default limit of 3 extensions stays: a 4th raises
        # TooManyExtensions, which is not "holds nothing" and so propagates.
        handle.auto_release_time = ttl
        try:
            handle.extend()
        except self._lib.ExtendUnlockedLock:
            return False
        return True

    def remaining(self, handle: Any) -> float:
        # locked(): "How much longer we'll hold the lock", in seconds (its
        # docstring says ms; the code divides PTTL by 1000), 0 when not ours.
        return float(handle.locked())

    def owned(self, handle: Any) -> bool:
        return bool(handle.locked() > 0)

    def close(self) -> None:
        for m in self._masters:
            m.close()


def pottery(ctx: Context) -> Implementation:
    """``lock/pottery``: ``pottery.Redlock`` with the run's Redis as its one master."""
    _require("pottery", "pottery")
    ns = ctx.namespace
    urls = [ctx.redis_url] if ctx.redis_url else []
    return Implementation(
        client=lambda: PotteryLockClient([ctx.redis_url], ns),
        capabilities=_CAPABILITIES | {"owned", "remaining"},
        needs=frozenset({"redis"}),
        package="pottery",
        # Redlock names its key "redlock:<key>".
        close=_deleter(urls, [f"redlock:{ns}*"]),
        description="pottery Redlock, one master (SET NX PX; token compare on release/extend)",
    )


def pottery_3(ctx: Context) -> Implementation:
    """``lock/pottery-3``: ``pottery.Redlock`` over three independent private masters."""
    _require("pottery", "pottery")
    ns = ctx.namespace
    # The plugin builds the implementation once without, then again with,
    # ctx.extra["redis_masters"] (three private redis-servers it starts).
    urls = list(ctx.extra.get("redis_masters") or [])

    def client() -> PotteryLockClient:
        if len(urls) < 3:
            raise UsageError(
                "pottery-3 needs three Redis masters in ctx.extra['redis_masters']: run it "
                "through the distconform pytest plugin (it starts them) or set "
                "DISTCONFORM_REDIS_MASTERS"
            )
        return PotteryLockClient(urls[:3], ns)

    return Implementation(
        client=client,
        capabilities=_CAPABILITIES | {"owned", "remaining"},
        needs=frozenset({"redis-masters"}),
        package="pottery",
        close=_deleter(urls[:3], [f"redlock:{ns}*"]),
        description="pottery Redlock, majority of 3 independent masters",
    )


# ------------------------------------------------------------------- sherlock


def _sherlock_seconds(ttl: float) -> float | int:
    """A TTL for sherlock's ``expire=``: seconds, which it hands to Redis ``EXPIRE``.

    ``EXPIRE`` takes only integers, and sherlock sends the value as Python
    formats it, so ``30.0`` is refused where ``30`` (the same duration, as its
    users write it) works. A whole number of seconds therefore goes over as an
    int; a fraction goes over unchanged, and sherlock does with it what it does
    (its acquire script has already run SETNX when EXPIRE fails).
    """
    return int(ttl) if float(ttl).is_integer() else ttl


class SherlockLockClient:
    """sherlock's ``RedisLock``: SETNX + EXPIRE in one script, polling acquire.

    Library calls: ``sherlock.RedisLock(name, client=..., expire=ttl,
    timeout=timeout)`` (one per grant), ``RedisLock.acquire(blocking=...)``,
    ``RedisLock.release()``, ``RedisLock.renew()`` (after setting ``expire``).
    Deviations from the defaults: ``expire`` and ``timeout`` are the suite's
    (sherlock's global defaults are 60 s and 10 s); ``expire=None`` for
    ``ttl=None`` (documented: "If explicitly set to None, lock will not
    expire"); a whole-second TTL goes over as an int (see ``_sherlock_seconds``).
    """

    def __init__(self, url: str | None, namespace: str) -> None:
        self._lib = _require("sherlock", "sherlock")
        self._r = _connect(url)
        self._ns = namespace
        # sherlock's RedisLock releases itself when garbage-collected
        # (BaseLock.__del__). The suite's client is the participant that holds
        # a grant until it releases, whatever the caller does with the handle
        # object, as a sherlock user keeps the lock object while holding it;
        # so the client keeps each handle alive until it is released.
        self._held: list[Any] = []

    def acquire(self, name: str, ttl: float | None, timeout: float = 0.0) -> Any | None:
        # expire= and timeout= are seconds; sherlock's blocking acquire counts
        # timeout down by its retry_interval (default 0.1 s) per attempt and
        # raises LockTimeoutException when it runs out.
        lock = self._lib.RedisLock(
            self._ns + name,
            client=self._r,
            expire=None if ttl is None else _sherlock_seconds(ttl),
            timeout=timeout,
        )
        if timeout > 0:
            try:
                lock.acquire(blocking=True)
            except self._lib.LockTimeoutException:
                return None
        elif not lock.acquire(blocking=False):
            return None
        self._held.append(lock)
        return lock

    def release(self, handle: Any) -> bool:
        try:
            handle.release()
        except self._lib.LockException:
            return False
        finally:
            with contextlib.suppress(ValueError):
                self._held.remove(handle)
        return True

    def extend(self, handle: Any, ttl: float) -> bool:
        # renew() takes no duration: it re-applies the lock's expire attribute.
        handle.expire = _sherlock_seconds(ttl)
        try:
            return bool(handle.renew())
        except self._lib.LockException:  # "Lock was not set by this process."
            return False

    def close(self) -> None:
        self._held.clear()
        self._r.close()


def sherlock(ctx: Context) -> Implementation:
    """``lock/sherlock``: ``sherlock.RedisLock`` on the run's Redis."""
    _require("sherlock", "sherlock")
    return Implementation(
        client=lambda: SherlockLockClient(ctx.redis_url, ctx.namespace),
        capabilities=_CAPABILITIES | {"no-ttl"},
        needs=frozenset({"redis"}),
        package="sherlock",
        description="sherlock RedisLock (SETNX + EXPIRE, whole seconds; polling acquire)",
    )

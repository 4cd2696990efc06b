"""Redis hot-warm pair: a primary, a replica and three Sentinels, private to one test.

The servers are the real engine: ``redis-server`` for the two data nodes,
``redis-sentinel`` (``redis-server --sentinel``) for failure detection,
promotion and discovery. Clients find the primary through redis-py's
:class:`redis.sentinel.Sentinel`. The pair starts at the first ``client()``
call (never in the factory) on free ports, and stops in
``Implementation.close``.

Acknowledgement (what ``write`` returning True means):

- sync: ``SET`` then ``WAIT 1 <timeout>``: acknowledged once the replica
  confirms it has the write;
- async: ``SET`` and ``INFO replication`` in one round trip: acknowledged by
  the primary alone while a replica is attached (it streams the write on).

In both modes, when no replica is attached (degraded mode: the peer is dead,
or this node is an old primary whose replica was promoted away), the write
is acknowledged only if the Sentinels name this node as the primary. That is
the fence: a paused old primary that comes back still believes it is the
primary and takes the ``SET``, but it has no replica any more and the
Sentinels name the other node, so nothing it takes is acknowledged; the
Sentinels then make it a replica, and the full resync drops those writes.
(Redis's own ``min-replicas-to-write`` fences too, but it would also stop the
promoted node, which has no replica, from taking any write at all.)

Switchover (capability ``switchover``): ``SENTINEL FAILOVER`` alone promotes
the replica while the old primary, healthy, still takes writes, and in async
mode its last writes may not have reached the replica; both are lost when
the old primary is reconfigured. So :meth:`RedisSentinelPair.switchover`
first stops writes on the old primary (``CLIENT PAUSE <ms> WRITE``), waits
until the replica's offset reaches the primary's, asks one Sentinel for
``SENTINEL FAILOVER``, waits until the Sentinels name the replica and it
says ``master``, makes the old primary a replica itself (``REPLICAOF``, what
the Sentinels would do a little later) and only then lifts the pause. A
client write held by the pause times out (not acknowledged) or reaches a
replica and gets READONLY.

Sentinel timings: ``down-after-milliseconds`` 1500, so a pause under ~1.5 s
never starts a failover (declared hold-off H = 1.0 s, with 0.5 s for a busy
machine); failover-timeout 3000. Replication is diskless with no delay, so a
rejoining node resyncs in milliseconds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from distconform.api import Context, Implementation
from distconform.backends import PrivateRedis, PrivateSentinel
from distconform.errors import BackendUnavailable

__all__ = ["RedisSentinelPair", "factory", "factory_async"]

SERVICE = "dc"
DOWN_AFTER_MS = 1500
FAILOVER_TIMEOUT_MS = 3000
#: Seconds a data-node command may take: short, so that a client stuck on a
#: paused primary gives up and asks the Sentinels again.
NODE_TIMEOUT = 0.5
#: Milliseconds WAIT gives the replica to confirm a write (sync mode); the
#: socket timeout of a client is NODE_TIMEOUT on top of it. A replica answers
#: in well under a millisecond; generous because a loaded 2-core machine can
#: stall a round trip for ~1 s (see distconform.guard).
WAIT_MS = 1000
#: Seconds to wait for the pair to be replicating and watched at startup.
START_TIMEOUT = 20.0
#: Declared bound T: down-after (1.5 s) + quorum and election (Sentinels add
#: up to 1 s of random delay) + promotion (~1 s) + client rediscovery
#: (~0.5 s): ~4 s measured; declared with 2 s for a loaded 2-core machine.
DETECTION_BOUND = 6.0
HOLD_OFF = 1.0
#: Async: the replica streams writes at once; measured lag is milliseconds.
#: Declared as one second, the replica's ACK period.
ASYNC_LOSS_WINDOW = 1.0

#: Seconds a switchover may take in all; the old primary's writes stay paused
#: at most this long (and the pause lifts itself after it, should we die).
SWITCHOVER_TIMEOUT = 5.0

#: Data-node settings: diskless full sync with no delay, so a rejoin is quick.
REDIS_ARGS = (
    "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
    "--repl-ping-replica-period", "1", "--replica-read-only", "yes",
)  # fmt: skip


def _connect(port: int, timeout: float = NODE_TIMEOUT + WAIT_MS / 1000) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(
        host="127.0.0.1", port=port, socket_timeout=timeout, socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0), decode_responses=True,
    )  # fmt: skip


class ReplicaSeen:
    """What one client's last write saw: a replica attached (sync mode: send WAIT).

    Per client, not per pair: one client's timeout says nothing about the
    node another client talks to (a shared flag made a healthy pair refuse
    the next write of every client after any one client's error).
    """

    def __init__(self) -> None:
        self.attached = True


class RedisSentinelPair:
    """The control object: two ``redis-server`` nodes and three Sentinels."""

    def __init__(self, namespace: str, mode: str) -> None:
        if mode not in ("sync", "async"):
            raise ValueError(f"mode must be 'sync' or 'async', not {mode!r}")
        self.namespace = namespace
        self.mode = mode
        self.detection_bound = DETECTION_BOUND
        self.hold_off = HOLD_OFF
        self.loss_window = 0.0 if mode == "sync" else ASYNC_LOSS_WINDOW
        self._lock = threading.Lock()
        self._started = False
        self._servers: dict[str, PrivateRedis] = {}
        self._sentinels: list[PrivateSentinel] = []
        self._dead: set[str] = set()
        self._paused: set[str] = set()
        self._sentinel: Any = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            if not PrivateRedis.available() or not PrivateSentinel.available():
                raise BackendUnavailable(
                    "the redis-sentinel pair needs redis-server (and redis-sentinel, or "
                    "redis-server --sentinel) on PATH: install the redis-server package"
                )
            self._started = True
            try:
                self._start()
            except BaseException:
                self.stop()
                raise

    def _start(self) -> None:
        a = PrivateRedis(args=REDIS_ARGS)
        a.start()
        self._servers["a"] = a
        b = PrivateRedis(args=(*REDIS_ARGS, "--replicaof", "127.0.0.1", str(a.port)))
        b.start()
        self._servers["b"] = b
        sentinels = [PrivateSentinel() for _ in range(3)]
        for s in sentinels:
            s.lines = [
                f"sentinel monitor {SERVICE} 127.0.0.1 {a.port} 2",
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {SERVICE} 1",
                f"sentinel known-replica {SERVICE} 127.0.0.1 {b.port}",
            ] + [
                f"sentinel known-sentinel {SERVICE} 127.0.0.1 {o.port} {o.myid}"
                for o in sentinels
                if o is not s
            ]
        for s in sentinels:
            s.start()
            self._sentinels.append(s)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._ready():
            if time.monotonic() > deadline:
                raise BackendUnavailable(
                    f"the private Redis pair and Sentinels did not settle within {START_TIMEOUT}s "
                    f"(logs under {a.dir}, {b.dir}, {sentinels[0].dir})"
                )
            time.sleep(0.05)

    def _ready(self) -> bool:
        """The replica is online and every Sentinel sees it and the two others."""
        try:
            with _connect(self._servers["b"].port) as r:
                if r.info("replication").get("master_link_status") != "up":
                    return False
            # The primary counts a replica for WAIT only once it is "online"
            # (after its first ACK, up to a second after the sync ends).
            with _connect(self._servers["a"].port) as r:
                replica = r.info("replication").get("slave0")
                if not isinstance(replica, dict) or replica.get("state") != "online":
                    return False
            for s in self._sentinels:
                with _connect(s.port) as r:
                    m = r.sentinel_master(SERVICE)
                if m.get("num-slaves", 0) < 1 or m.get("num-other-sentinels", 0) < 2:
                    return False
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self._sentinel is not None:
            for conn in self._sentinel.sentinels:
                with contextlib.suppress(Exception):
                    conn.close()
        for s in self._sentinels:
            s.stop()
        for server in self._servers.values():
            server.stop()
        self._sentinels, self._servers = [], {}

    def sentinel(self) -> Any:
        """A redis-py Sentinel client over the three Sentinels, made once."""
        from redis.sentinel import Sentinel

        with self._lock:
            if self._sentinel is None:
                t = {"socket_timeout": NODE_TIMEOUT, "socket_connect_timeout": NODE_TIMEOUT}
                self._sentinel = Sentinel(
                    [("127.0.0.1", s.port) for s in self._sentinels], sentinel_kwargs=t
                )
            return self._sentinel

    # ------------------------------------------------------------ control

    def nodes(self) -> list[str]:
        return list(self._servers)

    def _name(self, port: int) -> str | None:
        return next((n for n, s in self._servers.items() if s.port == int(port)), None)

    def hot(self) -> str | None:
        try:
            _, port = self.sentinel().discover_master(SERVICE)
        except Exception:
            return None
        return self._name(port)

    def role(self, node: str) -> str:
        server = self._server(node)
        if node in self._dead or node in self._paused:
            return "down"
        try:
            with _connect(server.port) as r:
                role = r.execute_command("ROLE")[0]
        except Exception:
            return "down"
        return "hot" if role == "master" else "warm"

    def write_direct(self, node: str, key: str, value: str) -> bool:
        with _connect(self._server(node).port) as r:
            return self.commit(r, key, value)

    def read_direct(self, node: str, key: str) -> str | None:
        with _connect(self._server(node).port) as r:
            got = r.get(self.namespace + key)
        return None if got is None else str(got)

    def kill(self, node: str) -> None:
        self._server(node).kill()
        self._dead.add(node)
        self._paused.discard(node)

    def pause(self, node: str) -> None:
        self._server(node).pause()
        self._paused.add(node)

    def resume(self, node: str) -> None:
        self._server(node).resume()
        self._paused.discard(node)

    def restart(self, node: str) -> None:
        """Start the node again with its first configuration (``a`` as a primary)."""
        self._server(node).restart()
        self._dead.discard(node)
        self._paused.discard(node)

    def switchover(self) -> None:
        """Planned move of the primary role to the replica, losing nothing (module doc)."""
        old = self.hot()
        if old is None or old in self._dead or old in self._paused:
            raise RuntimeError(f"no switchover: the Sentinels name {old!r} as the primary")
        new = next(n for n in self._servers if n != old)
        end = time.monotonic() + SWITCHOVER_TIMEOUT

        def until(what: str, done: Any) -> None:
            while not done():
                if time.monotonic() > end:
                    raise TimeoutError(f"switchover {old} -> {new}: {what} not seen in time")
                time.sleep(0.02)

        pause_ms = int(SWITCHOVER_TIMEOUT * 1000)
        with _connect(self._servers[old].port) as r_old, _connect(self._servers[new].port) as r_new:
            r_old.execute_command("CLIENT", "PAUSE", pause_ms, "WRITE")
            try:
                offset = int(r_old.info("replication")["master_repl_offset"])
                until(
                    "the replica at the primary's offset",
                    lambda: int(r_new.info("replication").get("slave_repl_offset", -1)) >= offset,
                )
                with _connect(self._sentinels[0].port) as s:
                    s.execute_command("SENTINEL", "FAILOVER", SERVICE)
                until(
                    "the Sentinels naming the replica",
                    lambda: self.hot() == new and r_new.execute_command("ROLE")[0] == "master",
                )
                r_old.execute_command("REPLICAOF", "127.0.0.1", self._servers[new].port)
            finally:
                with contextlib.suppress(Exception):
                    r_old.execute_command("CLIENT", "UNPAUSE")

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def _server(self, node: str) -> PrivateRedis:
        try:
            return self._servers[node]
        except KeyError:
            raise ValueError(f"no node {node!r}: nodes are {', '.join(self._servers)}") from None

    # ------------------------------------------------------------ writes

    def commit(self, conn: Any, key: str, value: str, seen: ReplicaSeen | None = None) -> bool:
        """One write on ``conn``'s node; True when acknowledged (see the module doc).

        One round trip on one connection: ``SET``, then (sync, while a replica
        was attached at the last look) ``WAIT 1``, then ``INFO replication``.
        WAIT is left out while no replica is attached, where it would block
        for its whole timeout; a wrong guess costs time or one unacknowledged
        write, never a false acknowledgement.
        """
        seen = ReplicaSeen() if seen is None else seen
        wait = self.mode == "sync" and seen.attached
        pipe = conn.pipeline(transaction=False)
        pipe.set(self.namespace + key, value)
        if wait:
            pipe.execute_command("WAIT", 1, WAIT_MS)
        pipe.info("replication")
        try:
            replies = pipe.execute(raise_on_error=False)
        except Exception:
            # The node is gone or stuck: the next node may well have no
            # replica yet, so do not make its first write wait for one.
            seen.attached = False
            raise
        info = replies[-1]
        if any(isinstance(r, Exception) for r in replies) or info.get("role") != "master":
            return False  # READONLY on a replica, or the write did not happen
        attached = int(info.get("connected_slaves", 0)) > 0
        seen.attached = attached
        if attached:
            if self.mode == "async":
                return True  # a replica is attached and streams the write on
            # No WAIT was sent (the guess was "no replica"): not acknowledged.
            # A WAIT sent now could reach another node through the pool, where
            # it would not cover this SET; the next write sends one.
            return wait and int(replies[1]) >= 1
        return self._is_named(conn)

    def _is_named(self, conn: Any) -> bool:
        """Degraded mode: acknowledge only if the Sentinels name this node as the primary."""
        try:
            _, port = self.sentinel().discover_master(SERVICE)
            # The node's own port: a Sentinel-managed connection has no fixed one.
            mine = conn.info("server")["tcp_port"]
        except Exception:
            return False
        return int(port) == int(mine)


class RedisSentinelClient:
    """An application's connection: it finds the primary through the Sentinels."""

    def __init__(self, pair: RedisSentinelPair) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._pair = pair
        self._seen = ReplicaSeen()
        self._master = pair.sentinel().master_for(
            SERVICE, socket_timeout=NODE_TIMEOUT + WAIT_MS / 1000,
            socket_connect_timeout=NODE_TIMEOUT,
            retry=Retry(NoBackoff(), 0), decode_responses=True,
        )  # fmt: skip

    def write(self, key: str, value: str) -> bool:
        return self._pair.commit(self._master, key, value, self._seen)

    def read(self, key: str) -> str | None:
        got = self._master.get(self._pair.namespace + key)
        return None if got is None else str(got)

    def control(self) -> RedisSentinelPair:
        return self._pair

    def switchover(self) -> None:
        self._pair.switchover()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._master.close()


def _build(ctx: Context, mode: str) -> Implementation:
    pair = RedisSentinelPair(ctx.namespace, mode)

    def client() -> RedisSentinelClient:
        pair.start()
        return RedisSentinelClient(pair)

    return Implementation(
        client=client,
        capabilities=frozenset({mode, "switchover"}),
        # The pair is private; "redis" only makes a run without Redis skip it.
        needs=frozenset({"redis"}),
        package="redis",
        close=pair.stop,
        description=f"redis-server primary + replica, 3 redis-sentinel, {mode} acknowledgement",
    )


def factory(ctx: Context) -> Implementation:
    return _build(ctx, "sync")


def factory_async(ctx: Context) -> Implementation:
    return _build(ctx, "async")

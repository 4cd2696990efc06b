"""Known-bad hot-warm pairs: real mistakes on top of the in-memory reference.

Each class is the reference's :class:`MemoryCluster` with the one mistake its
docstring names, so that the clause it breaks is the one that catches it.
``SeedNoFailover`` is seed question 1 of ``000_e2600301e6e42737.txt`` (Go):
two services side by side, no replication, no detection, no failover.

Every class is its own adapter: ``distconform.known_bad.hotwarm:Name.factory``.
"""

from __future__ import annotations

import time
from typing import ClassVar

from distconform.api import Context, FakeClock, Implementation
from distconform.known_bad import KnownBad
from distconform.reference.hotwarm.memory import MemoryClient, MemoryCluster, Node

__all__ = ["KNOWN_BAD"]


class Bad(MemoryCluster):
    """The reference with a mistake; ``MODE`` is how it replicates, ``CLAIMS`` what it declares."""

    MODE: ClassVar[str] = "sync"
    CLAIMS: ClassVar[str | None] = None
    CLIENT: ClassVar[type[MemoryClient]] = MemoryClient
    #: Capabilities declared besides the mode (the reference declares switchover).
    EXTRA: ClassVar[frozenset[str]] = frozenset({"switchover"})

    @classmethod
    def factory(cls, ctx: Context) -> Implementation:
        clock = ctx.clock if isinstance(ctx.clock, FakeClock) else FakeClock()
        cluster = cls(mode=cls.MODE, clock=clock)
        claims = cls.CLAIMS or cls.MODE
        cluster.mode = claims
        cluster.loss_window = 0.0 if claims == "sync" else cluster.loss_window
        return Implementation(
            client=lambda: cls.CLIENT(cluster),
            capabilities=frozenset({claims}) | cls.EXTRA,
            description=f"known-bad: {cls.__name__}",
        )


class SeedNoFailover(Bad):
    """Seed question 1: a hot and a warm service with no replication and no failover.

    The warm service holds its own data; nothing ever promotes it.
    """

    def replicate(self, hot: Node, warm: Node, entries: list[tuple[str, str]]) -> bool:
        return True  # "sent" on a channel nobody reads into the warm store

    def promote(self) -> None:
        return None


class NoFencing(Bad):
    """Failover without fencing: a node that still believes it is hot acknowledges writes.

    The resumed old hot node trusts its own role until the monitor demotes it,
    and demotion resyncs it from the new hot node, dropping those writes.
    """

    def confirmed(self, n: Node) -> bool:
        return n.role == "hot"

    def node_write(self, n: Node, key: str, value: str) -> bool:
        if n.state == "up" and n.role == "hot" and self.peer(n).role == "hot":
            n.data[key] = value  # its peer will not take it: acknowledged alone
            return True
        return super().node_write(n, key, value)


class AsyncClaimsSync(Bad):
    """Asynchronous replication that declares synchronous durability.

    The write is acknowledged by the hot node alone and shipped at the next
    heartbeat; a kill in between loses acknowledged writes.
    """

    MODE = "async"
    CLAIMS = "sync"


class WarmAcceptsWrites(Bad):
    """The warm node takes client writes into its own copy: two writable nodes."""

    def node_write(self, n: Node, key: str, value: str) -> bool:
        if n.state == "up" and n.role == "warm":
            n.data[key] = value
            return True
        return super().node_write(n, key, value)


class NoCatchUp(Bad):
    """A rejoining node becomes warm but keeps what it had: no resync from the new hot node."""

    def demote(self, n: Node, hot: Node) -> None:
        if hot.state != "up":
            return
        n.role, n.epoch, n.pending = "warm", self.epoch, []


class StickyClient(MemoryClient):
    """Resolves the hot node once, at creation, and never asks discovery again."""

    def __init__(self, cluster: MemoryCluster) -> None:
        super().__init__(cluster)
        self._pinned = cluster.directory

    def write(self, key: str, value: str) -> bool:
        c = self._cluster
        return c.node_write(c._node(self._pinned), key, value)

    def read(self, key: str) -> str | None:
        return self._cluster.read_direct(self._pinned, key)


class Sticky(Bad):
    """Failover works, but clients connect to a fixed address found at startup."""

    CLIENT = StickyClient


class HairTrigger(Bad):
    """Declares a hold-off of 0.9 s but declares the hot node dead after 0.3 s of silence."""

    def __init__(self, mode: str = "sync", clock: FakeClock | None = None) -> None:
        super().__init__(mode, clock)
        self.down_after = 0.3


class RestartKeepsEpoch(Bad):
    """A restarted warm node comes back empty but at the current epoch, so nothing resyncs it.

    It takes the new log entries from then on and never the data from before.
    """

    def restart(self, node: str) -> None:
        super().restart(node)
        n = self._node(node)
        if n.role == "warm":
            n.epoch = self.epoch


class ShipsEvery(Bad):
    """Async pair that ships its log only every ``EVERY``-th heartbeat (declaring L = 0.1 s)."""

    MODE = "async"
    EVERY: ClassVar[int] = 1

    def __init__(self, mode: str = "async", clock: FakeClock | None = None) -> None:
        super().__init__(mode, clock)
        self._ticks = 0

    def tick(self) -> None:
        self._ticks += 1
        super().tick()

    def replicate(self, hot: Node, warm: Node, entries: list[tuple[str, str]]) -> bool:
        if self._ticks % self.EVERY:
            return False  # not a shipping step: the log waits
        return super().replicate(hot, warm, entries)


class UnderstatedLossWindow(ShipsEvery):
    """Async replication shipped every second, declared as a 0.1 s loss window."""

    EVERY = 10


class ReadsFromWarm(Bad):
    """Async pair whose clients read from the warm node to spare the hot one."""

    MODE = "async"

    class Client(MemoryClient):
        def read(self, key: str) -> str | None:
            c = self._cluster
            return c.read_direct(c.peer(c._node(c.directory)).name, key)

    CLIENT = Client


class DetectorUnderHoldOff(Bad):
    """Declares a hold-off of 0.9 s but declares the hot node dead after 0.8 s of silence.

    Off by a little: a pause of H/2 (HW-10) never sees it, a pause of H does.
    """

    def __init__(self, mode: str = "sync", clock: FakeClock | None = None) -> None:
        super().__init__(mode, clock)
        self.down_after = 0.8


class SlowDetector(Bad):
    """Declares T = 1.3 s but waits 1.4 s of silence before promoting (a bound off by a little)."""

    def __init__(self, mode: str = "sync", clock: FakeClock | None = None) -> None:
        super().__init__(mode, clock)
        self.down_after = 1.4  # detection_bound stays the reference's 1.3 s


class StuckOnPausedClient(MemoryClient):
    """Keeps the node it found until a call is refused by a dead node; a hung one it retries.

    redis-py's default ``master_for`` has no socket timeout: a primary that
    hangs (SIGSTOP, a frozen VM) keeps the client's connection and its calls.
    """

    def __init__(self, cluster: MemoryCluster) -> None:
        super().__init__(cluster)
        self._pinned = cluster.directory

    def _target(self) -> str:
        c = self._cluster
        if c._node(self._pinned).state == "dead":
            self._pinned = c.directory  # connection refused: ask discovery again
        return self._pinned

    def write(self, key: str, value: str) -> bool:
        c = self._cluster
        return c.node_write(c._node(self._target()), key, value)

    def read(self, key: str) -> str | None:
        return self._cluster.read_direct(self._target(), key)


class StuckOnPaused(Bad):
    """Failover works, but clients rediscover only when the old node refuses, not when it hangs."""

    CLIENT = StuckOnPausedClient


class MergeOnRejoin(Bad):
    """Async pair whose rejoining node merges the new hot node's data into its own.

    The writes the old hot node acknowledged but never shipped (lost within
    L, as declared) stay on the rejoined warm copy: the two nodes disagree,
    and a later failover brings back writes that had vanished.
    """

    MODE = "async"

    def demote(self, n: Node, hot: Node) -> None:
        if hot.state != "up":
            return
        n.role, n.epoch, n.pending = "warm", self.epoch, []
        n.data = {**n.data, **hot.data}


class SwitchoverDropsPending(Bad):
    """Async pair whose planned switchover promotes the warm node without shipping the log first."""

    MODE = "async"

    def switchover(self) -> None:
        old = self._nodes[self.directory]
        old.pending = []  # forgotten: the writes acknowledged since the last heartbeat
        super().switchover()


class UnlockedWrites(Bad):
    """Async pair whose write path skips the lock the heartbeat's shipping step holds.

    A write that appends to the log between the step's shipment and its
    ``pending = []`` is acknowledged and never shipped: one client used from
    several threads loses writes from the warm copy.
    """

    MODE = "async"
    #: Seconds a shipment takes: on a real pair it is a network round trip,
    #: during which the other threads run. Without it the window between the
    #: copy and the reset is a few bytecodes and HW-15 caught the bug in 19 of
    #: 20 runs, not every run (CI run of aaab821 missed it).
    SHIP_SECONDS = 0.002

    def node_write(self, n: Node, key: str, value: str) -> bool:
        return self.apply_write(n, key, value)  # no ``with self.mutex``

    def replicate(self, hot: Node, warm: Node, entries: list[tuple[str, str]]) -> bool:
        time.sleep(self.SHIP_SECONDS)
        return super().replicate(hot, warm, entries)


class DropsWhatWarmMissed(Bad):
    """Sync pair that drops a write from the replication log when the warm node does not take it.

    The write stays on the hot node, unacknowledged; the warm node, paused at
    the time and resumed, never gets it: the nodes disagree until a resync.
    """

    def apply_write(self, n: Node, key: str, value: str) -> bool:
        ok = super().apply_write(n, key, value)
        if not ok:
            n.pending = []  # not shipped now, never shipped
        return ok


class LaggingReplica(ShipsEvery):
    """Async pair that ships its log every second heartbeat (0.2 s) and declares L = 0.1 s."""

    EVERY = 2


class DeafToRestart(Bad):
    """The monitor takes any answer from the hot node for its heartbeat, restarted or not.

    A hot node killed and restarted within the hold-off answers at epoch 0:
    it is never promoted away, and never confirmed, so it refuses every write.
    """

    def heard(self, n: Node) -> bool:
        return n.state == "up"


def _spec(cls: type) -> str:
    return f"{__name__}:{cls.__name__}.factory"


KNOWN_BAD = [
    KnownBad(
        "seed-no-failover", "hotwarm", _spec(SeedNoFailover), ("HW-2", "HW-4"),
        "seed question 1: a hot and a warm service on two channels; the warm one never gets "
        "the hot one's data and nothing promotes it when the hot one dies",
    ),
    KnownBad(
        "no-fencing", "hotwarm", _spec(NoFencing), ("HW-7",),
        "failover without fencing: the paused old primary, resumed, still believes it is "
        "primary and acknowledges writes that its demotion then discards (split brain)",
    ),
    KnownBad(
        "async-claims-sync", "hotwarm", _spec(AsyncClaimsSync), ("HW-2", "HW-5"),
        "acknowledges before replicating while declaring synchronous durability: a kill "
        "loses the writes acknowledged since the last shipment",
    ),
    KnownBad(
        "warm-accepts-writes", "hotwarm", _spec(WarmAcceptsWrites), ("HW-3",),
        "a writable replica (replica-read-only no): writes to it diverge and are overwritten",
    ),
    KnownBad(
        "no-catch-up", "hotwarm", _spec(NoCatchUp), ("HW-8",),
        "the rejoining node is marked warm but never resyncs: a later failover to it "
        "would serve stale data",
    ),
    KnownBad(
        "sticky-client", "hotwarm", _spec(Sticky), ("HW-9",),
        "clients configured with the primary's address instead of asking discovery keep "
        "writing to the dead node",
    ),
    KnownBad(
        "hair-trigger", "hotwarm", _spec(HairTrigger), ("HW-10",),
        "a failure detector tighter than the declared hold-off replaces a node that was "
        "only slow (flapping)",
    ),
    KnownBad(
        "understated-loss-window", "hotwarm", _spec(UnderstatedLossWindow), ("HW-6",),
        "ships the log once a second but declares a 0.1 s loss window",
    ),
    KnownBad(
        "reads-from-warm", "hotwarm", _spec(ReadsFromWarm), ("HW-1",),
        "reads scaled out to the async replica miss the writes not yet shipped",
    ),
    KnownBad(
        "detector-under-hold-off", "hotwarm", _spec(DetectorUnderHoldOff), ("HW-12",),
        "down-after set just below the declared hold-off: a pause of H/2 passes, a pause of "
        "H replaces a node that was only slow",
    ),
    KnownBad(
        "slow-detector", "hotwarm", _spec(SlowDetector), ("HW-4", "HW-11"),
        "down-after 1.4 s with a declared failover bound of 1.3 s: failover is late by 0.1 s",
    ),
    KnownBad(
        "stuck-on-paused", "hotwarm", _spec(StuckOnPaused), ("HW-11",),
        "clients rediscover on a refused connection only: a hung (SIGSTOPped) primary keeps "
        "them after the failover",
    ),
    KnownBad(
        "merge-on-rejoin", "hotwarm", _spec(MergeOnRejoin), ("HW-13",),
        "the rejoining old primary merges instead of resyncing: its unshipped writes stay on "
        "the warm copy, which disagrees with the hot one",
    ),
    KnownBad(
        "switchover-drops-pending", "hotwarm", _spec(SwitchoverDropsPending), ("HW-14",),
        "a planned switchover promotes the replica before it has the primary's last writes",
    ),
    KnownBad(
        "unlocked-writes", "hotwarm", _spec(UnlockedWrites), ("HW-15",),
        "the write path appends to the replication log without the lock the shipping step "
        "holds: concurrent writes are acknowledged and never shipped",
    ),
    KnownBad(
        "drops-what-warm-missed", "hotwarm", _spec(DropsWhatWarmMissed), ("HW-16",),
        "a sync write the paused replica could not confirm is refused but kept on the primary "
        "only: the resumed replica never gets it, and the next failover undoes it",
    ),
    KnownBad(
        "restart-keeps-epoch", "hotwarm", _spec(RestartKeepsEpoch), ("HW-16",),
        "a restarted (empty) replica rejoins at the current position of the stream instead "
        "of resyncing: it never gets the data written before it died",
    ),
    KnownBad(
        "lagging-replica", "hotwarm", _spec(LaggingReplica), ("HW-2",),
        "ships the log every 0.2 s but declares a 0.1 s loss window: twice the declared lag",
    ),
    KnownBad(
        "deaf-to-restart", "hotwarm", _spec(DeafToRestart), ("HW-17",),
        "a primary restarted (empty) before down-after answers again, so the detector never "
        "fails over, but it is not confirmed either: the pair refuses every write for good",
    ),
]  # fmt: skip

"""In-memory hot-warm pair: replication log, heartbeats, epochs, an injectable clock.

Two simulated nodes and a monitor (the role Sentinel plays for Redis). Time
moves only in :meth:`MemoryCluster.sleep`, in heartbeat steps, so every run is
deterministic. At each step:

- the monitor hears the hot node's heartbeat if it is up; after ``down_after``
  seconds of silence it promotes the warm node with a new epoch and points
  discovery (``directory``) at it, unless that node has not resynced since it
  came back (it would take over empty or stale: the pair waits instead);
- the hot node ships its pending replication log to the warm node (async
  mode; sync mode ships inside the write);
- a node that thinks it is hot but is not the one discovery names (a resumed
  or restarted old hot node) demotes itself and resyncs from the hot node.

A hot node killed and restarted within the hold-off comes back empty, at
epoch 0, in its original role: the monitor does not take its answers for the
old node's heartbeat (Sentinel would see a new run id), so the warm node,
which has the data, is promoted as for a kill, and the restarted node
rejoins as warm (HW-17).

Switchover (capability ``switchover``): :meth:`MemoryCluster.switchover` ships
the hot node's pending log to the warm node first, then promotes it and
demotes the old hot node in the same step, so nothing acknowledged is lost in
either mode and no write can reach the old node between the two.

Fencing: a node acknowledges a write only while it holds the current epoch,
the one discovery gave the node it names, and, in sync mode, only once its
warm peer applied the write (an entry the warm node did not take stays in
the log, unacknowledged, and ships when it answers). With its peer dead it
serves writes alone (degraded mode, spec "Non-guarantees").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from distconform.api import Context, FakeClock, Implementation

__all__ = ["MemoryCluster", "NodeDown", "factory", "factory_async"]

HEARTBEAT = 0.1
DOWN_AFTER = 1.0


class NodeDown(ConnectionError):
    """The node is killed or paused: a real client would see a refused or timed-out call."""


@dataclass
class Node:
    name: str
    role: str = "warm"
    #: Every node starts at the first epoch; a restarted one is at 0.
    epoch: int = 1
    state: str = "up"  # up, paused, dead
    data: dict[str, str] = field(default_factory=dict)
    #: Async mode: entries applied here but not yet shipped to the peer.
    pending: list[tuple[str, str]] = field(default_factory=list)


class MemoryCluster:
    """The control object of the in-memory reference (spec/hotwarm.md, Interface)."""

    def __init__(self, mode: str = "sync", clock: FakeClock | None = None) -> None:
        if mode not in ("sync", "async"):
            raise ValueError(f"mode must be 'sync' or 'async', not {mode!r}")
        #: What the pair declares (``mode``) and how it replicates; the same
        #: here, apart in known-bad subclasses that claim more than they do.
        self.mode = self.replication = mode
        self.clock = clock or FakeClock()
        self.heartbeat = HEARTBEAT
        self.down_after = DOWN_AFTER
        # Detection after down_after of silence, seen at the next heartbeat
        # step, plus one step to promote: 1.2 s; declared with a step to spare.
        self.detection_bound = self.down_after + 3 * self.heartbeat
        self.hold_off = self.down_after - self.heartbeat
        # Async: the log ships every heartbeat, so a lost write was
        # acknowledged within one heartbeat of the failure.
        self.loss_window = 0.0 if mode == "sync" else self.heartbeat
        a, b = Node("a", role="hot"), Node("b")
        self._nodes = {"a": a, "b": b}
        #: The role each node starts with, and restarts with (its configuration).
        self._configured = {n.name: n.role for n in (a, b)}
        self.directory = "a"
        self.epoch = 1
        self._last_heard = self.clock.now()
        self._next_tick = self._last_heard + self.heartbeat
        #: One lock over the nodes: clients write from several threads while
        #: the control's thread runs heartbeat steps (HW-15).
        self.mutex = threading.RLock()

    # ------------------------------------------------------------ control

    def nodes(self) -> list[str]:
        return list(self._nodes)

    def hot(self) -> str | None:
        return self.directory

    def role(self, node: str) -> str:
        n = self._node(node)
        return "down" if n.state != "up" else n.role

    def now(self) -> float:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        # Heartbeat steps fall on a fixed grid, however the sleeps are cut. A
        # negative sleep is a zero one: the clock moves only here, each sleep
        # leaves the next step ahead of it, so none is due and nothing moves.
        end = self.clock.now() + seconds
        while self._next_tick <= end + 1e-9:
            self.clock.advance(max(0.0, self._next_tick - self.clock.now()))
            with self.mutex:
                self.tick()
            self._next_tick += self.heartbeat
        rest = end - self.clock.now()
        if rest > 0:
            self.clock.advance(rest)

    def kill(self, node: str) -> None:
        with self.mutex:
            n = self._node(node)
            n.state, n.data, n.pending = "dead", {}, []

    def pause(self, node: str) -> None:
        with self.mutex:
            n = self._node(node)
            if n.state == "up":
                n.state = "paused"

    def resume(self, node: str) -> None:
        with self.mutex:
            n = self._node(node)
            if n.state == "paused":
                n.state = "up"

    def restart(self, node: str) -> None:
        with self.mutex:
            n = self._node(node)
            # Comes back empty (a running node is killed first) with its
            # original configuration, at epoch 0; tick() demotes it.
            n.state, n.data, n.pending = "up", {}, []
            n.role, n.epoch = self._configured[node], 0

    def switchover(self) -> None:
        """Move the hot role to the warm node; raises when there is no healthy warm node."""
        with self.mutex:
            self._switchover()

    def _switchover(self) -> None:
        old = self._nodes[self.directory]
        new = self.peer(old)
        if old.state != "up" or new.state != "up" or new.role != "warm":
            raise RuntimeError(
                f"no switchover: hot {old.name} is {old.state}, {new.name} is "
                f"{new.state}/{new.role}"
            )
        if old.pending:
            if not self.replicate(old, new, old.pending):
                raise RuntimeError(f"no switchover: {new.name} did not take the pending log")
            old.pending = []
        self.promote()
        self.demote(old, new)

    def write_direct(self, node: str, key: str, value: str) -> bool:
        return self.node_write(self._node(node), key, value)

    def read_direct(self, node: str, key: str) -> str | None:
        with self.mutex:
            n = self._node(node)
            if n.state != "up":
                raise NodeDown(f"node {node} is {n.state}")
            return n.data.get(key)

    # ------------------------------------------------------------ the nodes

    def _node(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise ValueError(f"no node {name!r}: nodes are {', '.join(self._nodes)}") from None

    def peer(self, n: Node) -> Node:
        return next(p for p in self._nodes.values() if p is not n)

    def node_write(self, n: Node, key: str, value: str) -> bool:
        """One write at node ``n``; True when acknowledged."""
        with self.mutex:
            return self.apply_write(n, key, value)

    def apply_write(self, n: Node, key: str, value: str) -> bool:
        """The write itself; the caller holds the mutex."""
        if n.state != "up":
            raise NodeDown(f"node {n.name} is {n.state}")
        if n.role != "hot":
            return False  # READONLY
        if not self.confirmed(n):
            return False
        n.data[key] = value
        peer = self.peer(n)
        if peer.state == "dead" or peer.role != "warm":
            # Degraded: no warm node is attached (dead, or the old hot node
            # that has not rejoined yet) and discovery confirmed n.
            return True
        n.pending.append((key, value))
        if self.replication == "async":
            return True
        # Sync: the stream ships in order, this write after any entries an
        # unavailable warm node missed. Not acknowledged while the warm node
        # does not take it, but on the hot node: it stays in the log and ships
        # once the warm node answers (HW-16), as a replica catches up from the
        # primary's backlog.
        if not self.replicate(n, peer, n.pending):
            return False
        n.pending = []
        return True

    def confirmed(self, n: Node) -> bool:
        """Fencing: only a node at the current epoch acknowledges.

        Each promotion raises the epoch and gives it to the node discovery
        names; the old hot node keeps its older epoch until it is demoted, a
        restarted one has 0. So a hot node at the current epoch is the one
        discovery names (a warm one refuses writes before this check).
        """
        return n.epoch == self.epoch

    def replicate(self, hot: Node, warm: Node, entries: list[tuple[str, str]]) -> bool:
        """Ship ``entries``; True when the warm node applied them.

        Every caller ships from the hot node at the current epoch to its
        peer, which is warm (tick demotes a stale peer first, a write or a
        switchover to a peer that is not warm does not ship): only its being
        down matters.
        """
        if warm.state != "up":
            return False
        for key, value in entries:  # applied one by one, as a replica reads its stream
            warm.data[key] = value
        return True

    def tick(self) -> None:
        """One heartbeat step: detection, shipping, demotion and catch-up."""
        now = self.clock.now()
        hot = self._nodes[self.directory]
        if self.heard(hot):
            self._last_heard = now
        elif now - self._last_heard >= self.down_after - 1e-9:
            self.promote()
            hot = self._nodes[self.directory]
        for n in self._nodes.values():
            if n.state != "up":
                continue
            if n.role == "hot" and n is not hot:
                self.demote(n, hot)
            elif n.role == "warm" and n.epoch < self.epoch:
                self.demote(n, hot)
        if hot.state == "up" and hot.pending:
            # The batch is what this step ships; the mutex keeps writes from
            # appending between the copy and the reset (HW-15).
            batch = list(hot.pending)
            if self.replicate(hot, self.peer(hot), batch):
                hot.pending = []

    def heard(self, n: Node) -> bool:
        """The monitor hears ``n``'s heartbeat: it is up, hot, at the current epoch.

        A hot node killed and restarted before its silence ran out is not the
        hot node that was: it answers empty, at epoch 0 (a new run id), in its
        original role, which for ``b`` is warm. It would never be confirmed
        (fencing), or never take a write, so its answers count as silence and
        the other node is promoted down_after after the last true heartbeat
        (HW-17).
        """
        return n.state == "up" and n.role == "hot" and n.epoch == self.epoch

    def promote(self) -> None:
        old = self._nodes[self.directory]
        new = self.peer(old)
        if new.state != "up" or new.epoch != self.epoch:
            # Nothing to promote to: the peer is down too, or restarted and
            # not resynced yet (epoch 0, empty): promoting it would lose
            # every write; the pair waits for the hot node instead.
            return
        self.epoch += 1
        new.role, new.epoch = "hot", self.epoch
        new.pending = []
        self.directory = new.name

    def demote(self, n: Node, hot: Node) -> None:
        """``n`` rejoins as warm: it drops what it has and copies the hot node."""
        if hot.state != "up":
            return
        n.role, n.epoch, n.pending = "warm", self.epoch, []
        n.data = dict(hot.data)
        # The copy holds everything the hot node's log would ship, and
        # shipping it afterwards would overwrite newer values with older ones.
        hot.pending = []


class MemoryClient:
    """A hot-warm client: writes and reads go to the node discovery names."""

    def __init__(self, cluster: MemoryCluster) -> None:
        self._cluster = cluster

    def write(self, key: str, value: str) -> bool:
        c = self._cluster
        return c.node_write(c._node(c.directory), key, value)

    def read(self, key: str) -> str | None:
        c = self._cluster
        return c.read_direct(c.directory, key)

    def control(self) -> MemoryCluster:
        return self._cluster

    def switchover(self) -> None:
        self._cluster.switchover()


def _build(ctx: Context, mode: str) -> Implementation:
    clock = ctx.clock if isinstance(ctx.clock, FakeClock) else FakeClock()
    cluster = MemoryCluster(mode=mode, clock=clock)
    return Implementation(
        client=lambda: MemoryClient(cluster),
        capabilities=frozenset({mode, "switchover", "injectable-clock"}),
        description=f"in-memory hot-warm pair, {mode} replication, simulated clock",
    )


def factory(ctx: Context) -> Implementation:
    return _build(ctx, "sync")


def factory_async(ctx: Context) -> Implementation:
    return _build(ctx, "async")

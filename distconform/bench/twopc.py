"""Two-phase commit workload: transfers per second over two participants.

``transfer``: one transaction adds -1 to an account on participant A and +1 to
one on B and writes a ledger row on each (four ``write`` calls), then
``coordinator.run(txid, [A, B])``; one operation is one transfer, and one the
coordinator aborts fails. The participants are the implementation's own
(capability ``participants``: XA branches for the MySQL reference, on the one
server the run uses) or else the suite's memory participants, as in the
conformance tests.

The floor applies the four writes as bare dict additions and its ``run``
returns at once: the work of the transfer with no vote, no decision log and no
second phase.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from distconform.api import Context, Implementation, new_namespace
from distconform.bench import Round, Sequential, Workload, closer

OPS = 20
ROUNDS = 10
ACCOUNTS = 20

FLOOR = "the transfer's four writes as dict additions; run() returns at once (no 2PC)"

_seq = itertools.count()


class FloorParticipant:
    """Writes go straight into a dict: nothing to prepare, commit or abort."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._data: dict[str, int] = {}

    def write(self, txid: str, key: str, delta: int) -> None:
        self._data[key] = self._data.get(key, 0) + delta


class FloorCoordinator:
    """The floor client: brings its participants; a transaction is already applied."""

    def participant(self, name: str) -> FloorParticipant:
        return FloorParticipant(name)

    def run(self, txid: str, participants: Sequence[Any]) -> bool:
        return True


def floor(ctx: Context) -> Implementation:
    return Implementation(
        client=FloorCoordinator, capabilities=frozenset({"participants"}), description=FLOOR
    )


def _participants(impl: Implementation, coordinator: Any) -> tuple[list[Any], Callable[[], None]]:
    """Two participants, and what to do once they are closed."""
    if "participants" in impl.capabilities:
        return [coordinator.participant("pa"), coordinator.participant("pb")], lambda: None
    from distconform.reference.twopc.memory import MemoryParticipant

    ns = new_namespace()
    return [MemoryParticipant("pa", ns), MemoryParticipant("pb", ns)], (
        lambda: MemoryParticipant.forget(ns)
    )


def _transfers() -> list[tuple[str, str, str]]:
    out = []
    for _ in range(OPS):
        n = next(_seq)
        out.append((f"x{n}", f"a{n % ACCOUNTS}", f"a{(n * 7) % ACCOUNTS}"))
    return out


def _transfer(impl: Implementation) -> Round:
    coordinator = impl.client()
    parts, forget = _participants(impl, coordinator)
    pa, pb = parts
    run = coordinator.run

    def transfer(txid: str, a: str, b: str) -> bool:
        pa.write(txid, a, -1)
        pb.write(txid, b, 1)
        pa.write(txid, f"t:{txid}", 1)
        pb.write(txid, f"t:{txid}", 1)
        return bool(run(txid, parts))

    def close() -> None:
        for c in [pa, pb, coordinator]:
            closer(c)()
        forget()

    return Sequential(transfer, _transfers, failed=lambda ok: not ok, close=close)


WORKLOADS = [
    Workload("transfer", "4 writes over 2 participants, then run(txid) to commit", OPS, ROUNDS,
             _transfer),
]  # fmt: skip

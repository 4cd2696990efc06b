"""The lock's property tests have teeth: they catch small bugs in the memory reference.

Each buggy variant below is the memory reference with one line changed. The
state machine from ``properties/test_lock_model.py`` runs against it directly
(no plugin, no servers) and must fail with the clause the bug breaks; the
unchanged reference must pass under the same settings.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from distconform.api import FakeClock
from distconform.reference.lock import memory
from distconform.reference.lock.memory import Grant, MemoryLockClient, MemoryLockService


def _load_model() -> ModuleType:
    # properties/ is a folder of tests, not a package: load the module by path
    # under a private name so that pytest's own import of it is not disturbed.
    path = Path(__file__).resolve().parent.parent / "properties" / "test_lock_model.py"
    spec = importlib.util.spec_from_file_location("_dc_properties_lock_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


model = _load_model()

#: Bounded and repeatable: derandomized, no example database. Shrinking stays
#: on so that the failure is the minimal one, whose message names the clause.
TEETH = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=False,
)


class ReleaseIgnoresOwner(MemoryLockService):
    """Release deletes the name's live grant, whoever holds it (a DEL without the owner check)."""

    def release(self, grant: Grant) -> bool:
        with self._cond:
            if self._free(grant.name, self.clock.now()):
                return False
            del self._held[grant.name]
            return True


class ExpiresLate(MemoryLockService):
    """Expiry compares with ``<``: a grant still blocks others at its expiry instant."""

    def _free(self, name: str, now: float) -> bool:
        held = self._held.get(name)
        return held is None or held[1] < now


class TokenReusedAfterExpiry(MemoryLockService):
    """The fencing counter moves on release only: a grant after an expiry reuses the token."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self._released: set[str] = set()

    def try_acquire(self, name: str, ttl: float) -> Grant | None:
        with self._cond:
            now = self.clock.now()
            if not self._free(name, now):
                return None
            if name in self._released or name not in self._tokens:
                self._tokens[name] = self._tokens.get(name, 0) + 1
            self._released.discard(name)
            owner = f"{name}:{now}:{len(self._held)}:{id(object())}"
            self._held[name] = (owner, now + ttl)
            return Grant(name, owner, self._tokens[name])

    def release(self, grant: Grant) -> bool:
        freed = super().release(grant)
        if freed:
            self._released.add(grant.name)
        return freed


class ExtendRevivesExpired(MemoryLockService):
    """Extend checks the owner but not the expiry: a lapsed grant comes back to life."""

    def extend(self, grant: Grant, ttl: float) -> bool:
        with self._cond:
            held = self._held.get(grant.name)
            if held is None or held[0] != grant.owner:
                return False
            self._held[grant.name] = (grant.owner, self.clock.now() + ttl)
            return True


class OwnedIgnoresExpiry(MemoryLockService):
    """owned() compares the owner but not the expiry: a lapsed grant still says True."""

    def owned(self, grant: Grant) -> bool:
        with self._cond:
            held = self._held.get(grant.name)
            return held is not None and held[0] == grant.owner


class RemainingRoundsUp(MemoryLockService):
    """remaining() rounds the time left up to whole seconds ("for display")."""

    def remaining(self, grant: Grant) -> float | None:
        left = super().remaining(grant)
        return None if left is None else float(-(-left // 1))


def target_of(service_cls: type[MemoryLockService]) -> Any:
    """A target factory: a fresh service of ``service_cls`` on a fresh FakeClock."""

    def make() -> Any:
        clock = FakeClock()
        service = service_cls(clock)
        return model.Target(clock, lambda: MemoryLockClient(service), lambda: None)

    return make


@pytest.mark.parametrize(
    ("service_cls", "options", "clause"),
    [
        (ReleaseIgnoresOwner, {}, "LOCK-3"),
        (ExpiresLate, {}, "LOCK-7"),
        (TokenReusedAfterExpiry, {"fencing": True}, "LOCK-12"),
        (ExtendRevivesExpired, {"extend": True}, "LOCK-15"),
        (OwnedIgnoresExpiry, {"observe": True}, "LOCK-21"),
        (RemainingRoundsUp, {"observe": True}, "LOCK-22"),
    ],
    ids=[
        "release-ignores-owner",
        "expires-late",
        "token-reused",
        "extend-revives",
        "owned-ignores-expiry",
        "remaining-rounds-up",
    ],
)
def test_machine_catches_bug(
    service_cls: type[MemoryLockService], options: dict[str, bool], clause: str
) -> None:
    """Hypothesis finds a step where the buggy variant disagrees with the model."""
    with pytest.raises(AssertionError, match=clause):
        model.run_lock_machine(target_of(service_cls), config=TEETH, **options)


def test_machine_passes_the_reference() -> None:
    """The unchanged memory reference agrees with the model under the same settings."""
    make = target_of(memory.MemoryLockService)
    model.run_lock_machine(make, fencing=True, extend=True, config=TEETH)
    model.run_lock_machine(make, observe=True, config=TEETH)

"""Property tests for server-side sessions (spec/session.md) against a model, on a fake clock.

Hypothesis drives one store per example through sequences of create, login,
save, load, revoke, revoke_user and clock advances (drawn from values that
land on the idle and absolute boundaries and a tick before them), and checks
every answer against :class:`Model`, the contract in a dozen lines: a
session is live while ``now < last_use + idle`` and ``now < created +
absolute``; a login moves the data of a live session to a new id, logged in,
and kills the old one. Ids are drawn from those the store issued, dead ones
included, so every call is also tried on revoked, replaced and timed-out
sessions. Needs ``injectable-clock`` (n/a otherwise: real time would make
each example last minutes).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from distconform.api import FakeClock
from distconform.plugin import NOT_APPLICABLE, Subject

MECHANISM = "session"
clause = pytest.mark.clause

IDLE, ABSOLUTE = 60.0, 150.0
TICK = 2.0**-10
START = 1000.0
USERS = ["alice", "bob"]
#: Examples at least, whatever the profile says, and steps per example: a
#: session dies by absolute only after a few idle periods of use, which
#: takes a few steps (``busy``), and 40 leave room for what comes after.
MIN_EXAMPLES, STEPS = 200, 40

_examples = itertools.count()


@dataclass
class Session:
    user: str | None
    created: float
    last_use: float
    data: dict[str, str] = field(default_factory=dict)


class Model:
    """The contract: live sessions by id."""

    def __init__(self) -> None:
        self.now = START
        self.live: dict[str, Session] = {}

    def get(self, sid: str) -> Session | None:
        s = self.live.get(sid)
        if s is not None and (self.now >= s.last_use + IDLE or self.now >= s.created + ABSOLUTE):
            del self.live[sid]
            return None
        return s


class SessionMachine(RuleBasedStateMachine):
    """One fresh store of the implementation under test, checked call by call."""

    def __init__(self, make: Callable[[FakeClock], Subject]) -> None:
        super().__init__()
        self.clock = FakeClock(START)
        self.subject = make(self.clock)
        self.c = self.subject.client("machine")
        self.c.configure(IDLE, ABSOLUTE)
        self.model = Model()
        self.issued: list[str] = []
        self.log: list[str] = []

    def teardown(self) -> None:
        self.subject.close()

    def _sid(self, i: int) -> str | None:
        return self.issued[i % len(self.issued)] if self.issued else None

    def _step(self, what: str) -> str:
        self.log.append(what)
        return "repro (t from 0): " + "; ".join(self.log[-12:])

    def _issue(self, sid: str, repro: str) -> None:
        assert sid not in self.issued, f"{repro}: returned {sid!r}, an id issued before"
        self.issued.append(sid)

    @rule(user=st.sampled_from([None, *USERS]))
    def create(self, user: str | None) -> None:
        sid = self.c.create(user)
        repro = self._step(f"s{len(self.issued)} = create({user})")
        self._issue(sid, repro)
        now = self.model.now
        self.model.live[sid] = Session(user, now, now)

    @rule(i=st.integers(0, 30), user=st.sampled_from(USERS))
    def login(self, i: int, user: str) -> None:
        sid = self._sid(i)
        if sid is None:
            return
        new = self.c.login(sid, user)
        repro = self._step(f"s{len(self.issued)} = login(s{self.issued.index(sid)}, {user})")
        self._issue(new, repro)
        old = self.model.get(sid)
        self.model.live.pop(sid, None)
        now = self.model.now
        self.model.live[new] = Session(user, now, now, dict(old.data) if old else {})

    @rule(i=st.integers(0, 30), key=st.sampled_from("ab"), value=st.sampled_from("123"))
    def save(self, i: int, key: str, value: str) -> None:
        sid = self._sid(i)
        if sid is None:
            return
        got = self.c.save(sid, {key: value})
        repro = self._step(f"save(s{self.issued.index(sid)}, {key}={value})")
        s = self.model.get(sid)
        assert got is (s is not None), f"{repro}: returned {got!r}, model says {s is not None}"
        if s is not None:
            s.data[key] = value
            s.last_use = self.model.now

    @rule(i=st.integers(0, 30))
    def load(self, i: int) -> None:
        sid = self._sid(i)
        if sid is None:
            return
        got = self.c.load(sid)
        repro = self._step(f"load(s{self.issued.index(sid)})")
        s = self.model.get(sid)
        want = None if s is None else s.data
        assert got == want, f"{repro}: returned {got!r}, expected {want!r}"
        if s is not None:
            s.last_use = self.model.now

    @rule(i=st.integers(0, 30))
    def revoke(self, i: int) -> None:
        sid = self._sid(i)
        if sid is None:
            return
        self.c.revoke(sid)
        self._step(f"revoke(s{self.issued.index(sid)})")
        self.model.live.pop(sid, None)

    @rule(user=st.sampled_from(USERS))
    def revoke_user(self, user: str) -> None:
        self.c.revoke_user(user)
        self._step(f"revoke_user({user})")
        for sid in [k for k, s in self.model.live.items() if s.user == user]:
            del self.model.live[sid]

    @rule(gap=st.sampled_from([TICK, IDLE / 2, IDLE - TICK, IDLE, ABSOLUTE - IDLE]))
    def advance(self, gap: float) -> None:
        self.clock.advance(gap)
        self.model.now += gap
        self._step(f"advance {gap:g} s (t={self.model.now - START:g})")

    @rule(i=st.integers(0, 30))
    def busy(self, i: int) -> None:
        """A busy user: three loads, each just before the idle deadline, to reach absolute."""
        for _ in range(3):
            self.load(i)
            self.advance(IDLE - TICK)

    @invariant()
    def clocks_agree(self) -> None:
        assert self.clock.now() == self.model.now


@pytest.fixture
def make_store(impl: Subject) -> Callable[[FakeClock], Subject]:
    """Fresh instances of ``impl`` on a given fake clock, one per example, under sub-namespaces."""
    if not impl.has("injectable-clock"):
        pytest.skip(f"{NOT_APPLICABLE}: the model runs on a fake clock ('injectable-clock')")

    def make(clock: FakeClock) -> Subject:
        ns = f"{impl.ctx.namespace}p{next(_examples)}_"
        ctx = dataclasses.replace(impl.ctx, namespace=ns, clock=clock)
        return Subject(impl.adapter, impl.adapter.build(ctx), ctx, impl.mechanism,
                       impl.call_timeout)  # fmt: skip

    return make


@clause("SESSION-3", "SESSION-4", "SESSION-5", "SESSION-6", "SESSION-7", "SESSION-8", "SESSION-9")
def test_session_store_agrees_with_model(make_store: Callable[[FakeClock], Subject]) -> None:
    """Every call's answer agrees with the model, dead ids included, at every boundary."""
    examples = max(settings().max_examples, MIN_EXAMPLES)
    run_state_machine_as_test(
        lambda: SessionMachine(make_store),
        settings=settings(
            max_examples=examples,
            stateful_step_count=STEPS,
            deadline=None,
            # One failure (the simplest): several would be an ExceptionGroup, an error.
            report_multiple_bugs=False,
        ),
    )

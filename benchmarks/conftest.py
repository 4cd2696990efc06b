"""The package's workloads under pytest-benchmark, for every registered implementation.

``pytest benchmarks --benchmark-json=.distconform/pytest-bench.json`` times the
workloads of ``distconform/bench/<mechanism>.py`` (the ones ``distconform bench``
runs) on the floor and on every implementation registered for the mechanism,
one benchmark per implementation and workload, grouped by ``<mechanism>-<workload>``;
``benchmarks/summary.py`` prints them beside the floor. One benchmark iteration
is one round of the workload (``extra_info["ops_per_round"]`` operations).

Servers: the URLs in ``DISTCONFORM_REDIS_URL`` / ``DISTCONFORM_MYSQL_URL``, or
servers of our own, as everywhere else (:mod:`distconform.backends`); an
implementation whose server is missing is skipped with the reason. Every key
and table lives under a fresh namespace, removed after its benchmark. Time
limits: the set-up runs under the call timeout; a round that hangs is stopped
by pytest-timeout (the ini's ``timeout``), which fails that benchmark only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from distconform import backends, bench, mechanisms
from distconform.adapters import Adapter, registered, resolve
from distconform.bench import command
from distconform.errors import BackendUnavailable
from distconform.guard import DEFAULT_CALL_TIMEOUT, call_with_timeout

#: Registered names not benchmarked here, and why.
LEFT_OUT = {
    # Its entries are padded to 1 MB (Redis budgets bytes, not entries), so
    # the workloads' full cache of 1000 entries would take a gigabyte.
    "redis-allkeys-lru": "1 MB per entry",
}


@pytest.fixture(scope="session")
def servers() -> Iterator[backends.Backends]:
    b = backends.resolve()
    try:
        yield b
    finally:
        b.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking ``workload`` and ``name`` runs on its module's MECHANISM's cases."""
    if {"workload", "name"} <= set(metafunc.fixturenames):
        metafunc.parametrize(("workload", "name"), cases(metafunc.module.MECHANISM))


def cases(mechanism: str) -> list[Any]:
    """pytest params (workload, name): per workload the floor, then every registered name.

    In this order so that a group's benchmarks run one after the other, close
    in time on a machine whose load changes (``distconform bench`` goes further
    and interleaves their rounds).
    """
    workloads = bench.module(mechanism).WORKLOADS
    names = ["floor", *sorted(set(registered(mechanism)) - set(LEFT_OUT))]
    return [pytest.param(w, n, id=f"{w.name}-{n}") for w in workloads for n in names]


def _adapter(mech: mechanisms.Mechanism, name: str) -> Adapter:
    if name != "floor":
        return resolve(mech, name)
    mod = bench.module(mech.name)
    return Adapter(mech.name, "floor", f"{mod.__name__}:floor", mod.floor)


@pytest.fixture
def timed(benchmark: Any, servers: backends.Backends) -> Callable[[str, str, bench.Workload], None]:
    """``timed(mechanism, name, workload)``: time the workload on ``name`` (or the floor)."""

    def run(mechanism: str, name: str, workload: bench.Workload) -> None:
        mech = mechanisms.get(mechanism)
        adapter = _adapter(mech, name)
        benchmark.group = f"{mechanism}-{workload.name}"
        needs = adapter.build(backends.context_for(backends.Backends())).needs
        missing = [k for k in sorted(needs & {"redis", "mysql"}) if servers.ensure(k) is None]
        if missing:
            pytest.skip("; ".join(servers.missing[k] for k in missing))
        try:
            impl, ctx = command.build(adapter, servers, DEFAULT_CALL_TIMEOUT)
        except BackendUnavailable as exc:  # Redlock's masters
            pytest.skip(str(exc))
        try:
            if workload.requires and workload.requires not in impl.capabilities:
                pytest.skip(f"{name} does not declare {workload.requires}")
            rounds = call_with_timeout(
                lambda: workload.prepare(impl), DEFAULT_CALL_TIMEOUT, f"{name} set-up"
            )
            try:
                # As distconform bench does: the floor is its fastest round of 10 or more.
                n = max(workload.rounds, bench.FLOOR_ROUNDS) if name == "floor" else workload.rounds
                benchmark.pedantic(rounds.round, rounds=n, warmup_rounds=1)
            finally:
                rounds.close()
            benchmark.extra_info.update(
                implementation=name, package=impl.package, ops_per_round=workload.ops
            )
        finally:
            command.cleanup(impl, ctx, DEFAULT_CALL_TIMEOUT)

    return run

"""The pytest plugin: options, the ``impl`` fixture, clause outcomes and reports.

Loaded through the ``pytest11`` entry point, so that ``--impl`` works with
``pytest --pyargs distconform.conformance`` as well as from a clone.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest

from distconform import backends as _backends
from distconform import clauses as _clauses
from distconform import failures, mechanisms
from distconform.adapters import Adapter, resolve, validate_client
from distconform.api import Context, Implementation
from distconform.calibrate import Calibrator, Timing
from distconform.errors import UsageError
from distconform.faultproxy import FaultProxy
from distconform.guard import DEFAULT_CALL_TIMEOUT, Guarded, call_with_timeout

GROUP = "distconform"
OPT_IMPL = "--impl"
OPT_REDIS = "--redis-url"
OPT_MYSQL = "--mysql-url"
OPT_REQUIRE = "--require-backends"
OPT_TIMEOUT = "--call-timeout"
OPT_REPORT = "--dc-report-dir"
OPT_CLAUSE = "--clause"
OPT_PROGRESS = "--dc-progress"
OPT_KEEP = "--dc-keep-history"
NOT_APPLICABLE = "not applicable"
#: Ini option: pytest-xdist workers for a run that names none (see pytest_load_initial_conftests).
INI_WORKERS = "distconform_workers"
#: Ini option: files whose tests share one xdist worker (see _Results.pytest_xdist_make_scheduler).
INI_ONE_WORKER = "distconform_one_worker"

_BACKENDS_KEY = pytest.StashKey["_backends.Backends"]()
_ADAPTERS_KEY = pytest.StashKey[dict[str, list[Adapter]]]()
_RESULTS_KEY = pytest.StashKey[list[dict[str, Any]]]()
_IMPLS_KEY = pytest.StashKey[dict[str, dict[str, Any]]]()
_CALIBRATOR_KEY = pytest.StashKey[Calibrator]()
#: time.monotonic() when a test's setup began: its reproduction's times count from it.
_STARTED_KEY = pytest.StashKey[float]()
#: The user_properties key under which a test's timing checks travel to the report.
TIMING_PROPERTY = "distconform_timing"
#: The workeroutput key under which an xdist worker sends its servers and calibration.
WORKER_OUTPUT = "distconform"
_RESULTS_PLUGIN = "distconform-results"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup(GROUP, "distconform conformance suite")
    g.addoption(
        OPT_IMPL, action="append", default=[], metavar="MECH=IMPL",
        help="implementation under test: a registered name or MODULE:FACTORY (repeatable); "
        "default: the reference implementations",
    )  # fmt: skip
    g.addoption(OPT_REDIS, default=None, help=f"Redis URL (or ${_backends.ENV_REDIS})")
    g.addoption(OPT_MYSQL, default=None, help=f"MySQL URL (or ${_backends.ENV_MYSQL})")
    g.addoption(
        OPT_REQUIRE, action="store_true", default=False,
        help="fail, instead of skip, tests whose backend is missing",
    )  # fmt: skip
    g.addoption(
        OPT_TIMEOUT, type=float, default=DEFAULT_CALL_TIMEOUT,
        help="seconds one call into an implementation may take beyond its own waits",
    )  # fmt: skip
    g.addoption(
        OPT_CLAUSE, action="append", default=[], metavar="ID",
        help="only the tests of this clause (repeatable; globs: LOCK-1*); IMPL=ID limits "
        "it to one implementation (the report's name for it)",
    )  # fmt: skip
    g.addoption(
        OPT_PROGRESS, action="store_true", default=False,
        help="one line per finished test naming implementation, clauses and outcome "
        "(`distconform verify -v`), instead of pytest's dots",
    )  # fmt: skip
    g.addoption(
        OPT_REPORT, default=".distconform",
        help="folder for report.json, report.md and history/ (default .distconform)",
    )  # fmt: skip
    g.addoption(
        OPT_KEEP, type=int, default=None, metavar="N",
        help="keep only the newest N reports in history/ (default: every run's)",
    )  # fmt: skip
    parser.addini(
        INI_WORKERS,
        "pytest-xdist worker processes for a run that names none (-n); 0 runs in this process",
        default="0",
    )
    parser.addini(
        INI_ONE_WORKER,
        "test files whose tests all run on one pytest-xdist worker (module-scoped child runs)",
        type="linelist",
        default=[],
    )


def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> None:
    """Run side by side (pytest-xdist ``-n N --dist loadgroup``) when the ini file asks for it.

    The project's pyproject.toml sets ``distconform_workers``, so its README test
    command runs in parallel without naming xdist, and ``-p no:xdist`` (or any
    ``-n``/``--dist``) on the command line still wins; an ``-n`` in ``addopts``
    would break ``-p no:xdist``. Not in an xdist worker, nor in a process a
    worker started (they inherit ``PYTEST_XDIST_WORKER``): child runs started by
    tests run in one process unless they ask for workers themselves.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") or not early_config.pluginmanager.has_plugin("xdist"):
        return
    named = ("-n", "--numprocesses", "--dist", "-d", "--tx")
    if any(a in named or a.startswith(("-n", "--numprocesses=", "--dist=")) for a in args):
        return
    try:
        workers = int(str(early_config.getini(INI_WORKERS)).strip() or "0")
    except ValueError:
        msg = f"{INI_WORKERS} in the ini file: write a number of workers"
        raise pytest.UsageError(msg) from None
    if workers > 0:
        args[:] = [*args, "-n", str(workers), "--dist", "loadgroup"]


def _hypothesis_profiles_without_entry_point() -> None:
    """Hypothesis loads the profiles at its import (distconform.hypothesis_profiles);
    an install made before pyproject named that entry point gets them here, as before."""
    from importlib.metadata import entry_points

    from distconform import hypothesis_profiles

    named = hypothesis_profiles.ENTRY_POINT
    if not any(ep.value == named for ep in entry_points(group="hypothesis")):
        hypothesis_profiles.register()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "clause(*ids): the spec clauses this test checks")
    config.stash[_RESULTS_KEY] = []
    config.stash[_IMPLS_KEY] = {}
    if not config.pluginmanager.has_plugin(_RESULTS_PLUGIN):
        config.pluginmanager.register(_Results(config), _RESULTS_PLUGIN)
    _hypothesis_profiles_without_entry_point()
    selected: dict[str, list[Adapter]] = {}
    try:
        from distconform.report.history import check_keep

        check_keep(config.getoption(OPT_KEEP), OPT_KEEP)
        for text in config.getoption(OPT_IMPL) or []:
            mech_name, sep, impl = text.partition("=")
            if not sep or not impl:
                raise UsageError(f"{OPT_IMPL} {text!r}: write MECHANISM=IMPL, e.g. lock=redis-py")
            mech = mechanisms.get(mech_name)
            selected.setdefault(mech.name, []).append(resolve(mech, impl))
        explicit = bool(selected)
        for name, mech in mechanisms.MECHANISMS.items():
            if name not in selected and not explicit:
                selected[name] = [resolve(mech, r) for r in mech.references]
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_ADAPTERS_KEY] = selected


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--clause``: keep the tests tagged with a selected clause, deselect the rest."""
    try:
        every, per = _clauses.selection(config.getoption(OPT_CLAUSE) or [])
    except UsageError as exc:
        raise pytest.UsageError(f"{OPT_CLAUSE}: {exc}") from None
    if not every and not per:
        return
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("clause")
        callspec = getattr(item, "callspec", None)
        adapter = callspec.params.get("impl") if callspec is not None else None
        patterns = every + (per.get(adapter.name, []) if isinstance(adapter, Adapter) else [])
        ids = [str(c).upper() for c in marker.args] if marker is not None else []
        if any(fnmatch.fnmatchcase(c, p) for c in ids for p in patterns):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "impl" not in metafunc.fixturenames:
        return
    mech = getattr(metafunc.module, "MECHANISM", None)
    if mech is None:
        raise UsageError(f"{metafunc.module.__name__} uses `impl` but sets no MECHANISM")
    adapters = metafunc.config.stash[_ADAPTERS_KEY].get(mech, [])
    if not adapters:  # --impl named other mechanisms only: say so instead of pytest's
        # "got empty parameter set" (pytest_runtest_makereport files no result for it).
        skip = pytest.mark.skip(reason=f"no {mech} implementation selected ({OPT_IMPL} {mech}=...)")
        metafunc.parametrize("impl", [pytest.param(None, marks=skip)], ids=["none"], indirect=True)
        return
    metafunc.parametrize("impl", adapters, ids=[a.name for a in adapters], indirect=True)


@pytest.fixture(scope="session")
def dc_backends(pytestconfig: pytest.Config) -> Iterator[_backends.Backends]:
    """The run's servers, found or started once."""
    try:
        b = _backends.resolve(pytestconfig.getoption(OPT_REDIS), pytestconfig.getoption(OPT_MYSQL))
    except UsageError as exc:
        pytest.exit(str(exc), returncode=2)
    pytestconfig.stash[_BACKENDS_KEY] = b
    yield b
    b.close()


@pytest.fixture(scope="session")
def dc_calibrator(pytestconfig: pytest.Config, dc_backends: _backends.Backends) -> Calibrator:
    """The run's calibration; nothing is measured until a test first asks."""
    cal = Calibrator(lambda kind: dc_backends.url(kind) if kind in ("redis", "mysql") else None)
    pytestconfig.stash[_CALIBRATOR_KEY] = cal
    return cal


@pytest.fixture
def timing(request: pytest.FixtureRequest, dc_calibrator: Calibrator) -> Timing:
    """Calibrated tolerances and recorded verdicts (see :mod:`distconform.calibrate`)."""
    node = request.node

    def record(entry: dict[str, Any]) -> None:
        node.user_properties.append((TIMING_PROPERTY, entry))

    return Timing(dc_calibrator, record)


@dataclass
class Subject:
    """One implementation under test, inside one test."""

    adapter: Adapter
    impl: Implementation
    ctx: Context
    mechanism: mechanisms.Mechanism
    call_timeout: float
    _clients: list[Guarded] = field(default_factory=list)
    #: Backends this subject reaches through a fault proxy (see :meth:`via_proxy`).
    proxied: frozenset[str] = frozenset()
    _children: list[tuple[Subject, FaultProxy]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.adapter.name

    def has(self, capability: str) -> bool:
        return capability in self.impl.capabilities

    def client(self, label: str | None = None) -> Any:
        """A new client, checked against the protocol, every call time-limited."""
        what = f"{self.name}: new client"
        raw = call_with_timeout(self.impl.client, self.call_timeout, what)
        validate_client(self.mechanism, self.adapter, self.impl, raw)
        g = Guarded(raw, label or f"{self.name}", self.call_timeout, extra=_wait_budget)
        self._clients.append(g)
        return g

    def via_proxy(self, backend: str) -> tuple[Subject, FaultProxy]:
        """The same adapter, rebuilt on the same namespace, reaching ``backend`` through a proxy.

        ``backend`` is ``"redis"`` or ``"mysql"``: the context's URL for it is
        rewritten to a :class:`~distconform.faultproxy.FaultProxy` on 127.0.0.1
        (user, password, database and query kept). Clients of the new subject,
        and processes spawned for it (they get its context), go through the
        proxy. Both are closed when this subject is, at the end of the test.
        """
        attr = {"redis": "redis_url", "mysql": "mysql_url"}.get(backend)
        if attr is None:
            raise ValueError(f"via_proxy({backend!r}): the backend is 'redis' or 'mysql'")
        url = getattr(self.ctx, attr)
        if url is None:
            raise ValueError(f"{self.name}: no {backend} URL in this test's context to proxy")
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"via_proxy({backend!r}): {url!r} is not a TCP URL")
        default_port = {"redis": 6379, "mysql": 3306}[backend]
        proxy = FaultProxy((parts.hostname, parts.port or default_port)).start()
        try:
            routed = proxy.url_for(url)
            ctx = (
                dataclasses.replace(self.ctx, redis_url=routed)
                if backend == "redis"
                else dataclasses.replace(self.ctx, mysql_url=routed)
            )
            what = f"{self.name}: factory (via proxy)"
            built = call_with_timeout(lambda: self.adapter.build(ctx), self.call_timeout, what)
        except BaseException:
            proxy.stop()
            raise
        sub = Subject(self.adapter, built, ctx, self.mechanism, self.call_timeout,
                      proxied=self.proxied | {backend})  # fmt: skip
        self._children.append((sub, proxy))
        return sub, proxy

    def close(self) -> None:
        for sub, proxy in self._children:
            try:
                sub.close()
            finally:
                proxy.stop()
        self._children.clear()
        for g in self._clients:
            close = getattr(g.unwrapped, "close", None)
            if callable(close):
                try:
                    g.close()
                except Exception:
                    pass
            g.shutdown()
        if self.impl.close is not None:
            call_with_timeout(self.impl.close, self.call_timeout, f"{self.name}: close")


def _wait_budget(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> float:
    """A call asked to wait gets that wait added to its time limit."""
    t = kwargs.get("timeout")
    if t is None and name == "acquire" and len(args) >= 3:
        t = args[2]
    return float(t) if isinstance(t, int | float) else 0.0


@pytest.fixture
def impl(request: pytest.FixtureRequest, dc_backends: _backends.Backends) -> Iterator[Subject]:
    """The implementation under test, built fresh under a unique namespace."""
    adapter: Adapter = request.param
    cfg = request.config
    timeout = float(cfg.getoption(OPT_TIMEOUT))
    mech = mechanisms.get(adapter.mechanism)
    ctx = _backends.context_for(dc_backends)
    try:
        built = call_with_timeout(lambda: adapter.build(ctx), timeout, f"{adapter.name}: factory")
    except UsageError as exc:
        pytest.exit(str(exc), returncode=2)
    for need in sorted(built.needs - {"redis-masters"}):
        dc_backends.ensure(need)
    if (ctx.redis_url, ctx.mysql_url) != (dc_backends.redis_url, dc_backends.mysql_url):
        # A server was started for this implementation: build it again with its URL.
        ctx = dataclasses.replace(
            ctx, redis_url=dc_backends.redis_url, mysql_url=dc_backends.mysql_url
        )
        built = call_with_timeout(lambda: adapter.build(ctx), timeout, f"{adapter.name}: factory")
    if "redis-masters" in built.needs:
        # Redlock-style implementations need several independent servers; the
        # context carries their URLs, so build again now that they exist.
        try:
            masters = dc_backends.redis_masters(3)
        except UsageError as exc:
            _missing(cfg, str(exc))
        ctx = dataclasses.replace(ctx, extra={**ctx.extra, "redis_masters": masters})
        built = call_with_timeout(lambda: adapter.build(ctx), timeout, f"{adapter.name}: factory")
    for need in sorted(built.needs - {"redis-masters"}):
        if dc_backends.url(need) is None:
            _missing(cfg, dc_backends.missing.get(need, f"no {need} server"))
    subject = Subject(adapter, built, ctx, mech, timeout)
    cfg.stash[_IMPLS_KEY].setdefault(
        f"{adapter.mechanism}/{adapter.name}",
        {
            "name": adapter.name,
            "mechanism": adapter.mechanism,
            "spec": adapter.spec,
            "package": built.package,
            "capabilities": sorted(built.capabilities),
            "description": built.description,
            "notes": dict(built.notes),
        },
    )
    marker = request.node.get_closest_marker("clause")
    if marker is not None:
        wanted = _clauses.all_clauses()
        for cid in marker.args:
            cap = wanted[cid].requires if cid in wanted else None
            if cap and not subject.has(cap):
                pytest.skip(f"{NOT_APPLICABLE}: {cid} needs capability {cap!r}")
    try:
        yield subject
    finally:
        try:
            subject.close()
        finally:
            _backends.cleanup_namespace(ctx.namespace, ctx.redis_url, ctx.mysql_url)
            for url in ctx.extra.get("redis_masters", ()):
                _backends.cleanup_namespace(ctx.namespace, url, None)


def _missing(cfg: pytest.Config, reason: str) -> NoReturn:
    if cfg.getoption(OPT_REQUIRE):
        pytest.fail(f"{OPT_REQUIRE}: {reason}", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------ outcomes


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_STARTED_KEY] = time.monotonic()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    callspec = getattr(item, "callspec", None)
    marker = item.get_closest_marker("clause")
    adapter = callspec.params.get("impl") if callspec is not None else None
    if marker is None or not isinstance(adapter, Adapter):
        # Not a conformance test, or one of a mechanism no --impl selected
        # (pytest's empty parameter set: a skipped test without an adapter).
        return report
    # Every phase: the JUnit test case is opened by whichever phase reports first.
    report.distconform_label = failures.junit_name(
        adapter.mechanism, adapter.name, marker.args, item.name
    )
    outcome: str | None = None
    message = ""
    if report.skipped and report.when in ("setup", "call"):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        reason = reason.removeprefix("Skipped: ")
        outcome = "n/a" if reason.startswith(NOT_APPLICABLE) else "skipped"
        message = reason
    elif report.when == "call":
        if report.passed:
            outcome = "pass"
        elif report.failed:
            exc = call.excinfo
            # pytest.fail() is a test's own verdict, as an assert is.
            failed = (AssertionError, pytest.fail.Exception)
            outcome = "fail" if exc is not None and exc.errisinstance(failed) else "error"
            message = _message(call)
    elif report.failed:  # setup or teardown broke
        outcome, message = "error", _message(call)
    if outcome is not None:
        # Carried on the report, so that under pytest-xdist the result reaches
        # the controller (which writes the one report) with the test's outcome;
        # pytest_runtest_logreport files it, in this process or the controller.
        meta = item.config.stash[_IMPLS_KEY].get(f"{adapter.mechanism}/{adapter.name}")
        report.distconform_impl = meta
        report.distconform_result = {
            "implementation": adapter.name,
            "mechanism": adapter.mechanism,
            "spec": adapter.spec,
            "clauses": list(marker.args),
            "test": item.nodeid,
            "outcome": outcome,
            "message": message,
            "duration": round(report.duration, 4),
            "timing": [v for k, v in item.user_properties if k == TIMING_PROPERTY],
        }
        if outcome in ("fail", "error") and call.excinfo is not None:
            started = item.stash.get(_STARTED_KEY, time.monotonic() - call.duration)
            report.distconform_result["reproduction"] = failures.reproduction(
                item, call.excinfo, started, time.monotonic()
            )
    return report


class _Results:
    """Files the results reports carry; under pytest-xdist, also the workers' figures.

    A plugin object registered per run (pytest_configure), since
    pytest_runtest_logreport and pytest_testnodedown get no config.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        #: Per xdist worker: its servers and calibration (sent at its session end).
        self.workers: dict[str, dict[str, Any]] = {}
        self.session: pytest.Session | None = None
        #: Tests with an outcome so far (--dc-progress counts them).
        self.done: set[str] = set()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._junit_name(report)
        result = getattr(report, "distconform_result", None)
        if result is None:
            return
        self.config.stash[_RESULTS_KEY].append(result)
        meta = getattr(report, "distconform_impl", None)
        if meta is not None:
            self.config.stash[_IMPLS_KEY].setdefault(f"{meta['mechanism']}/{meta['name']}", meta)
        self._progress(result)

    def _progress(self, result: dict[str, Any]) -> None:
        """--dc-progress: a line per outcome, where pytest's terminal writes (not in a worker)."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if not self.config.getoption(OPT_PROGRESS) or terminal is None:
            return
        if hasattr(self.config, "workerinput"):
            return
        from distconform.report import SYMBOL

        self.done.add(result["test"])
        total = self.session.testscollected if self.session is not None else 0
        line = failures.progress_line(
            result, SYMBOL[result["outcome"]], len(self.done), max(total, len(self.done))
        )
        terminal.write_line(line)

    def _junit_name(self, report: pytest.TestReport) -> None:
        """--junitxml: the test case is named ``lock/redis LOCK-8 test_x[redis]``.

        pytest's own junitxml writes the file (in the controller under
        xdist, where these reports arrive); this sets the name attribute as
        its ``record_xml_attribute`` fixture would, which cannot under xdist
        (the fixture runs in a worker, which has no XML). Before the XML
        plugin sees the report (tryfirst), on a phase that opens the test
        case (every phase but a passed setup).
        """
        from _pytest.junitxml import xml_key

        xml = self.config.stash.get(xml_key, None)
        label = getattr(report, "distconform_label", None)
        if xml is None or label is None or (report.when == "setup" and report.passed):
            return
        xml.node_reporter(report).add_attribute("name", label)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """--dist loadgroup, and every test of a file named in the ini file on one worker.

        Such files hold module-scoped fixtures with child runs, which each worker
        would otherwise run again. (xdist_group marks do not group under pytest
        9.2 with pytest-xdist 3.8: the worker's renamed node id is ignored.)
        """
        if config.getoption("dist", None) != "loadgroup":
            return None
        from xdist.scheduler import LoadGroupScheduling

        files = frozenset(str(f) for f in config.getini(INI_ONE_WORKER))

        class _Scheduling(LoadGroupScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                path = nodeid.split("::", 1)[0]
                return path if path in files else str(super()._split_scope(nodeid))

        return _Scheduling(config, log)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        out = getattr(node, "workeroutput", None) or {}
        if WORKER_OUTPUT in out:
            wid = (getattr(node, "workerinput", None) or {}).get("workerid", len(self.workers))
            self.workers[str(wid)] = out[WORKER_OUTPUT]


@pytest.hookimpl(wrapper=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """--dc-progress writes a line per test: no progress letters (dots) between them."""
    status = yield
    if config.getoption(OPT_PROGRESS) and status and len(status) == 3:
        category, _letter, word = status
        return category, "", word
    return status


def _message(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return ""
    text = call.excinfo.exconly().strip()
    return text[:2000]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    b = config.stash.get(_BACKENDS_KEY, None)
    calibrator = config.stash.get(_CALIBRATOR_KEY, None)
    measured = calibrator.measured if calibrator is not None else None
    own_cal = measured.to_json() if measured is not None else None
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        # An xdist worker: its results went to the controller with each report;
        # the controller writes the one report, with these figures merged in.
        workeroutput[WORKER_OUTPUT] = {
            "versions": dict(b.versions) if b is not None else {},
            "origin": dict(b.origin) if b is not None else {},
            "calibration": own_cal,
        }
        return
    results = config.stash.get(_RESULTS_KEY, [])
    if not results:
        return
    from distconform import report

    collector = config.pluginmanager.get_plugin(_RESULTS_PLUGIN)
    workers: dict[str, dict[str, Any]] = getattr(collector, "workers", {})
    servers: Any = b
    calibration = own_cal
    calibrations: dict[str, Any] = {}
    if workers:
        # Each worker found its own servers (the same URLs) and measured its own
        # calibration under the run's load; every timing verdict carries the
        # tolerance its worker applied. The report's headline calibration is the
        # one with the widest tight tolerance, and every worker's is kept.
        versions: dict[str, str] = {}
        origin: dict[str, str] = {}
        for w in sorted(workers):
            versions.update(workers[w].get("versions") or {})
            origin.update(workers[w].get("origin") or {})
            if workers[w].get("calibration"):
                calibrations[w] = workers[w]["calibration"]
        servers = SimpleNamespace(versions=versions, origin=origin)
        if calibrations:
            calibration = max(calibrations.values(), key=lambda c: c["tolerance"]["memory"])
    # In the order the run named them (--impl, or the references), not the
    # order their first results arrived in (under xdist, any worker's first).
    rank: dict[str, int] = {}
    for mech, adapters in config.stash[_ADAPTERS_KEY].items():
        for a in adapters:
            rank.setdefault(f"{mech}/{a.name}", len(rank))
    impls = dict(
        sorted(config.stash[_IMPLS_KEY].items(), key=lambda kv: rank.get(kv[0], len(rank)))
    )
    data = report.build(results, impls, servers, calibration=calibration)
    if calibrations:
        data["calibration_per_worker"] = calibrations
    maxfail = config.getoption("maxfail")
    if maxfail and session.testsfailed >= maxfail:
        # --maxfail stopped the run: the clauses it did not reach are not-run.
        data["stopped"] = {"max_fail": maxfail, "failed": session.testsfailed}
    out = Path(config.getoption(OPT_REPORT))
    if not out.is_absolute():
        out = Path(config.invocation_params.dir) / out
    report.write(data, out, config.getoption(OPT_KEEP))
    config.stash[_RESULTS_KEY] = []
    config._distconform_report = out / "report.json"  # type: ignore[attr-defined]
    config._distconform_calibrations = (  # type: ignore[attr-defined]
        calibrations or ({"": own_cal} if own_cal else {})
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    path = getattr(config, "_distconform_report", None)
    if path is not None:
        terminalreporter.write_line(f"distconform report: {path}")
    cals = getattr(config, "_distconform_calibrations", None)
    if cals is None:
        calibrator = config.stash.get(_CALIBRATOR_KEY, None)
        cal = calibrator.measured if calibrator is not None else None
        cals = {"": cal.to_json()} if cal is not None else {}
    for worker, c in sorted(cals.items()):
        figures = [f"jitter p99 {c['jitter']['p99'] * 1000:.1f} ms"] + [
            f"{k} round trip p99 {f['p99'] * 1000:.1f} ms" for k, f in sorted(c["rtt"].items())
        ]
        tight = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in c["tolerance"].items())
        who = f" ({worker})" if worker else ""
        terminalreporter.write_line(
            f"distconform timing calibration{who}: {', '.join(figures)}; tight tolerance "
            f"(1 round trip): {tight}"
        )

"""``distconform``: verify implementations, render reports, check the suite itself."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distconform import backends as _backends
from distconform import clauses as _clauses
from distconform import expectations, mechanisms
from distconform.adapters import Adapter, registered, resolve, validate_client
from distconform.errors import BackendUnavailable, UsageError

__all__ = ["main"]

#: What an interrupted run says, before the tests started or during them.
INTERRUPTED = "distconform: interrupted; no verdict (run it again)"
#: Per-test limit handed to pytest-timeout: a backstop behind the per-call limits.
TEST_TIMEOUT = 300
#: After Ctrl-C, how long the test session may take to wind down before it is
#: killed: pytest-xdist stops its workers within its own 10 s limit (its
#: EXIT_TIMEOUT), so a session still running 20 s after the signal is stuck.
STOP_GRACE = 20
#: verify's exit statuses, shown by `verify --help` (README says the same).
EXIT_STATUS = """exit status:
  0    every applicable MUST clause passed; with an expectations file: the run matched it
  1    a MUST clause failed; with an expectations file: a regression or an unexpected pass
  2    bad input or an empty selection (one line says what to fix)
  130  interrupted (Ctrl-C): no verdict"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("distconform")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distconform", description=__doc__)
    p.add_argument("--version", action="version", version=f"distconform {_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser(
        "verify", help="run a mechanism's conformance tests and print clause tables",
        epilog=EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    v.add_argument("mechanism", nargs="?", help="lock, ... (none: every mechanism's references)")
    v.add_argument(
        "impls",
        nargs="*",
        metavar="IMPL",
        help="registered name or MODULE:FACTORY (none: the references)",
    )
    v.add_argument("--redis-url", help=f"Redis URL (or ${_backends.ENV_REDIS})")
    v.add_argument("--mysql-url", help=f"MySQL URL (or ${_backends.ENV_MYSQL})")
    v.add_argument(
        "--require-backends",
        action="store_true",
        help="fail instead of leaving out implementations whose server is missing",
    )
    v.add_argument(
        "--report-dir", default=".distconform", help="where report.json/.md and history/ go"
    )
    v.add_argument(
        "--keep-history", type=int, metavar="N",
        help="keep only the newest N reports in REPORT_DIR/history (default: every run's)",
    )  # fmt: skip
    v.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    v.add_argument(
        "-n", "--workers", type=int, default=None, metavar="N",
        help=f"test processes side by side (default ${ENV_WORKERS} or {DEFAULT_WORKERS}; "
        "0: this process only)",
    )  # fmt: skip
    v.add_argument(
        "--clause", action="append", default=[], metavar="ID",
        help="only the tests of this clause (repeatable; globs such as 'LOCK-1*')",
    )  # fmt: skip
    v.add_argument(
        "--expectations", metavar="PATH",
        help=f"known failures to judge the run by (default: ./{expectations.DEFAULT_PATH} if any)",
    )  # fmt: skip
    v.add_argument(
        "--update-expectations", action="store_true",
        help="write the run's outcomes into the expectations file (keeps what did not run)",
    )  # fmt: skip
    v.add_argument(
        "--max-fail", type=int, default=None, metavar="N",
        help="stop after N failed tests, then list the selected clauses that did not run",
    )  # fmt: skip
    # A flag, not an optional value: `verify -x lock memory` must not read "lock" as N.
    v.add_argument("-x", dest="max_fail", action="store_const", const=1,
                   help="stop after the first failed test (--max-fail 1)")  # fmt: skip
    v.add_argument(
        "-v", "--verbose", action="store_true",
        help="a line per finished test: [done/total] MECH/IMPL CLAUSES TEST ... outcome",
    )  # fmt: skip
    v.add_argument(
        "--call-timeout", type=float, default=None, metavar="S",
        help="seconds one call into an implementation may take beyond its own wait "
        "(default 10)",
    )  # fmt: skip
    v.add_argument(
        "--junitxml",
        metavar="PATH",
        help="also write JUnit XML (one case per test: MECH/IMPL CLAUSES TEST)",
    )
    v.add_argument("--json", metavar="PATH", help="also write the report.json content here")
    v.epilog = (
        "Arguments after -- go to pytest as they are:\n"
        "  distconform verify lock memory -- -p no:randomly\n\n" + EXIT_STATUS
    )

    r = sub.add_parser(
        "report", help="render report.json as HTML (with the trend of the runs stored in "
        "history/ beside it), Markdown and badges",
    )  # fmt: skip
    r.add_argument("input", nargs="?", default=".distconform/report.json")
    r.add_argument("--out", default=None, help="output folder (default: beside the input)")

    c = sub.add_parser("check", help="lint the suite: clauses tested, cited clauses exist")
    c.add_argument("--root", default=".", help="repository root with properties/ and faults/")

    ls = sub.add_parser("list", help="registered implementations, and whether each can load")
    ls.add_argument("mechanism", nargs="?")

    cl = sub.add_parser("clauses", help="a mechanism's clauses: id, level, capability, text")
    cl.add_argument("mechanism")

    _diff_parser(sub)

    from distconform.bench import command as bench_command

    bench_command.add_parser(sub)
    return p  # fmt: skip


def _diff_parser(sub: Any) -> None:
    d = sub.add_parser(
        "diff", help="clauses whose verdict changed between two reports",
        description="Compare two reports: the clauses whose verdict changed, and the "
        "implementations and clauses in one report only. Exit 0 if no MUST clause regressed, "
        "1 if one went from pass to FAIL or ERROR, 2 for bad input.",
    )  # fmt: skip
    report_help = (
        "a report.json, a report folder (its latest report.json) or history:N "
        "(the N-th newest run stored in REPORT_DIR/history; history:1 is the newest)"
    )
    for name, default in (("old", "history:2"), ("new", "history:1")):
        d.add_argument(name, nargs="?", default=default, metavar=name.upper(),
                       help=f"{report_help}; default {default}")  # fmt: skip
    d.add_argument(
        "--report-dir", default=".distconform",
        help="the folder whose history/ history:N reads, where verify stores every run's "
        "report (default .distconform)",
    )  # fmt: skip
    d.add_argument("--json", action="store_true", help="print the comparison as JSON")


def _probe(mech: mechanisms.Mechanism, adapter: Adapter, b: _backends.Backends) -> str | None:
    """Build the implementation once and check its client; return a reason to leave it out."""
    from distconform.guard import DEFAULT_CALL_TIMEOUT, call_with_timeout

    ctx = _backends.context_for(b)
    try:
        impl = call_with_timeout(
            lambda: adapter.build(ctx), DEFAULT_CALL_TIMEOUT, f"{adapter.name}: factory"
        )
        if "redis-masters" in impl.needs:
            # As the plugin does: Redlock-style implementations get the URLs of
            # several private servers in the context, then are built again.
            try:
                masters = b.redis_masters(3)
            except BackendUnavailable as exc:
                return str(exc)
            ctx = dataclasses.replace(ctx, extra={**ctx.extra, "redis_masters": masters})
            impl = call_with_timeout(
                lambda: adapter.build(ctx), DEFAULT_CALL_TIMEOUT, f"{adapter.name}: factory"
            )
        missing = [n for n in sorted(impl.needs - {"redis-masters"}) if b.url(n) is None]
        if missing:
            return "; ".join(b.missing.get(n, f"no {n} server") for n in missing)
        client = call_with_timeout(impl.client, DEFAULT_CALL_TIMEOUT, f"{adapter.name}: client")
        validate_client(mech, adapter, impl, client)
        close = getattr(client, "close", None)
        if callable(close):
            close()
        if impl.close is not None:
            impl.close()
        return None
    except UsageError:
        raise
    except Exception as exc:
        raise _failed_to_start(adapter, exc) from None
    finally:
        _backends.cleanup_namespace(ctx.namespace, ctx.redis_url, ctx.mysql_url)
        for url in ctx.extra.get("redis_masters", ()):
            _backends.cleanup_namespace(ctx.namespace, url, None)


def _failed_to_start(adapter: Adapter, exc: Exception) -> UsageError:
    return UsageError(
        f"implementation {adapter.name!r} failed to start: {type(exc).__name__}: {exc}"
    )


#: Test processes of a verify run. The tests mostly wait (for grants and
#: windows to run out, for failovers), so more processes than the 2 cores of
#: a small CI machine still shorten the run; each process calibrates its own
#: timing tolerance, so a loaded machine widens the tight bounds, not the verdicts.
#: 8, as the README's test command: on 2 cores the five mechanisms' references
#: took 132 s with 4 and 82 s with 8 (quiet machine); with 12 the machine
#: starves: a TWOPC-10 vote due 0.6 s before its deadline missed it (other
#: agents' load on top), and the README run's LOCK-6 failed the Redis reference.
DEFAULT_WORKERS = 8
#: The environment's default for ``-n`` (a CI machine with more or fewer cores).
ENV_WORKERS = "DISTCONFORM_WORKERS"


def _worker_args(workers: int | None) -> list[str]:
    """pytest arguments for ``workers`` pytest-xdist processes (one process if 0 or no xdist).

    ``None``: ``$DISTCONFORM_WORKERS``, else :data:`DEFAULT_WORKERS`.
    """
    if workers is None:
        raw = os.environ.get(ENV_WORKERS, "").strip()
        try:
            workers = int(raw) if raw else DEFAULT_WORKERS
        except ValueError:
            raise UsageError(
                f"${ENV_WORKERS}={raw!r}: write a number of test processes (0: one process)"
            ) from None
        if workers < 0:
            raise UsageError(f"${ENV_WORKERS}={raw}: write 0 (one process) or more")
    if workers < 0:
        raise UsageError(f"--workers {workers}: write 0 (one process) or more")
    if importlib.util.find_spec("xdist") is None:  # not imported here: pytest rewrites it
        workers = 0
    if "no:xdist" in os.environ.get("PYTEST_ADDOPTS", ""):
        workers = 0  # a child run of the suite's own tests: xdist is not loaded
    if workers == 0:
        return ["-p", "no:xdist"]
    return ["-n", str(workers), "--dist", "loadgroup"]


def _run_session(pytest_args: list[str]) -> int:
    """Run the test session as a child process group and wait; return its exit code.

    Why a child and not ``pytest.main`` here: a KeyboardInterrupt raised while
    a finaliser runs (redis-py's ``ConnectionPool.__del__``, say) is printed as
    "Exception ignored" and dropped, and CI once saw Ctrl-C lost that way: the
    run went on to its end. Here this process only waits, so the signal lands
    in ``wait``; it is passed to the session's whole group (its xdist workers
    too), and a session that has not ended ``STOP_GRACE`` seconds later is
    killed. The group is the child's own so that the user's Ctrl-C, sent to
    the terminal's foreground group, reaches only this process, which then
    owns the shutdown (and stops the private servers it started).
    """
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *pytest_args], process_group=0)
    # SIGTERM (a CI job's timeout, `kill`) takes the same way out: without it
    # this process would die alone and leave the session's group running.
    before = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=STOP_GRACE)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):  # stuck, or a second Ctrl-C
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        raise
    finally:
        signal.signal(signal.SIGTERM, before)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _check_loop_options(args: argparse.Namespace) -> None:
    """Bad --max-fail, --call-timeout, --json, --junitxml values fail before a server starts."""
    if args.max_fail is not None and args.max_fail < 1:
        raise UsageError(f"--max-fail {args.max_fail}: write 1 or more (failed tests to allow)")
    if args.call_timeout is not None and not args.call_timeout > 0:
        raise UsageError(f"--call-timeout {args.call_timeout}: write a number of seconds above 0")
    for option, path in (("--json", args.json), ("--junitxml", args.junitxml)):
        if path is not None and Path(path).is_dir():
            raise UsageError(f"{option} {path} is a folder: name the file to write")


def _loop_args(args: argparse.Namespace) -> list[str]:
    """pytest arguments for the everyday-loop options of verify."""
    out: list[str] = []
    if args.max_fail is not None:
        out += ["--maxfail", str(args.max_fail)]
    if args.verbose:
        # Our line per test replaces pytest's dots and its [ 50%] column.
        out += ["--dc-progress", "-o", "console_output_style=classic"]
    if args.call_timeout is not None:
        out += ["--call-timeout", str(args.call_timeout)]
    if args.junitxml is not None:
        out += ["--junitxml", args.junitxml, "-o", "junit_suite_name=distconform"]
    return out


def _max_fail_reached(report_json: Path, before: int | None) -> bool:
    """Did this run's session write a report that says --max-fail stopped it?"""
    if not report_json.exists() or report_json.stat().st_mtime_ns == before:
        return False
    return bool(json.loads(report_json.read_text()).get("stopped"))


def _write_json_copy(source: Path, target: str) -> None:
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as exc:
        raise UsageError(f"--json {target}: cannot write it ({exc.strerror or exc})") from None


def verify(args: argparse.Namespace) -> int:
    import pytest

    from distconform import failures, report
    from distconform.report.history import check_keep

    if args.impls and not args.mechanism:
        raise UsageError("name the mechanism before the implementations: verify lock IMPL ...")
    _worker_args(args.workers)  # bad input fails before any server starts
    _check_loop_options(args)
    check_keep(args.keep_history, "--keep-history")
    try:
        _clauses.selection(args.clause)
    except UsageError as exc:
        raise UsageError(f"--clause {exc}") from None
    expected = expectations.for_run(args.expectations, args.update_expectations)
    mechs = (
        [mechanisms.get(args.mechanism)] if args.mechanism else list(mechanisms.MECHANISMS.values())
    )
    chosen: list[tuple[mechanisms.Mechanism, Adapter]] = []
    for mech in mechs:
        names = args.impls or list(mech.references)
        chosen += [(mech, resolve(mech, n)) for n in names]
    # Start only the servers the chosen implementations need (a factory does
    # not connect, so building one without URLs is cheap and tells its needs;
    # one that cannot be built stops the run before any server starts).
    probe_ctx = _backends.context_for(_backends.Backends())
    needs: set[str] = set()
    for _, adapter in chosen:
        try:
            needs |= adapter.build(probe_ctx).needs
        except UsageError:
            raise
        except Exception as exc:
            raise _failed_to_start(adapter, exc) from None
    if "redis-masters" in needs:
        needs.add("redis")
    kinds = tuple(k for k in ("redis", "mysql") if k in needs)
    b = _backends.resolve(args.redis_url, args.mysql_url, kinds=kinds, needed=kinds)
    for kind, env in (("redis", _backends.ENV_REDIS), ("mysql", _backends.ENV_MYSQL)):
        if kind not in kinds:
            os.environ.pop(env, None)  # not needed: the run's pytest must not check it either
    try:
        selected: list[tuple[mechanisms.Mechanism, Adapter]] = []
        for mech, adapter in chosen:
            reason = _probe(mech, adapter, b)
            if reason is None:
                selected.append((mech, adapter))
            elif args.impls or args.require_backends:
                raise UsageError(f"{adapter.name} cannot run: {reason}")
            else:
                print(f"distconform: leaving out {adapter.name}: {reason}", file=sys.stderr)
        if not selected:
            raise UsageError("no implementation can run here: start Redis/MySQL or pass URLs")
        # The run's pytest uses the servers found here instead of starting its own.
        if b.redis_url:
            os.environ[_backends.ENV_REDIS] = b.redis_url
        if b.mysql_url:
            os.environ[_backends.ENV_MYSQL] = b.mysql_url
        report_dir = Path(args.report_dir).resolve()
        stale = report_dir / "report.json"
        # A report newer than this moment is this run's; an older one is kept
        # as it was when the run writes none (nothing selected, interrupted early).
        before = stale.stat().st_mtime_ns if stale.exists() else None
        # Mechanism holds a dict, so it is not hashable: dedupe by name.
        pytest_args = [str(m.conformance_path) for m in {m.name: m for m, _ in selected}.values()]
        for mech, adapter in selected:
            pytest_args += ["--impl", f"{mech.name}={adapter.name}"]
        pytest_args += [
            "-q", "--tb=no", "-p", "no:cacheprovider", "--import-mode=importlib",
            "--dc-report-dir", str(report_dir), "-o", f"timeout={TEST_TIMEOUT}",
            "-W", "ignore::DeprecationWarning",
            # pytest-benchmark's plugin would leave a .benchmarks/ folder here.
            "-p", "no:benchmark",
            # No conformance test uses Hypothesis, but its plugin imports it at the
            # end of every test process (its terminal summary): ~1.8 s of CPU each
            # where bytecode is not written, while the run waits for the last worker.
            "-p", "no:hypothesispytest",
        ]  # fmt: skip
        pytest_args += _worker_args(args.workers)
        if args.require_backends:
            pytest_args.append("--require-backends")
        if args.keyword:
            pytest_args += ["-k", args.keyword]
        if args.keep_history is not None:
            pytest_args += ["--dc-keep-history", str(args.keep_history)]
        for pattern in args.clause:
            pytest_args += ["--clause", pattern]
        pytest_args += _loop_args(args) + args.pytest_args
        code = _run_session(pytest_args)
        # Under pytest-xdist a session stopped by --maxfail also ends as interrupted.
        if code == pytest.ExitCode.INTERRUPTED and not _max_fail_reached(stale, before):
            # No table: the clauses not reached would read as not run, the
            # ones cut short as failures; neither is a verdict.
            print(INTERRUPTED, file=sys.stderr)
            return 130
        if code == pytest.ExitCode.USAGE_ERROR and args.pytest_args:
            raise UsageError(
                f"pytest refused the arguments after --: {shlex.join(args.pytest_args)} "
                "(see pytest --help)"
            )
        if code == pytest.ExitCode.NO_TESTS_COLLECTED:
            chosen_by = " ".join(
                [f"-k {args.keyword!r}"] * bool(args.keyword)
                + [f"--clause {c}" for c in args.clause]
            )
            raise UsageError(
                f"no test matched {chosen_by or 'the selection'}: the report was left as it was; "
                "see `distconform verify --help`"
            )
        written = stale.exists() and stale.stat().st_mtime_ns != before
        if not written:
            print(f"distconform: the run wrote no report (pytest exit {code})", file=sys.stderr)
            return 1
        data = json.loads(stale.read_text())
        print()
        print(report.clause_table(data, width=shutil.get_terminal_size().columns))
        for line in failures.failure_lines(data):
            print(line)
        if data.get("stopped"):
            print("\n".join(failures.stopped_lines(data, _clauses.selection(args.clause))))
        if args.json is not None:
            _write_json_copy(stale, args.json)
        print(f"report: {stale}  (render: distconform report {stale})")
        bad = [
            r for r in data["results"]
            # not-run: left out by -k; `distconform check` ensures every clause has a test.
            if r["level"] == "MUST" and r["outcome"] not in ("pass", "n/a", "not-run")
        ]  # fmt: skip
        if expected is not None and code in (0, 1):
            return expected.judge(data, update=args.update_expectations)
        return 1 if bad or code not in (0, 1) else 0
    finally:
        b.close()


def _report(args: argparse.Namespace) -> int:
    from distconform import report
    from distconform.report import history

    path = Path(args.input)
    data = history.load(path)
    out = Path(args.out) if args.out else path.parent
    from distconform.report import bench

    written = report.render_all(
        data, out, path.parent / history.FOLDER, bench=bench.load(path.parent)
    )
    for p in written:
        print(p)
    return 0


def _diff(args: argparse.Namespace) -> int:
    from distconform.report import diff

    folder = Path(args.report_dir)
    result = diff.compare(diff.resolve(args.old, folder), diff.resolve(args.new, folder))
    print(json.dumps(result.to_json(), indent=2) if args.json else diff.text(result))
    return 1 if result.regressions else 0


def _loads(mech: mechanisms.Mechanism, name: str) -> str:
    """'ok', or why the adapter cannot be built here (its library is missing, say)."""
    try:
        impl = resolve(mech, name).build(_backends.context_for(_backends.Backends()))
    except Exception as exc:  # a factory does not connect: this is an import or a setup error
        return f"cannot load: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    if impl.close is not None:
        with contextlib.suppress(Exception):
            impl.close()
    return "ok"


def _list(args: argparse.Namespace) -> int:
    from distconform import report

    mechs = [mechanisms.get(args.mechanism)] if args.mechanism else mechanisms.MECHANISMS.values()
    rows = [["MECHANISM", "NAME", "KIND", "SPEC", "STATUS"]]
    for mech in mechs:
        for name, spec in sorted(registered(mech.name).items()):
            kind = "reference" if name in mech.references else "adapter"
            rows.append([mech.name, name, kind, spec, _loads(mech, name)])
    print(report.text_table(rows))
    return 0


def _clause_table(args: argparse.Namespace) -> int:
    from distconform import report

    mech = mechanisms.get(args.mechanism)
    rows = [["CLAUSE", "LEVEL", "NEEDS", "TEXT"]]
    rows += [[c.id, c.level, c.requires or "-", c.text] for c in _clauses.load(mech.name)]
    print(report.text_table(rows))
    return 0


def _split_passthrough(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Our arguments, and those after the first ``--`` (for verify's pytest)."""
    own = list(argv)
    if "--" not in own:
        return own, []
    at = own.index("--")
    return own[:at], own[at + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    own, passthrough = _split_passthrough(sys.argv[1:] if argv is None else argv)
    args: Any = parser.parse_args(own)
    if passthrough and args.command != "verify":
        parser.error(f"arguments after -- go to verify's pytest; {args.command} takes none")
    args.pytest_args = passthrough
    try:
        if args.command == "verify":
            return verify(args)
        if args.command == "report":
            return _report(args)
        if args.command == "check":
            from distconform import check

            problems = check.run(Path(args.root))
            for line in problems:
                print(line, file=sys.stderr)
            print(f"distconform check: {len(problems)} problem(s)")
            return 1 if problems else 0
        if args.command == "clauses":
            return _clause_table(args)
        if args.command == "diff":
            return _diff(args)
        if args.command == "bench":
            from distconform.bench.command import run as bench

            return bench(args, _probe)
        return _list(args)
    except BrokenPipeError:  # `distconform list | head`: the reader left
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 0
    except UsageError as exc:
        print(f"distconform: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

"""``distconform``: verify implementations, render reports, check the suite itself."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distconform import backends as _backends
from distconform import clauses as _clauses
from distconform import mechanisms
from distconform.adapters import Adapter, registered, resolve, validate_client
from distconform.errors import BackendUnavailable, UsageError

__all__ = ["main"]

#: What an interrupted run says, before the tests started or during them.
INTERRUPTED = "distconform: interrupted; no verdict (run it again)"
#: Per-test limit handed to pytest-timeout: a backstop behind the per-call limits.
TEST_TIMEOUT = 300


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

    v = sub.add_parser("verify", help="run a mechanism's conformance tests and print clause tables")
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
    v.add_argument("--report-dir", default=".distconform", help="where report.json/.md go")
    v.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    v.add_argument(
        "-n", "--workers", type=int, default=DEFAULT_WORKERS, metavar="N",
        help=f"test processes side by side (default {DEFAULT_WORKERS}; 0: this process only)",
    )  # fmt: skip
    v.add_argument(
        "--clause", action="append", default=[], metavar="ID",
        help="only the tests of this clause (repeatable; globs such as 'LOCK-1*')",
    )  # fmt: skip

    r = sub.add_parser("report", help="render report.json as HTML, Markdown and badges")
    r.add_argument("input", nargs="?", default=".distconform/report.json")
    r.add_argument("--out", default=None, help="output folder (default: beside the input)")

    c = sub.add_parser("check", help="lint the suite: clauses tested, cited clauses exist")
    c.add_argument("--root", default=".", help="repository root with properties/ and faults/")

    ls = sub.add_parser("list", help="registered implementations, and whether each can load")
    ls.add_argument("mechanism", nargs="?")

    cl = sub.add_parser("clauses", help="a mechanism's clauses: id, level, capability, text")
    cl.add_argument("mechanism")
    return p  # fmt: skip


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
        raise UsageError(
            f"implementation {adapter.name!r} failed to start: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        _backends.cleanup_namespace(ctx.namespace, ctx.redis_url, ctx.mysql_url)
        for url in ctx.extra.get("redis_masters", ()):
            _backends.cleanup_namespace(ctx.namespace, url, None)


#: Test processes of a verify run. The tests mostly wait (for grants and
#: windows to run out, for failovers), so more processes than the 2 cores of
#: a small CI machine still shorten the run; each process calibrates its own
#: timing tolerance, so a loaded machine widens the tight bounds, not the verdicts.
#: 8, as the README's test command: on 2 cores the five mechanisms' references
#: took 132 s with 4 and 82 s with 8 (quiet machine); with 12 the machine
#: starves: a TWOPC-10 vote due 0.6 s before its deadline missed it (other
#: agents' load on top), and the README run's LOCK-6 failed the Redis reference.
DEFAULT_WORKERS = 8


def _worker_args(workers: int) -> list[str]:
    """pytest arguments for ``workers`` pytest-xdist processes (one process if 0 or no xdist)."""
    if workers < 0:
        raise UsageError(f"--workers {workers}: write 0 (one process) or more")
    if importlib.util.find_spec("xdist") is None:  # not imported here: pytest rewrites it
        workers = 0
    if "no:xdist" in os.environ.get("PYTEST_ADDOPTS", ""):
        workers = 0  # a child run of the suite's own tests: xdist is not loaded
    if workers == 0:
        return ["-p", "no:xdist"]
    return ["-n", str(workers), "--dist", "loadgroup"]


def verify(args: argparse.Namespace) -> int:
    import pytest

    from distconform import report

    if args.impls and not args.mechanism:
        raise UsageError("name the mechanism before the implementations: verify lock IMPL ...")
    _worker_args(args.workers)  # bad input fails before any server starts
    try:
        _clauses.selection(args.clause)
    except UsageError as exc:
        raise UsageError(f"--clause {exc}") from None
    mechs = (
        [mechanisms.get(args.mechanism)] if args.mechanism else list(mechanisms.MECHANISMS.values())
    )
    chosen: list[tuple[mechanisms.Mechanism, Adapter]] = []
    for mech in mechs:
        names = args.impls or list(mech.references)
        chosen += [(mech, resolve(mech, n)) for n in names]
    # Start only the servers the chosen implementations need (a factory does
    # not connect, so building one without URLs is cheap and tells its needs).
    probe_ctx = _backends.context_for(_backends.Backends())
    needs: set[str] = set()
    for _, adapter in chosen:
        try:
            needs |= adapter.build(probe_ctx).needs
        except Exception:
            needs |= {"redis", "mysql"}  # it could not say: offer everything
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
        for pattern in args.clause:
            pytest_args += ["--clause", pattern]
        code = pytest.main(pytest_args)
        if code == pytest.ExitCode.INTERRUPTED:
            # No table: the clauses not reached would read as not run, the
            # ones cut short as failures; neither is a verdict.
            print(INTERRUPTED, file=sys.stderr)
            return 130
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
        print(report.clause_table(data))
        print(f"report: {stale}  (render: distconform report {stale})")
        bad = [
            r for r in data["results"]
            # not-run: left out by -k; `distconform check` ensures every clause has a test.
            if r["level"] == "MUST" and r["outcome"] not in ("pass", "n/a", "not-run")
        ]  # fmt: skip
        return 1 if bad or code not in (0, 1) else 0
    finally:
        b.close()


def _report(args: argparse.Namespace) -> int:
    from distconform import html

    path = Path(args.input)
    if not path.exists():
        raise UsageError(f"no report at {path}: run `distconform verify` first, or name the file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not a distconform report ({exc})") from None
    except OSError as exc:  # a folder, no permission, ...
        raise UsageError(f"cannot read {path}: {exc}") from None
    out = Path(args.out) if args.out else path.parent
    written = html.render_all(data, out)
    for p in written:
        print(p)
    return 0


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


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = _parser().parse_args(argv)
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

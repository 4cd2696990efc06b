"""What a failure looks like outside the report: reproductions, rerun commands, progress lines.

A FAIL is only useful if the person reading the CI log can act on it without
opening report.json: which clause, which implementation, what the test saw,
where, and the command that runs just that clause again. The plugin records a
failing test's reproduction where the test ran (an xdist worker, say: only
there is the exception), so it travels to the report with the test's result;
``verify`` prints it after the clause table, the same on a terminal or a pipe.

Two things make a raw pytest traceback hard to read or to compare between
runs, and both are rewritten here: paths into site-packages (or a checkout
far from the current folder) become package-relative (``redis/client.py``),
and ``time.monotonic()`` readings (seconds since boot, e.g. ``t=40711.0732``)
become offsets from the test's start (``t=t0+2.0732``).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "failure_lines",
    "junit_name",
    "progress_line",
    "relative_times",
    "reproduction",
    "rerun_command",
    "short_path",
    "stopped_lines",
]

#: No duration, TTL or timeout the tests print exceeds the per-test limit
#: (cli.TEST_TIMEOUT, pyproject's ``timeout``: 300 s), so a number is only
#: taken for a reading of the monotonic clock (seconds since boot) above it:
#: on a machine up for less than 5 minutes, readings stay as they were.
LONGEST_SPAN = 300.0
#: A test may print a deadline it set before it failed: waits inside a test
#: are bounded by the per-test limit, so none lies further ahead than this.
DEADLINE_AHEAD = 600.0
#: Readings are printed rounded (``:.3f``, ``:.4f``): one up to a rounding
#: step below the start is still the test's.
ROUNDING = 0.001

#: Frames that only carry a call to the implementation onto its thread with a
#: time limit (distconform.guard): the same in every traceback, they say
#: nothing about the failure, which is in the frames above and below them.
PLUMBING = ("distconform/guard.py:", "concurrent/futures/")

#: A decimal number on its own: not part of a version or an address (7.2.4,
#: 127.0.0.1), but either end of a range (``t=12.5..13.0``).
_DECIMAL = re.compile(r"(?:(?<=\.\.)|(?<![\w.]))(\d+)\.(\d+)(?!\w|\.\d)")
#: A short-style traceback's location line: ``path:lineno: in function``.
_LOCATION = re.compile(r"^(?P<path>[^\s].*?):(?P<lineno>\d+): (?P<rest>.*)$")


def relative_times(text: str, started: float, ended: float) -> str:
    """Monotonic-clock readings taken during the test as ``t0+S`` (S seconds after its start)."""
    low = max(started - ROUNDING, LONGEST_SPAN)
    high = ended + DEADLINE_AHEAD

    def rewrite(m: re.Match[str]) -> str:
        value = float(m.group(0))
        if not low <= value <= high:
            return m.group(0)
        offset = value - started
        return f"t0{'+' if offset >= 0 else '-'}{abs(offset):.{len(m.group(2))}f}"

    return _DECIMAL.sub(rewrite, text)


def _module_roots() -> list[Path]:
    """Folders that import paths are relative to, longest first (site-packages, the path)."""
    roots = {Path(p).resolve() for p in sys.path if p and Path(p).is_dir()}
    return sorted(roots, key=lambda p: len(p.parts), reverse=True)


def _own_folders() -> dict[Path, str]:
    """This package's loaded subpackages: folder -> the path the installed package gives it.

    From a checkout the folders differ (``conformance/`` is installed as
    ``distconform/conformance/``), and pytest imports test files under names
    of its own: the package's name says where a folder belongs.
    """
    folders = {}
    for name, module in list(sys.modules.items()):
        if name == "distconform" or name.startswith("distconform."):
            for folder in getattr(module, "__path__", None) or ():
                folders[Path(folder).resolve()] = name.replace(".", "/")
    return folders


def short_path(path: str, base: Path | None = None) -> str:
    """``path`` without the folders a reader does not need.

    This package's files are named as the installed package names them
    (``distconform/conformance/test_lock.py``), from a checkout as well;
    other importable files relative to their sys.path folder
    (``redis/client.py``); anything else relative to ``base`` (the current
    folder) when it lies inside it, else it is left as it is.
    """
    here = (base or Path.cwd()).resolve()
    p = (here / path).resolve()
    own = _own_folders()
    for folder in p.parents:
        if folder in own:
            return f"{own[folder]}/{p.relative_to(folder).as_posix()}"
    for root in _module_roots():
        if p.is_relative_to(root):
            return p.relative_to(root).as_posix()
    return p.relative_to(here).as_posix() if p.is_relative_to(here) else path


def _short_locations(text: str) -> str:
    """Location lines with short paths; the frames of :data:`PLUMBING` left out."""
    lines: list[str] = []
    skipping = False
    for line in text.splitlines():
        m = _LOCATION.match(line)
        if m and not (line == "E" or line.startswith("E ")):
            path = short_path(m["path"])
            skipping = f"{path}:".startswith(PLUMBING)
            if skipping:
                continue
            line = f"{path}:{m['lineno']}: {m['rest']}"
        elif skipping and line.startswith(" "):
            continue  # the plumbing frame's source lines (its E lines stay)
        else:
            skipping = False
        lines.append(line)
    return "\n".join(lines)


def _without_final_message(text: str) -> str:
    """Drop the trailing ``E`` lines: the exception's message, recorded on its own."""
    lines = text.splitlines()
    while lines and (lines[-1] == "E" or lines[-1].startswith("E ")):
        lines.pop()
    return "\n".join(lines).rstrip()


def reproduction(
    item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException], started: float, ended: float
) -> dict[str, str]:
    """A failing test's message and short traceback, paths shortened, times from its start.

    The report's own longrepr follows ``--tb`` (verify runs with ``--tb=no``,
    so that pytest prints no failure section of its own): the short form is
    asked of :meth:`pytest.Item.repr_failure` directly, which applies pytest's
    traceback filter (the test's frames and below) as the terminal would.
    """
    message = excinfo.exconly().strip()
    rendered = str(pytest.Item.repr_failure(item, excinfo, style="short"))
    trace = _without_final_message(_short_locations(rendered))
    if trace.strip() == message:
        trace = ""  # pytest.fail(pytrace=False): the message is all there is
    return {
        "message": relative_times(message, started, ended)[:4000],
        "traceback": relative_times(trace, started, ended)[-8000:],
    }


def rerun_command(mechanism: str, implementation: str, clause: str) -> str:
    """The command that runs this clause's tests of this implementation again."""
    return shlex.join(["distconform", "verify", mechanism, implementation, "--clause", clause])


def _indent(text: str, prefix: str = "    ") -> list[str]:
    return [prefix + line if line else line for line in text.splitlines()]


def _clause_order(data: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {
        (mech, c["id"]): i
        for mech, clauses in data["clauses"].items()
        for i, c in enumerate(clauses)
    }


def _failing_tests(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's failed and errored tests, in the table's order: implementation, clause."""
    impl_rank = {(i["mechanism"], i["name"]): n for n, i in enumerate(data["implementations"])}
    clause_rank = _clause_order(data)
    bad = [t for t in data["tests"] if t["outcome"] in ("fail", "error")]

    def key(t: dict[str, Any]) -> tuple[int, int]:
        first = min((clause_rank.get((t["mechanism"], c), 0) for c in t["clauses"]), default=0)
        return impl_rank.get((t["mechanism"], t["implementation"]), 0), first

    return sorted(bad, key=key)


def failure_lines(data: dict[str, Any]) -> list[str]:
    """Every FAIL and ERROR of the report with its reproduction and rerun command."""
    bad = _failing_tests(data)
    if not bad:
        return []
    out = [f"{len(bad)} failing test(s); times are seconds after the test's start (t0)", ""]
    for t in bad:
        clauses = ", ".join(t["clauses"])
        who = f"{t['mechanism']}/{t['implementation']}"
        out.append(f"{t['outcome'].upper()}  {clauses}  {who}")
        out.append(f"  test: {t['test'].split('::', 1)[-1]}")
        rep = t.get("reproduction") or {"message": t["message"], "traceback": ""}
        out += _indent(rep["message"] or "(no message)", "  ")
        if rep["traceback"]:
            out.append("  traceback:")
            out += _indent(rep["traceback"])
        rerun = rerun_command(t["mechanism"], t["implementation"], t["clauses"][0])
        out.append(f"  rerun: {rerun}")
        out.append("")
    return out


Selection = tuple[list[str], dict[str, list[str]]]


def stopped_lines(data: dict[str, Any], selection: Selection) -> list[str]:
    """After --max-fail stopped the run: the selected clauses that did not run (``-``).

    ``selection`` is :func:`distconform.clauses.selection` of the run's
    --clause values (none: every clause was selected). A clause whose tests
    only partly ran shows the outcome of those that did.
    """
    every, per = selection
    missing: dict[str, list[str]] = {}
    for r in data["results"]:
        patterns = every + per.get(r["implementation"], [])
        chosen = not (every or per) or any(fnmatch.fnmatchcase(r["clause"], p) for p in patterns)
        if chosen and r["outcome"] == "not-run":
            missing.setdefault(f"{r['mechanism']}/{r['implementation']}", []).append(r["clause"])
    stop = data["stopped"]
    head = f"stopped after {stop['failed']} failed test(s) (--max-fail {stop['max_fail']})"
    if not missing:
        return [f"{head}: every selected clause ran"]
    return [f"{head}; these did not run (- in the table):"] + [
        f"  {who}: {', '.join(ids)}" for who, ids in missing.items()
    ]


def junit_name(mechanism: str, implementation: str, clauses: Iterable[str], name: str) -> str:
    """A test's name that says what it checked of whom: ``lock/redis LOCK-8 test_x[redis]``."""
    return f"{mechanism}/{implementation} {','.join(clauses)} {name}"


def progress_line(result: dict[str, Any], symbol: str, done: int, total: int) -> str:
    """One finished test, for ``verify -v``: ``[3/45] lock/redis LOCK-8 test_x ... pass``."""
    width = len(str(total))
    name = result["test"].split("::", 1)[-1]
    label = junit_name(result["mechanism"], result["implementation"], result["clauses"], name)
    return f"[{done:>{width}}/{total}] {label} ... {symbol} ({result['duration']:.2f} s)"

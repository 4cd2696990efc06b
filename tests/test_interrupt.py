"""verify's shutdown on Ctrl-C when the test session does not stop by itself.

A KeyboardInterrupt that Python raises inside a finaliser is printed as
"Exception ignored" and dropped; CI once saw a run go on after Ctrl-C that way.
Such a session is played here by one that ignores SIGINT outright: verify must
still end, within its grace period, and leave none of the session's processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

DEAF_TEST = """
import os, signal, subprocess, sys, time

def test_deaf():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A grandchild too, as xdist's workers are: the whole group must go.
    child = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                              "signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)"])
    with open(os.environ["DEAF_PIDS"], "w") as f:
        f.write(f"{child.pid}")
    time.sleep(120)
"""

DRIVER = """
import sys
from distconform import cli
cli.STOP_GRACE = 2
try:
    cli._run_session([sys.argv[1], "-q", "-p", "no:xdist", "-p", "no:cacheprovider"])
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead: its parent (the killed session) has not reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_session_deaf_to_ctrl_c_is_killed_after_the_grace(tmp_path: Path) -> None:
    test_file = tmp_path / "test_deaf.py"
    test_file.write_text(textwrap.dedent(DEAF_TEST))
    pids = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(test_file)],
        cwd=tmp_path, env={**os.environ, "DEAF_PIDS": str(pids)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # pytest start-up on a loaded machine
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pids.exists(), "the deaf test never started"
        grandchild = int(pids.read_text())
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # verify's own group: the session is not in it
        out, _ = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 130 and "interrupted" in out, (proc.returncode, out[-2000:])
    # The grace is 2 s; the kill and reaping add well under a second, 10 s is slack for load.
    assert 2 <= took < 12, took
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild), "the session's worker outlived verify"

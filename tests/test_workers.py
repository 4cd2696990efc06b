"""Role processes: forked from a forkserver, spawned afresh only for an environment of their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

#: A fresh interpreter starting a forkserver and two roles; generous for a loaded machine.
CHILD_TIMEOUT = 120

SCRIPT = textwrap.dedent(
    """
    import os
    from types import SimpleNamespace

    from distconform.api import Context
    from distconform.workers import spawn

    subject = SimpleNamespace(
        has=lambda cap: cap == "distributed",
        adapter=SimpleNamespace(spec="dc_samples:no_fencing"),
        ctx=Context(namespace="dcworkerstest"),
    )
    for env in (None, {"DC_WORKERS_TEST": "set"}):
        w = spawn(subject, "dc_samples:report_parent_and_env", "DC_WORKERS_TEST", env=env)
        try:
            parent, seen = w.recv(60, "its parent")
            w.join(60)
        finally:
            w.kill()
        print("mine" if parent == os.getpid() else "other", seen)
    """
)


def test_roles_come_from_the_forkserver_unless_they_need_an_environment(
    child_env: dict[str, str],
) -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=child_env, cwd=Path(__file__).parent, timeout=CHILD_TIMEOUT)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    # Forked by the forkserver (not this process), without the variable; then spawned with it.
    assert out.stdout.split("\n")[:2] == ["other None", "mine set"], out.stdout + out.stderr

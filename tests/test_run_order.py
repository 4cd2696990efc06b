"""The conformance tests run longest first (conformance/conftest.py); other folders keep their order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: A collection takes a few seconds; the bound only stops a hung run.
COLLECT_TIMEOUT = 120


def _collected(env: dict[str, str], *paths: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist",
         "--impl", "lru=memory", "--impl", "hotwarm=memory", *paths],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=COLLECT_TIMEOUT,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_conformance_tests_run_longest_first_in_their_own_places(
    child_env: dict[str, str],
) -> None:
    ids = _collected(
        child_env,
        "tests/test_backends.py",
        "conformance/test_lru.py",
        "conformance/test_hotwarm.py",
    )
    ours = [i for i in ids if i.startswith("conformance/")]
    # test_lru.py comes first on the command line, but hotwarm holds the longest tests.
    assert ours[0].startswith("conformance/test_hotwarm.py::test_no_split_brain"), ours[:3]
    marked_lru = "conformance/test_lru.py::test_one_client_from_many_threads_keeps_size_and_updates"
    first_unmarked_hotwarm = "conformance/test_hotwarm.py::test_healthy_pair_serves_writes"
    assert ours.index(f"{marked_lru}[memory]") < min(
        i for i, t in enumerate(ours) if t.startswith(first_unmarked_hotwarm)
    ), "a test that takes 2 s ran after a short one"
    # The other folder's tests keep their places (before, as on the command line).
    assert all(i.startswith("tests/test_backends.py") for i in ids[: len(ids) - len(ours)])

"""The rate limiter's property tests have teeth: they catch the known-bad limiters.

One child pytest runs ``properties/test_ratelimit_model.py`` against the
in-memory reference and the known-bad limiters that run on an injectable
clock; each known-bad must fail the property of the clause it breaks (the
exact-answer checks of the sliding log and the token bucket also catch a
limit one short), and the reference must pass them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROPS = Path(__file__).resolve().parent.parent / "properties" / "test_ratelimit_model.py"
MUTATION = Path(__file__).resolve().parent / "mutation"
KB = "distconform.known_bad.ratelimit"
#: known-bad class -> clauses whose property test must fail.
CAUGHT = {
    "OffByOne": ("RL-1", "RL-2", "RL-4", "RL-5"),
    "FixedAsSlidingLog": ("RL-1",),
    "BoundaryInclusive": ("RL-1",),
    "LogsRejected": ("RL-1",),
    "LimitOneShort": ("RL-1", "RL-5"),
    "RefillTwice": ("RL-5",),
    "SWCIgnoresPrevious": ("RL-4",),
    "SWCFloor": ("RL-4",),
    "PeekOffByOne": ("RL-14",),
    "RemainingOneMore": ("RL-15",),
    "ClearNothing": ("RL-17",),
}
#: The reference's clauses judged here: the bounds of the four algorithms.
REFERENCE_CLAUSES = ("RL-1", "RL-2", "RL-3", "RL-4", "RL-5")
#: The child run is CPU-bound (Hypothesis, 12 limiters): 118 s at load 6 on
#: this 2-core machine, and over 300 s beside the rest of the suite's workers
#: at load 30+. This bound only stops a hung run.
RUN_TIMEOUT = 900


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory, child_env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("ratelimit_props")
    # Each limiter runs only the properties of the clauses judged here: the
    # reference those of REFERENCE_CLAUSES (it runs every property in the
    # suite's own run of properties/), each known-bad those it must fail.
    impls = ["--impl", "ratelimit=memory"]
    impls += [a for c in REFERENCE_CLAUSES for a in ("--clause", f"memory={c}")]
    for name, caught in CAUGHT.items():
        impls += ["--impl", f"ratelimit={KB}:{name}.factory"]
        impls += [a for c in caught for a in ("--clause", f"{KB}:{name}.factory={c}")]
    # CPU-bound: two processes, one per core (pytest-xdist, one merged report),
    # and no shrinking (tests/mutation/mutate_profile.py): a verdict does not
    # depend on it, and a known-bad's failing example would be shrunk for nothing.
    cmd = [sys.executable, "-m", "pytest", str(PROPS), *impls, "--dc-report-dir", str(out),
           "-q", "-p", "no:cacheprovider", "--import-mode=importlib", "-n", "2",
           "-p", "mutate_profile"]  # fmt: skip
    env = dict(child_env, PYTEST_ADDOPTS=child_env["PYTEST_ADDOPTS"].replace("-p no:xdist", ""))
    env["PYTHONPATH"] = os.pathsep.join([str(MUTATION), env.get("PYTHONPATH", "")])
    # Niced (as most of the known-bad self-test's children are): CPU-bound, it
    # would take the CPU from the timing tests of the suite's workers. Its
    # verdicts are on a fake clock (injectable-clock known-bads): no time judged.
    run = subprocess.run(
        cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env, cwd=out,
        preexec_fn=lambda: os.nice(10),
    )  # fmt: skip
    assert run.returncode in (0, 1), f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return {(r["implementation"], r["clause"]): r["outcome"] for r in data["results"]}


@pytest.mark.timeout(RUN_TIMEOUT + 60)
@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_property_catches_known_bad(name: str, outcomes: dict) -> None:  # type: ignore[type-arg]
    """Each known-bad limiter fails the property tests of the clauses it breaks."""
    spec = f"{KB}:{name}.factory"
    escaped = {
        c: outcomes.get((spec, c)) for c in CAUGHT[name] if outcomes.get((spec, c)) != "fail"
    }
    assert not escaped, f"{name} was not caught by the property tests: {escaped}"


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_reference_passes_the_properties(outcomes: dict) -> None:  # type: ignore[type-arg]
    """The in-memory reference passes every property."""
    mine = {c: o for (i, c), o in outcomes.items() if i == "memory" and c in REFERENCE_CLAUSES}
    assert set(mine) == set(REFERENCE_CLAUSES), mine
    assert all(o == "pass" for o in mine.values()), mine

"""Mutation testing of the references with cosmic-ray: a kill rate per mechanism.

Used by ``nox -s mutate`` (``nox -s mutate -- lock`` for one mechanism). What is
mutated and which tests judge each mutant is configured in pyproject.toml,
``[tool.distconform.mutate]``; the tests of a mechanism are its property tests
and its conformance tests against that implementation (``--impl MECH=memory``).

The working tree is never mutated. ``copy`` lays the tree's files (tracked and
untracked-but-not-ignored, as they are on disk now) into
``.distconform/mutate/tree``; the nox session installs that copy editable into
its own virtualenv, so that ``distconform.reference`` resolves to the copy's
``reference/`` (the package-dir mapping in pyproject.toml), and ``run`` has
cosmic-ray mutate the copy's files in place, one mutant at a time, each judged
by a fresh pytest process with a timeout.

Why cosmic-ray: it mutates the file on disk and runs any command per mutant in
a subprocess with a timeout that kills the whole process group, so it works
with the package-dir mapping (mutmut 3 derives module names from file paths,
``reference.lock.memory``, while the tests import
``distconform.reference.lock.memory``, so its trampolines never fire) and a
hanging mutant is reported as a timeout, not a hang.

``run`` first checks, per mechanism, that the mutated modules are the ones the
test process imports and that the unmutated copy passes the same test command;
a mechanism failing either is reported as not measured. It runs at nice 19.

Which mutants: cosmic-ray's core operators less those excluded in
pyproject.toml (arithmetic -> shift/bitwise), and less every mutant inside a
type annotation (the references use ``from __future__ import annotations``:
annotations are strings nobody evaluates, so ``str | None`` -> ``str - None``
is equivalent; see ``IN_ANNOTATION``). ``--sample N`` judges a seeded random
sample of N of them per mechanism (the table then says "N of M"), the same
sample on every run while the file is unchanged; without it, every mutant.

Kill rate = (killed + timed out) / (mutants judged - listed equivalents);
mutants whose worker broke (cosmic-ray's "incompetent"/"exception"/"abnormal")
are counted apart and left out of the rate. An equivalent mutant (one that
changes no behaviour, so that no test can kill it) is listed by hand in
pyproject.toml, ``[[tool.distconform.mutate.<mech>.equivalent]]`` with the
function, operator, original and mutated line and the reason; a survivor
matching an entry is counted apart ("equivalent"), and an entry whose mutant
is killed is reported as wrong (the summary names it). The table shows the
raw rate (equivalents counted as survivors) beside the rate. Outputs, in ``<tree>/.distconform/mutate/``: summary.md,
survivors-<mech>.txt (file:line:col, function, operator, the line before and
after), result-<mech>.json (with which test killed how many), <mech>.log.

Cost: one pytest process per mutant, a few seconds for one killed early
(``-x``), the whole selection for a survivor. On an idle 2-core machine a full
run of all five mechanisms (about 1,100 mutants at 3a1376f) takes a few
hours; ``--sample 30`` takes minutes per mechanism (10-25 min on a machine
loaded by other test runs).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(".distconform") / "mutate"
TREE = WORK / "tree"


def _config(tree: Path) -> dict:
    data = tomllib.loads((tree / "pyproject.toml").read_text("utf-8"))
    try:
        return data["tool"]["distconform"]["mutate"]
    except KeyError:
        sys.exit("pyproject.toml has no [tool.distconform.mutate] table")


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def copy_tree(dest: Path) -> Path:
    """Copy the working tree's files to ``dest`` (replaced): the tree mutants live in."""
    dest = dest if dest.is_absolute() else ROOT / dest
    if dest.exists():  # replaced, except the sessions in it, for --resume and --rejudge
        for child in dest.iterdir():
            if child.name == WORK.parts[0]:
                for sub in child.iterdir():
                    if sub.name != WORK.name:
                        shutil.rmtree(sub) if sub.is_dir() else sub.unlink()
            elif child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    # A killed run's saved originals would be put back over this fresh copy
    # at the next run's start: they are older than what is copied now.
    for saved in (dest / WORK).glob("*/originals"):
        shutil.rmtree(saved)
    files = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if not src.is_file():  # deleted in the working tree but still tracked
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    head = _git("rev-parse", "--short", "HEAD").strip()
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no").strip())
    (dest / ".mutate-source").write_text(f"{ROOT} {head}{' +uncommitted' if dirty else ''}\n")
    return dest


@dataclass
class Outcome:
    mech: str
    measured: bool = True
    note: str = ""
    seconds: float = 0.0
    baseline_seconds: float = 0.0
    timeout: float = 0.0
    killed: int = 0
    timed_out: int = 0
    survived: list[dict] = field(default_factory=list)
    #: test that failed first -> how many mutants it killed (the -x run stops there)
    killers: dict[str, int] = field(default_factory=dict)
    #: mutants after the operator filter; more than judged when sampling
    sampled_from: int = 0
    broken: list[dict] = field(default_factory=list)
    #: survivors that match a listed equivalent (pyproject), with its reason
    equivalent: list[dict] = field(default_factory=list)
    #: listed equivalents whose mutant was judged and killed: the listing is wrong
    wrongly_listed: list[dict] = field(default_factory=list)

    @property
    def judged(self) -> int:
        return self.killed + self.timed_out + len(self.survived) + len(self.equivalent)

    @property
    def rate(self) -> float:
        killable = self.judged - len(self.equivalent)
        return (self.killed + self.timed_out) / killable if killable else 0.0

    @property
    def raw_rate(self) -> float:
        return (self.killed + self.timed_out) / self.judged if self.judged else 0.0


def _listed_equivalent(row: dict, entries: list[dict]) -> dict | None:
    """The pyproject entry that names this mutant as equivalent, if any."""
    for e in entries:
        if (
            e["in"] == row["in"]
            and e["operator"] == row["operator"]
            and e["line"] == row["line"]
            and e["mutant"] == row["mutant"]
        ):
            return e
    return None


def _bin(name: str) -> str:
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else name


def _test_command(mech: str, spec: dict, report_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
        "-p", "mutate_profile",  # tests/mutation/mutate_profile.py: no shrinking
        "-p", "no:xdist",  # one process: pyproject's distconform_workers would start workers
        *spec["tests"], *spec.get("args", []), "--dc-report-dir", str(report_dir),
        "--dc-keep-history", "1",  # one run per mutant: a history of them is noise
    ]  # fmt: skip


def _imports_the_copy(tree: Path, modules: list[str], log) -> str | None:
    """None if every mutated file is what ``import`` finds in the test environment."""
    for path in modules:
        parts = Path(path).with_suffix("").parts
        dotted = ".".join(("distconform", *parts))
        code = f"import {dotted} as m; print(m.__file__)"
        out = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True)
        found = Path(out.stdout.strip()).resolve() if out.returncode == 0 else None
        print(f"{dotted} -> {found}", file=log, flush=True)
        if found != (tree / path).resolve():
            return f"{dotted} imports {found or out.stderr.strip()}, not the copy's {path}"
    return None


def _describe(item: dict, result: dict | None, tree: Path) -> dict:
    mut = item["mutations"][0]
    line = mut["start_pos"][0]
    src = (tree / mut["module_path"]).read_text("utf-8").splitlines()[line - 1].strip()
    diff = (result or {}).get("diff") or ""
    plus = [
        d[1:].strip() for d in diff.splitlines() if d.startswith("+") and not d.startswith("+++")
    ]
    return {
        "where": f"{mut['module_path']}:{line}:{mut['start_pos'][1]}",
        "in": mut.get("definition_name") or "(module)",
        "operator": mut["operator_name"].removeprefix("core/"),
        "occurrence": mut["occurrence"],
        "line": src,
        "mutant": plus[0] if plus else "?",
        "output": ((result or {}).get("output") or "")[-400:],
    }


def _fingerprint(tree: Path, modules: list[str], cfg: dict) -> str:
    h = hashlib.sha256(json.dumps(cfg.get("exclude-operators", [])).encode())
    for path in modules:
        h.update(path.encode() + b"\0" + (tree / path).read_bytes())
    return h.hexdigest()


def _mutant_key(item: dict) -> str:
    mut = item["mutations"][0]
    return f"{mut['module_path']}|{mut['operator_name']}|{mut['occurrence']}"


def _dump(db: Path, tree: Path) -> list[tuple[dict, dict | None]]:
    out = subprocess.run(
        [_bin("cosmic-ray"), "dump", str(db)], cwd=tree, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    return [tuple(json.loads(line)) for line in out.splitlines()]  # type: ignore[misc]


def _filtered(result: dict | None) -> bool:
    return result is not None and result.get("output") in ("Filtered operator", IN_ANNOTATION)


#: Why a mutant in a type annotation is not judged: every reference starts with
#: ``from __future__ import annotations``, so annotations are strings that
#: nothing evaluates, and ``str | None`` -> ``str - None`` changes no behaviour.
IN_ANNOTATION = "in an annotation (never evaluated: equivalent)"


def _annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    tree = ast.parse(path.read_text("utf-8"))
    if not any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    ):  # fmt: skip
        return []  # annotations are evaluated: their mutants count
    spans = []
    for node in ast.walk(tree):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for a in found:
            if a is not None and a.end_lineno is not None and a.end_col_offset is not None:
                spans.append(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)))
    return spans


def _in_annotation(item: dict, tree: Path, cache: dict[str, list]) -> bool:
    mut = item["mutations"][0]
    if mut["module_path"] not in cache:
        cache[mut["module_path"]] = _annotation_spans(tree / mut["module_path"])
    pos = tuple(mut["start_pos"])
    return any(lo <= pos < hi for lo, hi in cache[mut["module_path"]])


def _skip_annotations(db: Path, tree: Path) -> None:
    """Mark the pending mutants that sit in a type annotation as skipped."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    cache: dict[str, list] = {}
    skip = WorkResult(output=IN_ANNOTATION, worker_outcome=WorkerOutcome.SKIPPED)
    rows = _dump(db, tree)
    with use_db(str(db), WorkDB.Mode.open) as wdb:
        for item, result in rows:
            if (result is None or result.get("output") == "not in sample") and _in_annotation(
                item, tree, cache
            ):
                wdb.set_result(item["job_id"], skip)


def _choose_sample(work: Path, db: Path, tree: Path, size: int, seed: int) -> None:
    """Judge only a seeded random sample of the mutants; mark the others skipped.

    The sample is drawn from the mutants' stable keys (file, operator,
    occurrence), so an unchanged file gets the same sample in every run.
    """
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    rows = _dump(db, tree)
    cache: dict[str, list] = {}
    keys = sorted(
        _mutant_key(item)
        for item, result in rows
        if not _filtered(result) and not _in_annotation(item, tree, cache)
    )
    sample_file = work / "sample.json"
    old = json.loads(sample_file.read_text()) if sample_file.exists() else {}
    if old.get("size") == size and old.get("seed") == seed:  # resumed: the same draw
        chosen = set(old["keys"]) & set(keys)
    else:
        chosen = set(random.Random(seed).sample(keys, min(size, len(keys))))
    sample_file.write_text(
        json.dumps({"size": size, "seed": seed, "of": len(keys), "keys": sorted(chosen)})
    )
    skip = WorkResult(output="not in sample", worker_outcome=WorkerOutcome.SKIPPED)
    with use_db(str(db), WorkDB.Mode.open) as wdb:
        for item, result in rows:
            if result is None and _mutant_key(item) not in chosen:
                wdb.set_result(item["job_id"], skip)
    left_out = [
        item["job_id"]
        for item, result in rows
        if _mutant_key(item) in chosen and (result or {}).get("output") == skip.output
    ]
    _forget(db, left_out)  # chosen now, left out by an earlier draw


def _forget(db: Path, job_ids: list[str]) -> None:
    """Drop these mutants' results so that ``cosmic-ray exec`` judges them again."""
    with sqlite3.connect(db) as con:
        con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in job_ids])


def _load_sampled(work: Path, db: Path, tree: Path) -> tuple[int, list[dict]]:
    """(mutants in all, rows of the judged ones): every one, or the sample's."""
    cache: dict[str, list] = {}
    rows = [
        (i, r)
        for i, r in _dump(db, tree)
        if not _filtered(r) and not _in_annotation(i, tree, cache)
    ]
    sample_file = work / "sample.json"
    chosen = set(json.loads(sample_file.read_text())["keys"]) if sample_file.exists() else None
    out = []
    for item, result in rows:
        if chosen is not None and _mutant_key(item) not in chosen:
            continue
        if result is not None and result["worker_outcome"] == "skipped":
            result = None  # marked out of an earlier, different sample: never judged
        out.append(dict(_describe(item, result, tree), job_id=item["job_id"], result=result))
    return len(rows), out


def run_mechanism(
    mech: str,
    tree: Path,
    cfg: dict,
    out_dir: Path,
    *,
    sample: int = 0,
    seed: int = 0,
    resume: bool = False,
    rejudge: bool = False,
) -> Outcome:
    spec = cfg[mech]
    outcome = Outcome(mech)
    work = tree / WORK / mech
    work.mkdir(parents=True, exist_ok=True)
    db = work / "session.sqlite"
    # A run that was killed leaves its last mutant on disk: put the originals back.
    saved = work / "originals"
    for path in spec["modules"]:
        if (saved / path).is_file():
            shutil.copy2(saved / path, tree / path)
    originals = {p: (tree / p).read_bytes() for p in spec["modules"]}
    for path, data in originals.items():
        (saved / path).parent.mkdir(parents=True, exist_ok=True)
        (saved / path).write_bytes(data)
    with open(out_dir / f"{mech}.log", "w") as log:
        problem = _imports_the_copy(tree, spec["modules"], log)
        if problem:
            outcome.measured, outcome.note = False, problem
            return outcome
        cmd = _test_command(mech, spec, work / "report")
        print("test command:", shlex.join(cmd), file=log, flush=True)
        start = time.monotonic()
        base = subprocess.run(cmd, cwd=tree, stdout=log, stderr=subprocess.STDOUT)
        outcome.baseline_seconds = time.monotonic() - start
        if base.returncode != 0:
            outcome.measured = False
            outcome.note = (
                f"unmutated baseline fails (pytest exit {base.returncode}): see {log.name}"
            )
            return outcome
        # A mutant may slow the tests down legitimately only a little; one that
        # takes several times the baseline is hung (a loop that never ends).
        outcome.timeout = max(
            float(cfg.get("min-timeout", 60)),
            float(cfg.get("timeout-factor", 4)) * outcome.baseline_seconds,
        )
        cr_cfg = work / "cosmic-ray.toml"
        cr_cfg.write_text(
            "[cosmic-ray]\n"
            f"module-path = {json.dumps(spec['modules'])}\n"
            f"timeout = {outcome.timeout:.0f}.0\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(shlex.join(cmd))}\n"
            '[cosmic-ray.distributor]\nname = "local"\n'
            "[cosmic-ray.filters.operators-filter]\n"
            f"exclude-operators = {json.dumps(cfg.get('exclude-operators', []))}\n"
        )

        def cr(*args: str) -> str:
            done = subprocess.run(args, cwd=tree, capture_output=True, text=True, check=True)
            log.write(done.stderr[-2000:])
            return done.stdout

        fingerprint = _fingerprint(tree, spec["modules"], cfg)
        stamp = work / "fingerprint"
        resumed = False
        if resume and db.exists() and stamp.exists() and stamp.read_text() == fingerprint:
            print("resuming the previous session: same mutated files, same operators", file=log)
            resumed = True
            if rejudge:
                rows = _load_sampled(work, db, tree)[1]
                survivors = [
                    r for r in rows if (r["result"] or {}).get("test_outcome") == "survived"
                ]
                _forget(db, [r["job_id"] for r in survivors])
        else:
            db.unlink(missing_ok=True)
            cr(_bin("cosmic-ray"), "init", str(cr_cfg), str(db))
            cr(_bin("cr-filter-operators"), str(db), str(cr_cfg))
            stamp.write_text(fingerprint)
            (work / "sample.json").unlink(missing_ok=True)
        _skip_annotations(db, tree)
        if sample:
            _choose_sample(work, db, tree, sample, seed)
        start = time.monotonic()
        cr(_bin("cosmic-ray"), "exec", str(cr_cfg), str(db))
        outcome.seconds = time.monotonic() - start
        spent = work / "seconds"  # over every resumed run of this session
        if resumed and spent.exists():
            outcome.seconds += float(spent.read_text())
        spent.write_text(f"{outcome.seconds:.1f}")
        outcome.sampled_from, rows = _load_sampled(work, db, tree)
        listed = spec.get("equivalent", [])
        for row in rows:
            result = row["result"]
            entry = _listed_equivalent(row, listed)
            if result is None:
                outcome.broken.append(dict(row, output="never run"))
            elif result["worker_outcome"] != "normal" or result["test_outcome"] == "incompetent":
                outcome.broken.append(row)
            elif result["test_outcome"] == "survived":
                if entry is not None:
                    outcome.equivalent.append(dict(row, why=entry["why"]))
                else:
                    outcome.survived.append(row)
            elif (result.get("output") or "") == "timeout":
                outcome.timed_out += 1
            else:
                outcome.killed += 1
                if entry is not None:
                    outcome.wrongly_listed.append(dict(row, why=entry["why"]))
                failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.get("output") or "", re.M)
                key = failed[0] if failed else "(no FAILED line: collection or exit error)"
                outcome.killers[key] = outcome.killers.get(key, 0) + 1
    changed = [p for p in spec["modules"] if (tree / p).read_bytes() != originals[p]]
    if changed:
        outcome.note = f"cosmic-ray left mutated files behind: {', '.join(changed)}"
    else:
        shutil.rmtree(saved)
    return outcome


def table(outcomes: list[Outcome]) -> str:
    rows = [
        "| mechanism | mutants | killed | timed out | survived | equivalent (listed) "
        "| broken | kill rate | raw rate | wall time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        if not o.measured:
            rows.append(f"| {o.mech} | not measured: {o.note} | | | | | | | | |")
            continue
        of = f" of {o.sampled_from}" if o.sampled_from > o.judged + len(o.broken) else ""
        rows.append(
            f"| {o.mech} | {o.judged}{of} | {o.killed} | {o.timed_out} | {len(o.survived)} | "
            f"{len(o.equivalent)} | {len(o.broken)} | {100 * o.rate:.1f} % | "
            f"{100 * o.raw_rate:.1f} % | {o.seconds:.0f} s |"
        )
    for o in outcomes:
        for w in o.wrongly_listed:
            rows.append(
                f"\n{o.mech}: listed as equivalent but killed: {w['where']} in {w['in']} "
                f"{w['operator']} ({w['line']} -> {w['mutant']}): remove it from pyproject.toml"
            )
    return "\n".join(rows)


def survivors_text(o: Outcome) -> str:
    lines = [f"# {o.mech}: {len(o.survived)} surviving mutants"]
    for s in o.survived + [dict(b, operator=b["operator"] + " [broken]") for b in o.broken]:
        lines.append(f"{s['where']}  in {s['in']}  {s['operator']}#{s['occurrence']}")
        lines.append(f"    - {s['line']}")
        lines.append(f"    + {s['mutant']}")
    lines.append(f"\n# {o.mech}: {len(o.equivalent)} listed equivalent (pyproject.toml)")
    for s in o.equivalent:
        lines.append(f"{s['where']}  in {s['in']}  {s['operator']}#{s['occurrence']}")
        lines.append(f"    - {s['line']}")
        lines.append(f"    + {s['mutant']}")
        lines.append(f"    why: {s['why']}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    tree = Path(args.tree).resolve()
    cfg = _config(tree)
    mechs = args.mechanisms or [k for k, v in cfg.items() if isinstance(v, dict)]
    unknown = [m for m in mechs if not isinstance(cfg.get(m), dict)]
    if unknown:
        known = ", ".join(k for k, v in cfg.items() if isinstance(v, dict))
        print(f"unknown mechanism {', '.join(unknown)}: known are {known}", file=sys.stderr)
        return 2
    os.nice(19)
    os.environ["DISTCONFORM_HYPOTHESIS_PROFILE"] = str(cfg.get("hypothesis-profile", "ci"))
    here = str(Path(__file__).resolve().parent)  # for -p mutate_profile
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    out_dir = tree / WORK
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 2))) as pool:
        outcomes = list(
            pool.map(
                lambda m: run_mechanism(
                    m, tree, cfg, out_dir, sample=args.sample, seed=args.seed,
                    resume=args.resume or args.rejudge, rejudge=args.rejudge,
                ),
                mechs,
            )
        )  # fmt: skip
    source = (
        (tree / ".mutate-source").read_text().strip()
        if (tree / ".mutate-source").exists()
        else str(tree)
    )
    text = f"Mutation testing of {source} (cosmic-ray)\n\n{table(outcomes)}\n"
    for o in outcomes:
        if o.measured:
            text += f"\n{o.mech}: tests `{' '.join(cfg[o.mech]['tests'])}` " + (
                f"{' '.join(cfg[o.mech].get('args', []))}; baseline {o.baseline_seconds:.0f} s, "
                f"timeout per mutant {o.timeout:.0f} s\n"
            )
            (out_dir / f"survivors-{o.mech}.txt").write_text(survivors_text(o))
            (out_dir / f"result-{o.mech}.json").write_text(
                json.dumps(
                    o.__dict__ | {"rate": o.rate, "raw_rate": o.raw_rate, "judged": o.judged},
                    indent=1,
                )
            )
    (out_dir / "summary.md").write_text(text)
    print(text)
    print(f"survivors: {out_dir}/survivors-<mechanism>.txt")
    return 0 if all(o.measured for o in outcomes) else 1


def report(args: argparse.Namespace) -> int:
    out_dir = Path(args.tree).resolve() / WORK
    outcomes = []
    for path in sorted(out_dir.glob("result-*.json")):
        data = json.loads(path.read_text())
        if args.mechanisms and data["mech"] not in args.mechanisms:
            continue
        data.pop("rate"), data.pop("judged"), data.pop("raw_rate", None)
        outcomes.append(Outcome(**data))
    print(table(outcomes))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_copy = sub.add_parser("copy", help="copy the working tree to where mutants live")
    p_copy.add_argument("--dest", default=str(TREE))
    p_report = sub.add_parser("report", help="the table again, from the last runs' results")
    p_report.add_argument("--tree", default=str(ROOT / TREE))
    p_report.add_argument("mechanisms", nargs="*")
    p_run = sub.add_parser("run", help="mutate the copy and print the kill rates")
    p_run.add_argument("--tree", default=str(ROOT / TREE))
    p_run.add_argument("--jobs", type=int, default=1, help="mechanisms at once (at most 2)")
    p_run.add_argument(
        "--sample", type=int, default=0, metavar="N",
        help="judge a seeded random sample of N mutants per mechanism (default: all)",
    )  # fmt: skip
    p_run.add_argument("--seed", type=int, default=0, help="seed of the sample")
    p_run.add_argument(
        "--resume", action="store_true",
        help="keep the verdicts of the previous run when the mutated files are unchanged",
    )  # fmt: skip
    p_run.add_argument(
        "--rejudge", action="store_true",
        help="as --resume, but judge the previous survivors again (after tests were added)",
    )  # fmt: skip
    p_run.add_argument("mechanisms", nargs="*")
    args = parser.parse_args()
    if args.command == "copy":
        print(copy_tree(Path(args.dest)))
        return 0
    if args.command == "report":
        return report(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

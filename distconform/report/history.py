"""Reports kept per run: ``<report-dir>/history/<UTC time>-<id>.json``.

report.json is overwritten by every run, so a run that broke a clause hides the
run before it. Each run therefore also stores its report under ``history/``,
which ``distconform diff`` compares and report.html's trend reads.

- The name starts with the UTC time of writing to the millisecond
  (``20261201T125747.123Z``): names sort in run order.
- The id is the first 8 hex digits of the SHA-256 of the report's canonical
  JSON, so the report a page is rendered from is found among the stored ones.
- A file is created exclusively and never rewritten; two runs in the same
  millisecond get ``-2``, ``-3`` after the id.
- All runs are kept by default: a history is worth most when it is long. A
  report of every reference is about 400 kB, though, so a machine that runs
  verify all day can bound the folder: ``--keep-history N`` (pytest:
  ``--dc-keep-history N``) deletes all but the newest N after storing a run.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from distconform.errors import UsageError
from distconform.report.schema import ReportError, validate

__all__ = ["FOLDER", "check_keep", "load", "run_id", "store", "stored"]

FOLDER = "history"
#: A stored name with its counter: ``<time>-<id>-<N>``.
_COUNTED = re.compile(r"(.+-[0-9a-f]{8})-(\d+)")


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def run_id(data: dict[str, Any]) -> str:
    """A short id of the report's content, the same for the same report."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


def _stem(data: dict[str, Any]) -> str:
    now = _now()
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{run_id(data)}"


def check_keep(keep: int | None, option: str) -> None:
    """UsageError unless ``keep`` (``option``'s value) is None (keep all) or 1 or more."""
    if keep is not None and keep < 1:
        raise UsageError(f"{option} {keep}: write 1 or more (leave it out to keep every run)")


def store(data: dict[str, Any], folder: Path, keep: int | None = None) -> Path:
    """Keep ``data`` as a new file in ``folder``/history, then only the newest ``keep``
    stored runs if ``keep`` is given; the path of the new file."""
    path = _create(data, folder / FOLDER)
    if keep is not None:
        for old in stored(folder / FOLDER)[:-keep]:
            old.unlink()
    return path


def _create(data: dict[str, Any], history: Path) -> Path:
    history.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2)
    stem, n = _stem(data), 1
    while True:
        path = history / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
        try:
            with path.open("x", encoding="utf-8") as f:
                f.write(text)
            return path
        except FileExistsError:
            n += 1


def _order(path: Path) -> tuple[str, int]:
    """Sort key: the name without its ``-N``, then N (``x-2.json`` sorts after ``x.json``)."""
    match = _COUNTED.fullmatch(path.stem)
    return (match[1], int(match[2])) if match else (path.stem, 1)


def stored(history: Path) -> list[Path]:
    """The stored reports in ``history``, oldest first (none if there is no such folder)."""
    if not history.is_dir():
        return []
    return sorted(history.glob("*.json"), key=_order)


def load(path: Path) -> dict[str, Any]:
    """A report file's data; UsageError (one line) if it is missing or not a report."""
    if not path.exists():
        raise UsageError(f"no report at {path}: run `distconform verify` first, or name the file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path} is not a distconform report ({exc})") from None
    except OSError as exc:  # a folder, no permission, ...
        raise UsageError(f"cannot read {path}: {exc}") from None
    try:
        validate(data)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from None
    return data  # type: ignore[no-any-return]

"""Writing the outputs: report.json and report.md at the end of a run, the rest on demand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from distconform.errors import UsageError
from distconform.report import history, trend
from distconform.report.badges import badge, badge_svg
from distconform.report.html import render_html
from distconform.report.md import markdown
from distconform.report.schema import validate
from distconform.report.view import slug

__all__ = ["render_all", "write"]


def write(data: dict[str, Any], folder: Path, keep_history: int | None = None) -> Path:
    """report.json and report.md into ``folder``, and report.json's copy into
    ``folder``/history, which keeps the newest ``keep_history`` runs (None: all;
    :mod:`~distconform.report.history`); the path of report.json."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False), encoding="utf-8")
    (folder / "report.md").write_text(markdown(data), encoding="utf-8")
    history.store(data, folder, keep_history)
    return path


def _badge_stems(data: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(implementation, file stem) per badge; two names may slug alike: number the later."""
    taken: set[str] = set()
    out = []
    for impl in data["implementations"]:
        if impl["mechanism"] not in data["clauses"]:
            continue
        base = f"{slug(impl['mechanism'])}-{slug(impl['name'])}"
        stem, n = base, 1
        while stem in taken:
            n += 1
            stem = f"{base}-{n}"
        taken.add(stem)
        out.append((impl, stem))
    return out


def render_all(
    data: dict[str, Any],
    out: Path,
    history_dir: Path | None = None,
    bench: dict[str, Any] | None = None,
) -> list[Path]:
    """Write report.html, report.md and badges/<mech>-<impl>.json and .svg into ``out``.

    ``history_dir``: the stored runs whose trend report.html shows (none: no trend).
    ``bench``: bench.json's data, drawn in report.html's benchmarks section.
    """
    validate(data)
    page = render_html(data, trend.section(data, history_dir) if history_dir else None, bench)
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / "report.html", out / "report.md"]
        written[0].write_text(page, encoding="utf-8")
        written[1].write_text(markdown(data), encoding="utf-8")
        badges = out / "badges"
        badges.mkdir(exist_ok=True)
        for impl, stem in _badge_stems(data):
            path = badges / f"{stem}.json"
            shield = badge(data, impl["mechanism"], impl["name"])
            path.write_text(json.dumps(shield, indent=2) + "\n", encoding="utf-8")
            svg = badges / f"{stem}.svg"
            svg.write_text(badge_svg(data, impl["mechanism"], impl["name"]), encoding="utf-8")
            written += [path, svg]
    except OSError as exc:
        raise UsageError(f"cannot write the report into {out}: {exc}") from None
    return written

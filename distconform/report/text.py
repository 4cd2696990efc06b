"""Plain-text tables: the clause matrix ``verify`` prints, and aligned columns for the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from distconform.report import view as _view

__all__ = ["clause_table", "grid", "note_lines", "text_table"]


def grid(mech: _view.Mechanism) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one mechanism's matrix, score rows last (text and Markdown).

    A cell with a * has an adapter's note: :func:`note_lines` lists them.
    """
    header = ["clause", "level", *(c.name for c in mech.columns)]
    rows = [
        [r.id, r.level + (f" ({r.requires})" if r.requires else ""), *(c.symbol for c in r.cells)]
        for r in mech.rows
    ]
    rows.append(["MUST score", "", *(str(c.must) for c in mech.columns)])
    rows.append(["SHOULD score", "", *(str(c.should) for c in mech.columns)])
    rows.append(["score", "", *(str(c.score) for c in mech.columns)])
    return header, rows


def note_lines(mech: _view.Mechanism) -> list[str]:
    """The adapters' notes on the cells marked *, one line each."""
    return [f"* {c.impl} {c.clause} ({c.symbol.rstrip('*')}): {c.note}" for c in mech.notes]


def clause_table(
    data: dict[str, Any], mechanisms: Iterable[str] | None = None, width: int | None = None
) -> str:
    """Plain-text table: one row per clause, one column per implementation.

    A table wider than ``width`` (a terminal's) heads its implementation
    columns A, B, C, ... and names them in a legend below: with several
    implementations, full names such as ``my_adapter:factory`` as column
    heads made the table wrap into an unreadable one.
    """
    wanted = set(mechanisms) if mechanisms is not None else None
    out = []
    for mech in _view.view(data).mechanisms:
        if wanted is not None and mech.name not in wanted:
            continue
        header, rows = grid(mech)
        table = text_table([header, *rows], rule=True)
        if width is not None and max(len(line) for line in table.splitlines()) > width:
            keys = [_column_key(i) for i in range(len(header) - 2)]
            table = text_table([[*header[:2], *keys], *rows], rule=True)
            table += "\n\n" + text_table([[k, n] for k, n in zip(keys, header[2:], strict=True)])
        out += [f"[{mech.name}]", table, *note_lines(mech), ""]
    return "\n".join(out)


def _column_key(i: int) -> str:
    """Spreadsheet column names: 0 -> A, 25 -> Z, 26 -> AA."""
    key = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        key = chr(ord("A") + r) + key
    return key


def text_table(rows: list[list[str]], rule: bool = False) -> str:
    """Rows as plain-text columns two spaces apart; ``rule``: dashes under the first row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    if rule:
        rows = [rows[0], ["-" * w for w in widths], *rows[1:]]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )

"""Badges per implementation of a mechanism: a shields.io endpoint JSON and an SVG.

The SVG is rendered here (a small template in the shields "flat" style), so a
badge needs no service; the JSON is for those who serve theirs through
shields.io. Both carry the suite version: a score means something only
against the clauses of that version.
"""

from __future__ import annotations

from typing import Any

from distconform.report import view as _view
from distconform.report.jinja import environment

__all__ = ["badge", "badge_svg"]

#: Pixels per character of 11 px Verdana, on average (shields' own table is per
#: glyph; an estimate a few pixels wide of the text only widens the margins).
CHAR_WIDTH = 7
#: Pixels of margin on each side of a text.
PADDING = 6


def _label(data: dict[str, Any], mechanism: str, implementation: str) -> str:
    return f"distconform {data['suite'].get('version') or '?'} {mechanism} {implementation}"


def _message(s: dict[str, _view.Score]) -> str:
    return f"{s['all']} clauses (MUST {s['MUST']}, SHOULD {s['SHOULD']})"


def badge(data: dict[str, Any], mechanism: str, implementation: str) -> dict[str, Any]:
    """A shields.io endpoint badge: the score, coloured by the fraction passed."""
    s = _view.scores(data, mechanism, implementation)
    return {
        "schemaVersion": 1,
        "label": _label(data, mechanism, implementation),
        "message": _message(s),
        "color": s["all"].color.removeprefix("#"),
    }


def badge_svg(data: dict[str, Any], mechanism: str, implementation: str) -> str:
    """The same badge as an SVG image."""
    shield = badge(data, mechanism, implementation)
    label_width = len(shield["label"]) * CHAR_WIDTH + 2 * PADDING
    message_width = len(shield["message"]) * CHAR_WIDTH + 2 * PADDING
    return (
        environment()
        .get_template("badge.svg.j2")
        .render(
            label=shield["label"],
            message=shield["message"],
            color="#" + shield["color"],
            label_width=label_width,
            message_width=message_width,
            width=label_width + message_width,
        )
    )

"""Badges: a shields.io endpoint JSON per implementation of a mechanism."""

from __future__ import annotations

from typing import Any

from distconform.report import view as _view

__all__ = ["badge"]


def badge(data: dict[str, Any], mechanism: str, implementation: str) -> dict[str, Any]:
    """A shields.io endpoint badge for one implementation of one mechanism.

    The colour is :func:`distconform.report.view.badge_color`'s.
    """
    passed, applicable = _view.score(data, mechanism, implementation)
    return {
        "schemaVersion": 1,
        "label": f"{mechanism} {implementation}",
        "message": f"{passed}/{applicable} clauses",
        "color": _view.badge_color(data, mechanism, implementation),
    }

"""The Jinja environment of the package's templates (report.html, the SVG badge)."""

from __future__ import annotations

import functools

import jinja2

__all__ = ["environment"]


@functools.cache
def environment() -> jinja2.Environment:
    """Autoescaping (HTML and SVG alike), strict about undefined names."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("distconform.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

"""report.json's JSON Schema (shipped as package data) and the check every renderer runs.

The schema is the contract for people's scripts as much as for the renderers:
tests validate every report the suite writes against it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from typing import Any

import jsonschema

from distconform.errors import UsageError
from distconform.report.jsondata import FORMAT

__all__ = ["SCHEMA_FILE", "ReportError", "json_schema", "validate"]

SCHEMA_FILE = "report.schema.json"


class ReportError(UsageError):
    """The input is not a report this version can render."""


@functools.cache
def json_schema() -> dict[str, Any]:
    """The schema, from the installed package."""
    text = importlib.resources.files("distconform.report").joinpath(SCHEMA_FILE).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _where(path: Any) -> str:
    """Where in the file: ``results[3]['outcome']``, or ``the file`` for its top."""
    parts = [f"[{p}]" if isinstance(p, int) else f"[{p!r}]" for p in path]
    if not parts:
        return "the file"
    return parts[0].strip("[']") + "".join(parts[1:])


def validate(data: Any) -> None:
    """Raise :class:`ReportError` with one line when ``data`` does not follow the schema."""
    if isinstance(data, dict) and "format" in data and data["format"] != FORMAT:
        raise ReportError(
            f"report format {data['format']!r} is not {FORMAT}, the one this "
            "distconform renders: re-run `distconform verify` with this version"
        )
    validator = jsonschema.Draft202012Validator(json_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
        raise ReportError(f"not a distconform report: {_where(error.absolute_path)}: {message}")

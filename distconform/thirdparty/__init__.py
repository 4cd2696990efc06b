"""Adapters for third-party implementations, one module per mechanism.

Each adapter maps the suite's interface onto a library with the library's own
defaults; it never corrects what the library does, so that a verdict is the
library's. Install the libraries with ``pip install distconform[thirdparty]``.
"""

from __future__ import annotations

import importlib
from typing import Any

from distconform.errors import UsageError


def _require(module: str, dist: str) -> Any:
    """Import a library's module, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"the {dist} adapter needs the {dist!r} package ({exc}): "
            "pip install 'distconform[thirdparty]'"
        ) from None

"""Helpers shared by the conformance test modules."""

from __future__ import annotations

__all__ = ["Inconclusive", "expect"]


class Inconclusive(RuntimeError):
    """A test could not reach the state it needs: reported as error, not as a failed clause."""


def expect(condition: object, what: str) -> None:
    """Stop the test as inconclusive unless ``condition`` holds (a setup step, not a check)."""
    if not condition:
        raise Inconclusive(f"setup: {what}")

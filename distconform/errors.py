"""The suite's few named errors."""

from __future__ import annotations

__all__ = ["BackendUnavailable", "CallTimeout", "UsageError"]


class UsageError(Exception):
    """Bad input from the user: the message says what to do. The CLI exits 2."""


class BackendUnavailable(UsageError):
    """A server named by URL cannot be reached."""


class CallTimeout(AssertionError):
    """A call into an implementation did not return in time.

    An ``AssertionError`` so that a hanging implementation *fails* its test:
    hanging is a wrong answer, not a harness error.
    """

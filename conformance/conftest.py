"""Run order of the conformance tests: the longest first.

Under pytest-xdist a worker is handed the next test when it is almost idle,
so a run ends when the last tests handed out end: a 15 s test handed out last
keeps one worker busy while the others have nothing left to do. A test that
takes seconds says so with ``@pytest.mark.takes(SECONDS)``: about how long
its slowest reference implementation took (measured on the 2-core machine,
2026-12-01, with 4 workers at the load of other runs), mostly the waits its
clause needs (TTLs, timeouts, windows, failovers). Tests are run by that
figure, longest first, the rest after them in file order, so that a run ends
on short tests. Only the order changes, not what runs; tests of other
folders (a whole-suite run) keep their places.
"""

from __future__ import annotations

from pathlib import Path

import pytest

MARK = "takes"
HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARK}(seconds): about how long the test takes; the longest run first"
    )


def _seconds(item: pytest.Item) -> float:
    mark = item.get_closest_marker(MARK)
    return float(mark.args[0]) if mark is not None else 0.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest first among this folder's tests, in the places they hold (a stable sort)."""
    slots = [i for i, item in enumerate(items) if item.path.resolve().parent == HERE]
    ordered = sorted((items[i] for i in slots), key=lambda item: -_seconds(item))
    for i, item in zip(slots, ordered, strict=True):
        items[i] = item

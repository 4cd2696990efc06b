"""pytest plugin for mutant runs: the project's Hypothesis profile without shrinking.

``tests/mutation/run.py`` loads it with ``-p mutate_profile``. After the
distconform plugin has loaded its profile (``ci`` for mutant runs), this loads
the same settings less the shrink phase. A mutant's verdict does not change:
generation is derandomized and does not depend on shrinking, which only
minimises an example that already failed; it saves the time a killed mutant
would spend shrinking.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    current = settings()
    settings.register_profile(
        "distconform-mutate", current, phases=[p for p in current.phases if p != Phase.shrink]
    )
    settings.load_profile("distconform-mutate")

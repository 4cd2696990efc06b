"""The project's Hypothesis profiles, registered when Hypothesis is imported.

Hypothesis calls this itself, through the ``hypothesis`` entry point in
pyproject.toml, at the end of its own import: before any test module builds
``settings(...)`` from the loaded profile, and before a plugin such as
tests/mutation/mutate_profile.py reads it. Runs that never import Hypothesis
(``distconform verify``, the conformance tests) no longer import it in every
test process: with its 70-odd modules rewritten by pytest's assertion hook
(uncached where bytecode is not written), that was about 0.9 s of CPU per
pytest-xdist worker, all spent before the first test could start.

Profiles: ``dev`` (30 examples, no deadline) and ``ci`` (derandomized, 150
examples, no deadline); ``DISTCONFORM_HYPOTHESIS_PROFILE`` names one, else
``ci`` when ``CI`` is set, else ``dev``.
"""

from __future__ import annotations

import os

__all__ = ["ENTRY_POINT", "register"]

#: As pyproject.toml names it in [project.entry-points.hypothesis].
ENTRY_POINT = "distconform.hypothesis_profiles:register"


def register() -> None:
    from hypothesis import HealthCheck, settings

    settings.register_profile("dev", max_examples=30, deadline=None)
    settings.register_profile(
        "ci",
        settings.get_profile("ci"),
        derandomize=True,
        deadline=None,
        max_examples=150,
        suppress_health_check=[HealthCheck.too_slow],
    )
    profile = os.environ.get("DISTCONFORM_HYPOTHESIS_PROFILE") or (
        "ci" if os.environ.get("CI") else "dev"
    )
    settings.load_profile(profile)

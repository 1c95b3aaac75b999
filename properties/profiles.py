"""The suite's Hypothesis profiles, the one a run asks for, and the seed each property test draws from."""

from __future__ import annotations

import hashlib
import os

from hypothesis import HealthCheck, Phase, settings


def register_profiles() -> None:
    """The suite's Hypothesis profiles (registered for the runs that use them, not at import)."""
    common = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
        "report_multiple_bugs": False,  # one failure per property, never an ExceptionGroup
        "print_blob": False,  # a failure carries its own reproduction; Hypothesis's CI profile would add a blob line
    }
    find_and_shrink = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]  # no 'explain' block
    settings.register_profile("default", max_examples=40, phases=find_and_shrink, **common)
    settings.register_profile("ci", max_examples=60, phases=find_and_shrink, **common)
    settings.register_profile("thorough", max_examples=600, phases=find_and_shrink, **common)
    # A smoke test of a setup (an installation, a plug-in's wiring): every property runs, on a few examples each.
    settings.register_profile(
        "smoke", max_examples=4, phases=[Phase.explicit, Phase.generate], database=None, derandomize=True, **common
    )
    # The known-bug gallery: find the bug, skip the costly shrink; derandomized, so that a catch or a miss is a
    # property of the code under test, not of one run's draw.
    settings.register_profile(
        "gallery", max_examples=60, phases=[Phase.explicit, Phase.generate], database=None, derandomize=True, **common
    )


def run_profile(config) -> str:
    """The Hypothesis profile this run asks for."""
    profile = config.getoption("hypothesis_profile", None) or os.environ.get("HYPOTHESIS_PROFILE")
    return profile or ("ci" if os.environ.get("CI") else "default")


def seed_of_test(item, run: int | str | None) -> int:
    """The seed of one property test: the run's seed (None for a derandomized profile) and the test's id together.
    One seed for every test would draw the same choices in every test of one function: the same cases for every
    entry of the same capabilities, the same batch and dtype for every layer of the catalogue."""
    digest = hashlib.sha256(f"{run}:{item.nodeid}".encode()).digest()
    return int.from_bytes(digest[:8], "big")

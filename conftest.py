"""Root pytest configuration: Hypothesis profiles, ``--impl``, and the registry as test parameters."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings

import impls
from impls.registry import load_spec

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("default", max_examples=40, **_COMMON)
settings.register_profile("ci", max_examples=60, print_blob=True, **_COMMON)
settings.register_profile("thorough", max_examples=600, **_COMMON)
# Used by the known-bug gallery: find the bug, skip the costly shrink.
settings.register_profile("gallery", max_examples=60, phases=[Phase.explicit, Phase.generate], database=None, **_COMMON)


def pytest_addoption(parser):
    parser.addoption(
        "--impl",
        action="append",
        default=[],
        metavar="NAME=MODULE:ATTR",
        help="register an outside conv2d callable for this run (repeatable)",
    )


def pytest_configure(config):
    profile = config.getoption("hypothesis_profile", None) or os.environ.get("HYPOTHESIS_PROFILE")
    if profile is None:
        profile = "ci" if os.environ.get("CI") else "default"
    settings.load_profile(profile)
    registry = dict(impls.REGISTRY)
    for spec in config.getoption("impl"):
        entry = load_spec(spec)
        if entry.name in registry:
            raise pytest.UsageError(f"--impl {spec}: the name {entry.name!r} is already registered")
        registry[entry.name] = entry
    config.stash[REGISTRY_KEY] = registry


REGISTRY_KEY = pytest.StashKey[dict]()


def pytest_report_header(config):
    import hypothesis
    import numpy
    import scipy
    import torch

    registry = config.stash[REGISTRY_KEY]
    lines = [
        "convcheck implementations: " + ", ".join(f"{name} ({entry.error_model})" for name, entry in registry.items()),
        f"numpy {numpy.__version__}, scipy {scipy.__version__}, torch {torch.__version__}, "
        f"hypothesis {hypothesis.__version__}; hypothesis profile: {settings.get_current_profile_name()}",
    ]
    lines += [f"unavailable: {name}: {why}" for name, why in impls.UNAVAILABLE.items()]
    return lines


@pytest.fixture(scope="session")
def registry(request) -> dict:
    """Every implementation under test this run, by name."""
    return request.config.stash[REGISTRY_KEY]


def pytest_generate_tests(metafunc):
    if "impl" in metafunc.fixturenames:
        entries = list(metafunc.config.stash[REGISTRY_KEY].values())
        metafunc.parametrize("impl", entries, ids=[entry.name for entry in entries])

"""Root pytest configuration: Hypothesis profiles, ``--impl``, and the registry as test parameters."""

from __future__ import annotations

import os
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings

import impls
from impls.registry import load_spec
from properties.runner import pending_entries

_COMMON = {
    "deadline": None,
    "report_multiple_bugs": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("default", max_examples=40, **_COMMON)
settings.register_profile("ci", max_examples=60, print_blob=True, **_COMMON)
settings.register_profile("thorough", max_examples=600, **_COMMON)
# Used by the known-bug gallery: find the bug, skip the costly shrink; derandomized, so that a catch or a miss is a
# property of the code under test, not of one run's draw.
settings.register_profile(
    "gallery", max_examples=60, phases=[Phase.explicit, Phase.generate], database=None, derandomize=True, **_COMMON
)


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
    registry.update((entry.name, entry) for entry in pending_entries())  # from properties.runner
    for spec in config.getoption("impl"):
        entry = load_spec(spec)
        if entry.name in registry:
            raise pytest.UsageError(f"--impl {spec}: the name {entry.name!r} is already registered")
        registry[entry.name] = entry
    config.stash[REGISTRY_KEY] = registry
    config.pluginmanager.register(ConformanceSummary(registry), "convcheck-conformance")


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


def _family(nodeid: str) -> str:
    module = nodeid.split("::")[0].rsplit("/", 1)[-1]
    return module.removeprefix("test_").removesuffix(".py")


def pytest_collection_modifyitems(config, items):
    """Tag each property test with its implementation, for the conformance summary (works under xdist), and mark
    the failures an implementation declares as expected: reported as xfail with the reason, never run (a known
    failure would otherwise cost a search and a shrink on every run)."""
    for item in items:
        entry = getattr(item, "callspec", None) and item.callspec.params.get("impl")
        if entry is None or not item.nodeid.startswith("properties/"):
            continue
        item.user_properties.append(("implementation", entry.name))
        known = entry.expected_failures
        reason = known.get(_family(item.nodeid)) or known.get(item.originalname)
        if reason:
            item.add_marker(pytest.mark.xfail(reason=f"{entry.name}: {reason} (declared)", run=False))


class ConformanceSummary:
    """Implementations x property families at the end of the run (the controller's view, so it works under xdist)."""

    MARKS: ClassVar[dict[str, str]] = {"failed": "FAIL", "passed": "pass", "xfailed": "xfail", "skipped": "skip"}

    def __init__(self, names):
        self.names = list(names)
        self.outcomes: dict[tuple[str, str], dict[str, int]] = {}  # (implementation, family) -> outcome counts

    def implementation_of(self, report) -> str | None:
        """The implementation a property test's report is about: tagged at collection, or (for the report xdist
        makes when a worker crashes, which carries no tags) the registry name among the test id's parameters."""
        tagged = dict(report.user_properties).get("implementation")
        if tagged is not None or not report.nodeid.startswith("properties/") or "[" not in report.nodeid:
            return tagged
        parameters = "-" + report.nodeid.partition("[")[2].removesuffix("]") + "-"
        return max((name for name in self.names if f"-{name}-" in parameters), key=len, default=None)

    def pytest_runtest_logreport(self, report):
        implementation = self.implementation_of(report)
        if implementation is None or (report.when != "call" and report.outcome == "passed"):
            return
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        counts = dict.fromkeys(self.MARKS, 0)
        self.outcomes.setdefault((implementation, _family(report.nodeid)), counts)[outcome] += 1

    def pytest_terminal_summary(self, terminalreporter):
        """FAIL if any test failed (or crashed), else pass if any passed, else xfail if any was a declared known
        failure, else skip."""
        if not self.outcomes:
            return
        names = sorted({name for name, _ in self.outcomes})
        families = sorted({family for _, family in self.outcomes})
        width = max(len(f) for f in families) + 2
        terminalreporter.section("convcheck conformance")
        terminalreporter.write_line("".ljust(width) + "".join(name.ljust(max(len(name), 4) + 2) for name in names))
        for family in families:
            row = family.ljust(width)
            for name in names:
                cell = self.outcomes.get((name, family))
                state = "-" if cell is None else next(self.MARKS[k] for k in self.MARKS if cell[k])
                row += state.ljust(max(len(name), 4) + 2)
            terminalreporter.write_line(row)

"""Check one conv2d from a script or notebook, before registering it: the property suite, run in-process.

    from properties.runner import check_implementation
    for result in check_implementation(my_conv2d, name="mine"):
        print(result)

It runs the same ``pytest properties`` tests as the command line (nothing is duplicated here), with ``fn`` added to
the registry for that run, and returns one :class:`CheckResult` per property test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from impls import Entry

_PENDING: list[Entry] = []  # read by the root conftest's pytest_configure
SUITE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CheckResult:
    property: str  # the test, e.g. "test_matches_oracle_within_error_bound"
    family: str  # the module, e.g. "agreement"
    status: str  # "passed", "failed" or "skipped"
    counterexample: str | None = None  # the shrunk configuration's one-line descriptor, when failed
    message: str = ""  # the first lines of the failure or the skip reason

    def __str__(self) -> str:
        text = f"{self.status:7} {self.family}::{self.property}"
        return text + (f"  [{self.counterexample}]" if self.counterexample else "")


def pending_entries() -> list[Entry]:
    return list(_PENDING)


class _Collector:
    """A pytest plug-in: keeps only the candidate's tests and records their outcomes."""

    def __init__(self, name: str):
        self.name, self.results = name, []

    def pytest_collection_modifyitems(self, config, items):
        keep = [item for item in items if _implementation_name(item) == self.name]
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep

    def pytest_runtest_logreport(self, report):
        if report.when != "call" and report.outcome == "passed":
            return
        module, _, test = report.nodeid.partition("::")
        text = report.longreprtext if report.failed else (report.longrepr[2] if report.skipped else "")
        found = re.search(r"^E?\s*case: (.+)$", text, flags=re.MULTILINE)
        self.results.append(
            CheckResult(
                property=test.split("[")[0],
                family=Path(module).stem.removeprefix("test_"),
                status=report.outcome,
                counterexample=found.group(1) if found and report.failed else None,
                message=_explanation(text) if report.failed else str(text),
            )
        )


def _explanation(text: str) -> str:
    """The assertion's own lines (pytest prefixes them with 'E')."""
    lines = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    return "\n".join(lines[:12])


def _implementation_name(item) -> str | None:
    entry = getattr(item, "callspec", None) and item.callspec.params.get("impl")
    return getattr(entry, "name", None)


def check_implementation(fn, name: str = "candidate", profile: str = "default", extra_args=()) -> list[CheckResult]:
    """Run every property on ``fn`` (a callable with the contract's signature, optionally declaring
    ``error_model``, ``capabilities`` and ``max_gflop`` attributes); return the results, failures first."""
    entry = Entry.from_callable(name, fn, origin="check_implementation")
    collector = _Collector(name)
    _PENDING.append(entry)
    try:
        args = [str(SUITE), "-q", "-p", "no:cacheprovider", f"--hypothesis-profile={profile}"]
        pytest.main([*args, *extra_args], plugins=[collector])
    finally:
        _PENDING.remove(entry)
    order = {"failed": 0, "passed": 1, "skipped": 2}
    return sorted(collector.results, key=lambda r: (order.get(r.status, 3), r.family, r.property))

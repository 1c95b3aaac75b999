"""Check one conv2d (or conv_transpose2d, or conv2d_backward) from a script or notebook, before registering it: the
property suite, run in-process.

    from convcheck.properties.runner import check_implementation
    report = check_implementation(my_conv2d, name="mine")
    print(report)            # the per-family verdicts and each failure's case
    report.passed            # True when no property failed

It runs the same ``pytest properties`` tests as the command line (nothing is duplicated here), with ``fn`` handed
to the run's registry by a plug-in object, quietly (``verbose=True`` prints pytest's output), and leaves nothing in
the working directory (no example database, no cache) unless ``database=`` names a folder.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from convcheck.impls.registry import entry_of_callable
from convcheck.properties.conformance import CheckResult
from convcheck.properties.items import entry_under_test

SUITE = Path(__file__).resolve().parent


@dataclass
class CheckReport:
    """Everything one check found: per-family verdicts, every result, and pytest's output."""

    name: str
    verdicts: dict[str, str] = field(default_factory=dict)  # family -> pass | FAIL | skip | xfail | XPASS
    results: list[CheckResult] = field(default_factory=list)
    output: str = ""  # what pytest printed
    exit_code: int = 0

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and "FAIL" not in self.verdicts.values()

    @property
    def failures(self) -> list[CheckResult]:
        return [result for result in self.results if result.status == "failed"]

    def __iter__(self):  # results, failures first
        return iter(self.results)

    def table(self) -> str:
        width = max(map(len, self.verdicts), default=0) + 2
        return "\n".join(f"{family.ljust(width)}{verdict}" for family, verdict in self.verdicts.items())

    def __str__(self) -> str:
        lines = [f"convcheck: {self.name}: {'pass' if self.passed else 'FAIL'}", self.table()]
        for failure in self.failures:
            lines += [f"FAIL {failure.family}::{failure.property}", f"  {failure.message.partition(chr(10))[0]}"]
            lines += [f"  case: {failure.counterexample}"] if failure.counterexample else []
        return "\n".join(lines)


class _Candidate:
    """A pytest plug-in: hands the candidate to the run's registry, keeps only its tests, records their outcomes."""

    def __init__(self, entry):
        self.entry = entry
        self.results: list[CheckResult] = []
        self.verdicts: dict[str, str] = {}

    def pytest_convcheck_entries(self, config):
        return [self.entry]

    def pytest_collection_modifyitems(self, config, items):
        keep = [item for item in items if entry_under_test(item) is self.entry]
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session):
        """The candidate's outcomes, as the run's conformance summary collected them."""
        summary = session.config.pluginmanager.get_plugin("convcheck-conformance")
        self.results = [check for check in summary.checks if check.implementation == self.entry.name]
        self.verdicts = summary.results(self.entry.name).get(self.entry.name, {})


def check_implementation(
    fn,
    name: str = "candidate",
    profile: str = "default",
    extra_args=(),
    verbose: bool = False,
    database: str | None = None,
) -> CheckReport:
    """Run every property of its call on ``fn`` (a conv2d with the contract's signature, optionally declaring
    ``error_model``, ``capabilities``, ``max_gflop`` and ``expected_failures`` attributes; or a conv_transpose2d or
    conv2d_backward, see :func:`convcheck.impls.signature.implemented_call`) under the Hypothesis ``profile``; return
    a :class:`CheckReport`."""
    candidate = _Candidate(entry_of_callable(name, fn, origin="check_implementation"))
    args = [str(SUITE), "-p", "no:cacheprovider", "-p", "no:benchmark", f"--hypothesis-profile={profile}"]
    args += [f"--example-database={database or 'none'}", *extra_args]
    stream = io.StringIO()
    if verbose:
        exit_code = pytest.main(args, plugins=[candidate])
    else:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            exit_code = pytest.main([*args, "-q"], plugins=[candidate])
    order = {"failed": 0, "xpassed": 1, "passed": 2, "xfailed": 3, "skipped": 4}
    return CheckReport(
        name=name,
        verdicts=candidate.verdicts,
        results=sorted(candidate.results, key=lambda r: (order.get(r.status, 5), r.family, r.property)),
        output=stream.getvalue(),
        exit_code=int(exit_code),
    )

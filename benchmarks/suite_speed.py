"""The property suite's own speed: how long a user waits for a verdict on a callable (``test_suite_speed.py``).

:func:`run_suite` runs ``python -m pytest properties ...`` in a fresh interpreter at the repository root, as a user
does, with this module as a plug-in of that run (``-p benchmarks.suite_speed``), which records each property test:
its family and implementation, its outcome, its duration (setup, call and teardown, as its reports say), the
examples Hypothesis ran (passing, failing and invalid, from Hypothesis's statistics of the test), and the wall-clock
time its last report came in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD_OPTION = "--suite-speed-record"
HYPOTHESIS_STATISTICS = "_hypothesis_stats"  # where Hypothesis's pytest plug-in leaves a test's statistics
EXAMPLES = re.compile(r"(\d+) passing examples, (\d+) failing examples, (\d+) invalid examples")


@dataclass(frozen=True)
class TestRecord:
    """One property test of a run."""

    nodeid: str
    family: str | None
    implementation: str | None
    outcome: str  # "passed", "failed" or "skipped"
    seconds: float
    examples: int
    finished: float  # time.time() when its last report came in


@dataclass(frozen=True)
class SuiteRun:
    """One run of the property suite in a fresh interpreter: its exit status, wall time and tests."""

    returncode: int
    seconds: float
    started: float  # time.time() when the interpreter was started
    tests: list[TestRecord]
    output: str

    def first_failure(self) -> TestRecord | None:
        failed = [test for test in self.tests if test.outcome == "failed"]
        return min(failed, key=lambda test: test.finished, default=None)

    def families(self) -> dict[str, dict]:
        """Per family: tests run (not skipped), seconds in them, examples, and examples per second (None for a family
        without Hypothesis examples, such as the golden values)."""
        totals = defaultdict(lambda: {"tests": 0, "seconds": 0.0, "examples": 0})
        for test in self.tests:
            if test.family is not None and test.outcome != "skipped":
                total = totals[test.family]
                total["tests"] += 1
                total["seconds"] += test.seconds
                total["examples"] += test.examples
        for total in totals.values():
            total["examples_per_s"] = total["examples"] / total["seconds"] if total["examples"] else None
        return dict(sorted(totals.items()))


def run_suite(*arguments: str, timeout: float = 1800) -> SuiteRun:
    """``python -m pytest ARGUMENTS`` at the repository root, recorded; the example database and the cache provider
    are off, so that no earlier run's failure is replayed first."""
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "tests.json"
        command = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", __name__, f"{RECORD_OPTION}={record}",
            "--example-database=none", "-q", *arguments,
        ]  # fmt: skip
        started = time.time()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=_environment())
        seconds = time.time() - started
        tests = [TestRecord(**test) for test in json.loads(record.read_text())] if record.exists() else []
    return SuiteRun(result.returncode, seconds, started, tests, result.stdout + result.stderr)


def _environment() -> dict[str, str]:
    """This environment, without what would change the run: a Hypothesis profile, pytest options, xdist."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HYPOTHESIS_", "PYTEST_")) and key not in ("CI", "PYTEST_ADDOPTS")
    }


# The plug-in, in the recorded run.


def pytest_addoption(parser):
    parser.addoption(RECORD_OPTION, metavar="PATH", help="write each property test's duration and examples as JSON")


def pytest_configure(config):
    if config.getoption(RECORD_OPTION.lstrip("-").replace("-", "_")):
        config.pluginmanager.register(_Recorder(), "convcheck-suite-speed")


class _Recorder:
    def __init__(self):
        self.tests: dict[str, dict] = {}

    def pytest_runtest_logreport(self, report):
        properties = dict(report.user_properties)
        test = self.tests.setdefault(
            report.nodeid,
            {
                "nodeid": report.nodeid,
                "family": properties.get("family"),
                "implementation": properties.get("implementation"),
                "outcome": "passed",
                "seconds": 0.0,
                "examples": 0,
            },
        )
        test["seconds"] += report.duration
        test["finished"] = time.time()
        if report.failed or (report.skipped and test["outcome"] == "passed"):
            test["outcome"] = "failed" if report.failed else "skipped"
        statistics = report.__dict__.get(HYPOTHESIS_STATISTICS) or ""
        test["examples"] += sum(sum(map(int, counts)) for counts in EXAMPLES.findall(statistics))

    def pytest_sessionfinish(self, session):
        path = Path(session.config.getoption(RECORD_OPTION.lstrip("-").replace("-", "_")))
        path.write_text(json.dumps(list(self.tests.values())))

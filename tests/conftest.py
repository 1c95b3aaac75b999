"""Fixtures of the project's own tests: the property suite run in a fresh interpreter, as a user would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


class SuiteRun:
    """The outcome of one run of the property suite: pytest's result and its conformance JSON report."""

    def __init__(self, result: pytest.RunResult, report_path: Path):
        self.result = result
        self.output = result.stdout.str()
        self.report = json.loads(report_path.read_text()) if report_path.exists() else None

    def verdict(self, implementation: str, family: str) -> str | None:
        return self.report["results"].get(implementation, {}).get(family)


@pytest.fixture
def run_suite(pytester, monkeypatch):
    """``run_suite(*paths_and_options, profile="gallery")``: ``pytest`` on the property suite in a subprocess, in a
    scratch folder (no example database or cache left in the repository), with the repository importable (so that
    ``--impl NAME=tests.MODULE:ATTR`` works). Paths are relative to the repository root."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    for variable in ("HYPOTHESIS_PROFILE", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(variable, raising=False)

    def run(*arguments: str, profile: str = "gallery", timeout: float = 1800) -> SuiteRun:
        report = pytester.path / "conformance.json"
        report.unlink(missing_ok=True)
        resolved = [str(ROOT / a) if a.startswith(("properties", "benchmarks")) else a for a in arguments]
        options = [f"--hypothesis-profile={profile}", f"--conformance-json={report}", "--rootdir", str(ROOT)]
        resolved.insert(0, "--repeats-before-stop=0")  # every family's verdict unless a test asks otherwise
        result = pytester.runpytest_subprocess(*resolved, *options, "-p", "no:cacheprovider", timeout=timeout)
        return SuiteRun(result, report)

    return run

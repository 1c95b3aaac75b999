"""The conformance verdicts of a run: implementations x property families, for a person and for a machine.

A pytest plug-in (registered by :mod:`convcheck.properties.plugin`) collects every property test's report on the
controller (so it works under pytest-xdist): its implementation and family come from the tags the plug-in put on the
item at collection, its case, reproduction and message from the failure. At the end of the run it prints the table and,
when asked, writes

- ``--conformance-json PATH``: ``{"verdict": "pass"|"FAIL", "counts": {verdict: cells}, "seed": N,
  "environment": {...}, "results": {implementation: {family: verdict}},
  "failures": [{"implementation", "test", "family", "case", "message", "reproduce", "invalid"}]}``;
- ``--conformance-md PATH``: the same table in Markdown, with the failures listed below it (for CI summaries).

A family's verdict: ``FAIL`` if a test failed (or crashed), else ``XPASS`` if a declared failure passed, else
``stop`` if its tests were not run because the entry failed the same way before (:mod:`convcheck.properties.stopping`),
else ``xfail`` if a declared failure was not run or failed as declared, else ``pass`` if a test passed, else ``skip``.
The JSON report also carries the run's overall verdict, the count of each verdict and the Hypothesis seed.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from importlib import metadata
from pathlib import Path

VERDICTS = ("FAIL", "XPASS", "stop", "xfail", "pass", "skip")  # by precedence
PACKAGE = Path(__file__).resolve().parent  # the property families' modules
LIBRARIES = ("numpy", "scipy", "hypothesis", "pytest", "torch", "jax", "onnxruntime", "opencv-python-headless")


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One property test's outcome, as the table, the JSON report and
    :func:`convcheck.properties.runner.check_implementation` all read it."""

    implementation: str
    property: str  # the test, without the implementation: "test_matches_oracle_within_error_bound"
    family: str  # e.g. "agreement"
    status: str  # "passed", "failed", "skipped", "xfailed" or "xpassed"
    verdict: str  # what it gives its family: one of VERDICTS
    nodeid: str = ""
    counterexample: str | None = None  # the failing case's one-line descriptor
    message: str = ""  # a failure's whole report, or the skip reason
    reproduce: str | None = None  # Python lines that reproduce a failure
    invalid: str | None = None  # the invalid-argument class, for invalid-argument checks

    def __str__(self) -> str:
        text = f"{self.status:7} {self.family}::{self.property}"
        return text + (f"  [{self.counterexample}]" if self.counterexample else "")

    def failure(self) -> dict:
        """The JSON report's record of a failure."""
        return {
            "implementation": self.implementation, "test": self.nodeid, "family": self.family,
            "case": self.counterexample, "message": self.message, "reproduce": self.reproduce, "invalid": self.invalid,
        }  # fmt: skip


def check_result(report, tags: dict) -> CheckResult:
    """The outcome of one property test's report (tagged by the plug-in with its implementation and family)."""
    status = report.outcome
    if hasattr(report, "wasxfail"):
        status = "xpassed" if report.passed else "xfailed"
    message = tags.get("message") or (last_line(report.longreprtext) if report.failed else "")
    if report.skipped:
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    test = report.nodeid.partition("::")[2]
    return CheckResult(
        implementation=tags["implementation"],
        property=test.partition("[")[0] + _without_entry(test.partition("[")[2].rstrip("]"), tags["implementation"]),
        family=tags["family"],
        status=status,
        verdict=outcome_of(report),
        nodeid=report.nodeid,
        counterexample=tags.get("case"),
        message=message,
        reproduce=tags.get("reproduce"),
        invalid=tags.get("invalid"),
    )


def _without_entry(parameters: str, name: str) -> str:
    """A test id's parameters less the implementation's: "[kind]" of "name-kind"; "" of "name"."""
    rest = parameters.removeprefix(name).lstrip("-")
    return f"[{rest}]" if rest else ""


def outcome_of(report) -> str:
    """The verdict one report gives its family."""
    if ("stopped", True) in report.user_properties:
        return "stop"
    if hasattr(report, "wasxfail"):
        return "XPASS" if report.passed else "xfail"
    return {"failed": "FAIL", "passed": "pass"}.get(report.outcome, "skip")


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def run_seed(config) -> int | str | None:
    """The seed of the run's property tests: ``--hypothesis-seed``, else the one the plug-in chose (None before)."""
    given = config.getoption("hypothesis_seed", None)
    return given if given is not None else getattr(config.option, "convcheck_seed", None)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def library_version(entry) -> str | None:
    """``"jax 0.10.2"``: the distribution an entry tests and its installed version, or None."""
    if not getattr(entry, "library", None):
        return None
    try:
        return f"{entry.library} {metadata.version(entry.library)}"
    except metadata.PackageNotFoundError:
        return f"{entry.library} (version unknown)"


def declaration(entry) -> dict:
    """What an entry declares, as JSON."""
    return {
        "library": library_version(entry),
        "error_model": entry.error_model,
        "capabilities": dataclasses.asdict(entry.capabilities),
        "max_gflop": entry.max_gflop,
        "examples": entry.examples,
        "expected_failures": [dataclasses.asdict(failure) for failure in entry.expected_failures],
        "origin": entry.origin,
    }


class ConformanceSummary:
    """Collects the verdicts of a run; prints the table; writes the JSON and Markdown reports."""

    def __init__(self, config, registry, profile: str, unavailable: dict[str, str]):
        self.config = config
        self.registry = registry
        self.profile = profile
        self.unavailable = dict(unavailable)
        self.checks: list[CheckResult] = []  # every property test's outcome, in the order reported
        self.unattributed: list[str] = []  # property tests failed without tags: a crashed xdist worker's test

    def pytest_runtest_logreport(self, report):
        tags = dict(report.user_properties)
        if report.when != "call" and report.outcome == "passed":
            return
        if "implementation" not in tags:  # a conv_transpose2d or conv2d_backward test ("operation"): not in the table
            module = report.nodeid.split("::")[0]
            inside = (self.config.rootpath / module).resolve().parent == PACKAGE
            if report.failed and inside and "operation" not in tags:
                self.unattributed.append(report.nodeid)
            return
        self.checks.append(check_result(report, tags))

    @property
    def failures(self) -> list[dict]:
        return [check.failure() for check in self.checks if check.verdict == "FAIL"]

    def results(self, implementation: str | None = None) -> dict[str, dict[str, str]]:
        """implementation -> family -> verdict (of one implementation only, when named)."""
        seen: dict[str, dict[str, set[str]]] = {}
        for check in self.checks:
            if implementation in (None, check.implementation):
                seen.setdefault(check.implementation, {}).setdefault(check.family, set()).add(check.verdict)
        return {
            name: {family: next(v for v in VERDICTS if v in verdicts) for family, verdicts in sorted(families.items())}
            for name, families in sorted(seen.items())
        }

    def environment(self) -> dict:
        return {
            "versions": library_versions(),
            "profile": self.profile,
            "seed": run_seed(self.config),
            "implementations": {name: declaration(entry) for name, entry in self.registry.items()},
            "unavailable": self.unavailable,
        }

    def report(self) -> dict:
        """The JSON report: the overall verdict ("FAIL" when any property failed or stopped an entry, else "pass"),
        the count of each family verdict, the environment (with the Hypothesis seed), the table and the failures."""
        results = self.results()
        cells = [verdict for families in results.values() for verdict in families.values()]
        failed = bool(self.failures or self.unattributed) or any(v in ("FAIL", "XPASS", "stop") for v in cells)
        return {
            "verdict": "FAIL" if failed else "pass",
            "counts": {verdict: cells.count(verdict) for verdict in VERDICTS},
            "seed": run_seed(self.config),
            "environment": self.environment(),
            "results": results,
            "failures": self.failures,
        }

    def table(self) -> tuple[list[str], list[str], list[list[str]]]:
        """(families, implementations, rows of verdicts, '-' where not run)."""
        results = self.results()
        names = list(results)
        families = sorted({family for verdicts in results.values() for family in verdicts})
        rows = [[results[name].get(family, "-") for name in names] for family in families]
        return families, names, rows

    def markdown(self) -> str:
        families, names, rows = self.table()
        lines = ["| family | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += [f"| {family} | " + " | ".join(row) + " |" for family, row in zip(families, rows, strict=True)]
        if self.failures:
            lines += ["", "Failures:", ""]
            lines += [
                f"- `{f['implementation']}` {f['family']}: {f['message'].splitlines()[0] if f['message'] else ''}"
                + (f" (case: `{f['case']}`)" if f["case"] else "")
                for f in self.failures
            ]
        return "\n".join(lines) + "\n"

    def pytest_terminal_summary(self, terminalreporter):
        if not self.checks and not self.unattributed:
            return
        families, names, rows = self.table()
        width = max(map(len, families), default=6) + 2
        terminalreporter.section("convcheck conformance")
        terminalreporter.write_line("".ljust(width) + "".join(name.ljust(max(len(name), 5) + 2) for name in names))
        for family, row in zip(families, rows, strict=True):
            cells = "".join(v.ljust(max(len(n), 5) + 2) for v, n in zip(row, names, strict=True))
            terminalreporter.write_line(family.ljust(width) + cells)
        for nodeid in self.unattributed:
            terminalreporter.write_line(f"FAIL without a verdict cell (its process died): {nodeid}", red=True)

    def pytest_sessionfinish(self, session):
        if hasattr(self.config, "workerinput"):  # an xdist worker: the controller writes the reports
            return
        json_path = self.config.getoption("conformance_json")
        md_path = self.config.getoption("conformance_md")
        if json_path:
            Path(json_path).write_text(json.dumps(self.report(), indent=2, default=str) + "\n")
        if md_path:
            Path(md_path).write_text(self.markdown())

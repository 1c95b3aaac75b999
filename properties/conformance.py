"""The conformance verdicts of a run: implementations x property families, for a person and for a machine.

A pytest plug-in (registered by :mod:`properties.plugin`) collects every property test's report on the controller
(so it works under pytest-xdist): its implementation and family come from the tags the plug-in put on the item at
collection, its case, reproduction and message from the failure. At the end of the run it prints the table and, when
asked, writes

- ``--conformance-json PATH``: ``{"environment": {...}, "results": {implementation: {family: verdict}},
  "failures": [{"implementation", "test", "family", "case", "message", "reproduce", "invalid"}]}``;
- ``--conformance-md PATH``: the same table in Markdown, with the failures listed below it (for CI summaries).

A family's verdict: ``FAIL`` if a test failed (or crashed), else ``XPASS`` if a declared failure passed, else
``xfail`` if a declared failure was not run or failed as declared, else ``pass`` if a test passed, else ``skip``.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from importlib import metadata
from pathlib import Path

VERDICTS = ("FAIL", "XPASS", "xfail", "pass", "skip")  # by precedence
PACKAGE = Path(__file__).resolve().parent  # the property families' modules
LIBRARIES = ("numpy", "scipy", "hypothesis", "pytest", "torch", "jax", "onnxruntime", "opencv-python-headless")


def outcome_of(report) -> str:
    """The verdict one report gives its family."""
    if hasattr(report, "wasxfail"):
        return "XPASS" if report.passed else "xfail"
    return {"failed": "FAIL", "passed": "pass"}.get(report.outcome, "skip")


def last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


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
        "expected_failures": dict(entry.expected_failures),
        "origin": entry.origin,
    }


class ConformanceSummary:
    """Collects the verdicts of a run; prints the table; writes the JSON and Markdown reports."""

    def __init__(self, config, registry, profile: str, unavailable: dict[str, str]):
        self.config = config
        self.registry = registry
        self.profile = profile
        self.unavailable = dict(unavailable)
        self.verdicts: dict[str, dict[str, set[str]]] = {}  # implementation -> family -> outcomes
        self.failures: list[dict] = []
        self.unattributed: list[str] = []  # property tests failed without tags: a crashed xdist worker's test

    def pytest_runtest_logreport(self, report):
        tags = dict(report.user_properties)
        if report.when != "call" and report.outcome == "passed":
            return
        if "implementation" not in tags:
            module = report.nodeid.split("::")[0]
            if report.failed and (self.config.rootpath / module).resolve().parent == PACKAGE:
                self.unattributed.append(report.nodeid)
            return
        name, family = tags["implementation"], tags["family"]
        outcome = outcome_of(report)
        self.verdicts.setdefault(name, {}).setdefault(family, set()).add(outcome)
        if outcome == "FAIL":
            self.failures.append(
                {
                    "implementation": name,
                    "test": report.nodeid,
                    "family": family,
                    "case": tags.get("case"),
                    "message": tags.get("message") or last_line(report.longreprtext),
                    "reproduce": tags.get("reproduce"),
                    "invalid": tags.get("invalid"),
                }
            )

    def results(self) -> dict[str, dict[str, str]]:
        """implementation -> family -> verdict."""
        return {
            name: {family: next(v for v in VERDICTS if v in seen) for family, seen in sorted(families.items())}
            for name, families in sorted(self.verdicts.items())
        }

    def environment(self) -> dict:
        return {
            "versions": library_versions(),
            "profile": self.profile,
            "seed": self.config.getoption("hypothesis_seed", None),
            "implementations": {name: declaration(entry) for name, entry in self.registry.items()},
            "unavailable": self.unavailable,
        }

    def report(self) -> dict:
        return {"environment": self.environment(), "results": self.results(), "failures": self.failures}

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
        if not self.verdicts and not self.unattributed:
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

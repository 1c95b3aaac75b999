"""Stopping an entry that fails the same way again and again: one report, not fifty.

A callable that raises the same ``TypeError`` on every call, or returns the same wrong shape, fails every property
with the same first line. Once ``--repeats-before-stop`` tests of an entry (default 2) have failed with the same first
line, its remaining tests are not run: each is reported skipped with one reason that names the failure, so the run
ends in seconds with the failure's report above and one summary line. ``--repeats-before-stop=0`` runs everything.
"""

from __future__ import annotations

from collections import Counter

import pytest
from convcheck.impls.signature import CONV2D
from convcheck.properties.items import entry_key

DEFAULT_REPEATS = 2


def add_options(parser) -> None:
    parser.getgroup("convcheck").addoption(
        "--repeats-before-stop", type=int, default=DEFAULT_REPEATS, metavar="N",
        help="stop testing an entry once N of its tests failed with the same first line (default 2; 0: never)",
    )  # fmt: skip


class Stopping:
    """A pytest plug-in: counts each entry's failures by their first line; skips an entry's tests once one repeats."""

    def __init__(self, repeats: int):
        self.repeats = repeats
        self.seen: Counter[tuple[tuple[str, str], str]] = Counter()  # ((call, entry), first line) -> failures
        self.stopped: dict[tuple[str, str], str] = {}  # (call, entry) -> the repeated failure's first line

    def pytest_runtest_logreport(self, report):
        tags = dict(report.user_properties)
        if report.when != "call" or not report.failed or "implementation" not in tags:
            return
        first_line = (tags.get("message") or "").partition("\n")[0].removeprefix("PropertyFailure: ")
        name = (tags.get("call", CONV2D), tags["implementation"])
        self.seen[name, first_line] += 1
        if first_line and self.seen[name, first_line] >= self.repeats and name not in self.stopped:
            self.stopped[name] = first_line

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        """An item of a stopped entry is reported skipped, with the reason, without running (nor forking)."""
        key = entry_key(item)
        if key not in self.stopped:
            return None
        reason = f"not run: {_named(key)} failed {self.repeats} tests the same way: {self.stopped[key]}"
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        report = pytest.TestReport(
            nodeid=item.nodeid,
            location=item.location,
            keywords=dict.fromkeys(item.keywords, 1),
            outcome="skipped",
            longrepr=(__file__, 0, reason),  # one location: the summary folds them into one line
            when="setup",
            user_properties=[*item.user_properties, ("stopped", True)],
        )
        item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_terminal_summary(self, terminalreporter):
        for key, first_line in self.stopped.items():
            terminalreporter.write_line(
                f"convcheck: stopped testing {_named(key)} after {self.repeats} tests failed the same way: "
                f"{first_line}",
                yellow=True,
            )


def _named(key: tuple[str, str]) -> str:
    """An entry as the messages name it: ``torch``, or ``torch (conv_transpose2d)`` for another call's."""
    call, name = key
    return name if call == CONV2D else f"{name} ({call})"


def configure(config) -> None:
    """Register the plug-in (after isolation's, so that a stopped entry's test is not even forked)."""
    repeats = config.getoption("repeats_before_stop")
    if repeats > 0:
        config.pluginmanager.register(Stopping(repeats), "convcheck-stopping")

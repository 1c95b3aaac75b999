"""Shrinking each entry's first failure only.

Shrinking a falsifying case, and simplifying it further (:mod:`convcheck.properties.simplify`), take most of a failing
run's time: every failing test of a buggy entry searches for its smallest case, although the first report is the one
a person reads and fixes from. Once a test of an entry has failed in this process, the entry's later tests run
without Hypothesis's shrink phase and without simplification: a later failure reports the case Hypothesis found, with
its reproduction. ``--shrink=every`` shrinks every failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from convcheck.properties import simplify
from convcheck.properties.items import entry_key
from hypothesis import Phase, settings

MODES = ("first", "every")
PLUGIN = "convcheck-shrinking"


def add_options(parser) -> None:
    parser.getgroup("convcheck").addoption(
        "--shrink", choices=MODES, default="first",
        help="shrink and simplify the first failure of each entry (default) or every failure",
    )  # fmt: skip


class FirstFailures:
    """A pytest plug-in: the entries that have failed a test in this process (where the test ran: a worker, a
    forked child)."""

    def __init__(self):
        self.failed: set[tuple[str, str]] = set()  # (call, entry name)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when == "call" and report.failed and (name := entry_key(item)):
            self.failed.add(name)
        return report


@contextmanager
def for_test(item, chosen: settings) -> Iterator[settings]:
    """``chosen``, or, where the item's entry has already failed a test in this process, ``chosen`` without the
    shrink phase, with simplification off."""
    plugin = item.config.pluginmanager.get_plugin(PLUGIN)
    if plugin is None or entry_key(item) not in plugin.failed or Phase.shrink not in chosen.phases:
        yield chosen
        return
    with simplify.disabled():
        yield settings(chosen, phases=[phase for phase in chosen.phases if phase is not Phase.shrink])


def configure(config) -> None:
    if config.getoption("shrink") == "first":
        config.pluginmanager.register(FirstFailures(), PLUGIN)

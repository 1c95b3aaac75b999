"""Benchmark defaults: save every timed run, compare with the last saved one, enough rounds for a stable median.

Applied only when benchmarks are actually timed (not with ``--benchmark-disable``, ``--benchmark-skip`` or under
xdist) and only to options left at pytest-benchmark's own defaults, so the command line always wins:

- ``--benchmark-autosave`` is on: every timed run is saved under ``.benchmarks/`` (the next run's comparison);
- ``--benchmark-compare`` with nothing saved yet does not warn about an empty comparison: the run is saved as the
  first baseline and says so (a ``--benchmark-compare-fail`` gate passes on that first run);
- warm-up of a few rounds, at least ``MIN_ROUNDS`` rounds per benchmark, and rounds of at least ``MIN_ROUND_TIME``
  (a fast call is repeated within a round, so that a round averages over timer and scheduler jitter).
"""

from __future__ import annotations

import os

import pytest

MIN_ROUNDS = 10  # pytest-benchmark's default is 5
MIN_ROUND_TIME = 2e-3  # seconds; pytest-benchmark's default is 5e-6
PLUGIN_DEFAULT_MIN_TIME = 5e-6
WARMUP_ROUNDS = 2
PLUGIN_DEFAULT_MIN_ROUNDS = 5

NOTICE_KEY = pytest.StashKey[str]()


def timed(config) -> bool:
    """Whether this run times benchmarks (pytest-benchmark turns timing off under xdist)."""
    option = config.option
    if getattr(option, "benchmark_skip", False) or getattr(option, "benchmark_disable", False):
        return bool(getattr(option, "benchmark_enable", False))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    return getattr(option, "dist", "no") == "no" and not getattr(option, "numprocesses", None)


def saved_runs(config) -> list:
    """The saved runs pytest-benchmark would compare with (its own storage, this machine's folder)."""
    from pytest_benchmark.logger import Logger
    from pytest_benchmark.utils import get_machine_id, load_storage

    storage = load_storage(
        config.option.benchmark_storage,
        logger=Logger(Logger.QUIET, config=config),
        default_machine_id=get_machine_id(),
        netrc=config.option.benchmark_netrc,
    )
    return list(storage.load())


def pytest_configure(config):
    # Runs before pytest-benchmark reads its options (its pytest_configure is trylast).
    from pytest_benchmark.utils import get_tag

    if not hasattr(config.option, "benchmark_autosave") or not timed(config):
        return
    option = config.option
    if not option.benchmark_save and not option.benchmark_autosave:
        option.benchmark_autosave = get_tag()  # what --benchmark-autosave stores: commit id and time
    if option.benchmark_min_rounds == PLUGIN_DEFAULT_MIN_ROUNDS:
        option.benchmark_min_rounds = MIN_ROUNDS
    if option.benchmark_min_time == PLUGIN_DEFAULT_MIN_TIME:
        option.benchmark_min_time = MIN_ROUND_TIME
    if not option.benchmark_warmup:
        option.benchmark_warmup, option.benchmark_warmup_iterations = True, WARMUP_ROUNDS
    if option.benchmark_compare is True and not saved_runs(config):
        option.benchmark_compare = None
        gate = " and --benchmark-compare-fail has nothing to check" if option.benchmark_compare_fail else ""
        option.benchmark_compare_fail = []
        config.stash[NOTICE_KEY] = (
            f"no saved benchmark run to compare with yet{gate}: this run is saved under "
            f"{option.benchmark_storage} and later --benchmark-compare runs compare with it"
        )


def pytest_report_header(config):
    notice = config.stash.get(NOTICE_KEY, None)
    return [f"benchmarks: {notice}"] if notice else []


def pytest_terminal_summary(terminalreporter, config):
    notice = config.stash.get(NOTICE_KEY, None)
    if notice:
        terminalreporter.write_line(f"benchmarks: {notice}", yellow=True)

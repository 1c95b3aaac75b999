"""Benchmark settings: thread counts, save/compare defaults, load awareness and the run's compact tables.

- ``--threads N`` (default 1, the most reproducible) sets BLAS and torch threads for every benchmark and restores the
  process's counts after it; the counts go into each benchmark's ``extra_info`` and, with the BLAS libraries and the
  CPU kernels they run, into the saved run's ``convcheck`` section.
- A timed run starts again in the environment benchmarks need (``benchmarks.control.benchmark_environment``: without
  OpenBLAS's core-type and L2 overrides; with more than one thread, idle library threads sleep), since the libraries
  read it when they load. Only pytest's own process restarts: ``pytest.main()`` inside another program does not, and
  its run ends with a warning instead.
- Applied only when benchmarks are actually timed (not with ``--benchmark-disable``, ``--benchmark-skip`` or under
  xdist) and only to options left at pytest-benchmark's own defaults, so the command line always wins:
  ``--benchmark-autosave`` is on (every timed run is saved under ``.benchmarks/``, the next run's comparison);
  ``--benchmark-compare`` with nothing saved yet does not warn: the run is saved as the first baseline and says so
  once, at the end (a ``--benchmark-compare-fail`` gate passes on that first run); a few warm-up rounds, at least
  ``MIN_ROUNDS`` rounds, and rounds of at least ``MIN_ROUND_TIME`` (a fast call is repeated within a round).
- pytest-benchmark's own table (over 200 columns) gives way to the tables of ``benchmarks.report`` (at most 120);
  ``--plugin-table`` shows it as well. Rows measured while the load exceeded the threads are flagged, and the run
  ends with a one-line warning counting them; a run whose environment the restart could not fix ends with a warning
  saying what to set.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from convcheck.properties.threads import limited_threads

from benchmarks import report
from benchmarks.control import benchmark_environment, blas_kernels, overrides, spinning_settings

MIN_ROUNDS = 10  # pytest-benchmark's default is 5
MIN_ROUND_TIME = 20e-3  # seconds; pytest-benchmark's default is 5e-6
PLUGIN_DEFAULT_MIN_TIME = 5e-6
WARMUP_ROUNDS = 2
PLUGIN_DEFAULT_MIN_ROUNDS = 5

NOTICE_KEY = pytest.StashKey[str]()
COMPARED_KEY = pytest.StashKey[tuple]()  # (label, saved run) this run is compared with
RUN_KEY = pytest.StashKey[dict]()  # the JSON document this run saves
THREADS_KEY = pytest.StashKey[dict]()  # the thread counts the benchmarks ran with
DEFAULT_THREADS = 1
RESTARTED = "CONVCHECK_BENCHMARK_RESTART"  # set in a restarted run: it never restarts again


def pytest_addoption(parser):
    group = parser.getgroup("convcheck benchmarks")
    group.addoption(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help=f"BLAS and torch threads for every benchmark (default {DEFAULT_THREADS}, the most reproducible)",
    )
    group.addoption("--plugin-table", action="store_true", help="also print pytest-benchmark's own (wide) table")


def timed(config) -> bool:
    """Whether this run times benchmarks (pytest-benchmark turns timing off under xdist)."""
    option = config.option
    if getattr(option, "benchmark_skip", False) or getattr(option, "benchmark_disable", False):
        return bool(getattr(option, "benchmark_enable", False))
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    return getattr(option, "dist", "no") == "no" and not getattr(option, "numprocesses", None)


def saved_runs(config, *patterns: str) -> list:
    """The saved runs ``(path, document)`` pytest-benchmark would compare with (its own storage, this machine)."""
    from pytest_benchmark.logger import Logger
    from pytest_benchmark.utils import get_machine_id, load_storage

    storage = load_storage(
        config.option.benchmark_storage,
        logger=Logger(Logger.QUIET, config=config),
        default_machine_id=get_machine_id(),
        netrc=config.option.benchmark_netrc,
    )
    return list(storage.load(*patterns))


def thread_count(config) -> int:
    threads = config.getoption("threads", None) or DEFAULT_THREADS
    if threads < 1:
        raise pytest.UsageError(f"--threads={threads}: expected an int >= 1")
    return threads


def pytest_configure(config):
    # Runs before pytest-benchmark reads its options (its pytest_configure is trylast).
    from pytest_benchmark.utils import get_tag

    if not hasattr(config.option, "benchmark_autosave") or not timed(config):
        return
    restart_in_benchmark_environment(config, thread_count(config))
    option = config.option
    if not option.benchmark_save and not option.benchmark_autosave:
        option.benchmark_autosave = get_tag()  # what --benchmark-autosave stores: commit id and time
    if option.benchmark_min_rounds == PLUGIN_DEFAULT_MIN_ROUNDS:
        option.benchmark_min_rounds = MIN_ROUNDS
    if float(option.benchmark_min_time) == PLUGIN_DEFAULT_MIN_TIME:  # the default may still be a string
        option.benchmark_min_time = str(MIN_ROUND_TIME)  # as pytest-benchmark prints it
    if not option.benchmark_warmup:
        option.benchmark_warmup, option.benchmark_warmup_iterations = True, WARMUP_ROUNDS
    if not config.getoption("plugin_table", False) and not option.benchmark_verbose:
        option.benchmark_quiet = True  # the compact tables below replace the plugin's table
    if option.benchmark_compare:
        patterns = () if option.benchmark_compare is True else (option.benchmark_compare,)
        runs = saved_runs(config, *patterns)
        if runs:
            path, document = runs[-1]
            config.stash[COMPARED_KEY] = (Path(path).name, document)
        elif option.benchmark_compare is True:
            option.benchmark_compare = None
            gate = " and --benchmark-compare-fail has nothing to check" if option.benchmark_compare_fail else ""
            option.benchmark_compare_fail = []
            config.stash[NOTICE_KEY] = (
                f"no saved benchmark run to compare with yet{gate}: this run is saved under "
                f"{option.benchmark_storage} and later --benchmark-compare runs compare with it"
            )


def restart_in_benchmark_environment(config, threads: int) -> None:
    """Start this run again in ``benchmark_environment`` (the libraries read it when they load), where it differs
    from this process's and this process is pytest's own run of its command line."""
    environ = benchmark_environment(os.environ, threads)
    own_command = tuple(config.invocation_params.args) == tuple(sys.argv[1:])
    if environ is None or not own_command or os.environ.get(RESTARTED) or not hasattr(os, "execve"):
        return
    removed = [name for name in os.environ if name not in environ]
    added = [f"{name}={value}" for name, value in environ.items() if name not in os.environ]
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()  # the restarted run writes to the terminal, not to a capture file
    change = ", ".join([*(f"without {name}" for name in removed), *(f"with {setting}" for setting in added)])
    print(f"benchmarks: restarting {change} (read when the libraries load)", flush=True)
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**environ, RESTARTED: "1"})


@pytest.fixture(autouse=True)
def threads(request) -> dict:
    """The thread counts in effect for this benchmark (set from ``--threads``, restored afterwards)."""
    with limited_threads(thread_count(request.config)) as counts:
        request.config.stash[THREADS_KEY] = counts
        yield counts


def spinning(config) -> bool:
    """Whether idle threads of one library may spin through another's rounds: more than one thread, and the
    process started without the settings that make idle threads sleep."""
    return thread_count(config) > 1 and bool(spinning_settings())


def pytest_benchmark_update_json(config, benchmarks, output_json):
    found = report.rows(output_json)
    output_json["convcheck"] = {
        "threads": config.stash.get(THREADS_KEY, None),
        "blas_kernels": blas_kernels(),
        "openblas_overrides": overrides(),
        "idle_threads_spin": spinning(config),
        "loaded_rows": [bench["fullname"] for bench in output_json["benchmarks"] if loaded(bench)],
        "disagreeing_ratios": [report.ratio_name(row, reference) for row in found for reference in row.disagreeing],
    }
    if COMPARED_KEY in config.stash:
        output_json["convcheck"]["compared_with"] = config.stash[COMPARED_KEY][0]
    config.stash[RUN_KEY] = output_json


def loaded(bench: dict) -> bool:
    return bool(bench["extra_info"].get("load", {}).get("flagged"))


def kernels(run: dict) -> str:
    """The CPU kernels the run's BLAS libraries chose (OpenBLAS's ``SkylakeX``, ...), or "unknown"."""
    chosen = {blas["architecture"] for blas in run["convcheck"]["blas_kernels"] if blas["architecture"]}
    return ", ".join(sorted(chosen)) or "unknown"


def warnings(run: dict, found: list[report.Row]) -> list[str]:
    """What makes this run's numbers doubtful, one sentence each."""
    convcheck, said = run["convcheck"], []
    threads = (convcheck["threads"] or {}).get("requested")
    flagged = sum(row.loaded for row in found)
    if flagged:
        said.append(
            f"{flagged} of {len(found)} rows were measured while the 1-minute load average exceeded the {threads} "
            "threads in use (flag L): rerun them on a quiet machine"
        )
    disagreeing = convcheck["disagreeing_ratios"]
    if disagreeing:
        said.append(
            f"{len(disagreeing)} paired ratios disagree with the ratio of the medians (flag P): the interleaved calls "
            "slowed each other, so these are not results"
        )
    if convcheck["idle_threads_spin"]:
        settings = " ".join(f"{name}={value}" for name, value in spinning_settings().items())
        said.append(f"with {threads} threads idle library threads spin through the next one's rounds: set {settings}")
    if convcheck["openblas_overrides"]:
        names = " and ".join(convcheck["openblas_overrides"])
        said.append(f"{names} chose OpenBLAS's kernel ({kernels(run)}), not the machine: start without them")
    return said


def pytest_terminal_summary(terminalreporter, config):
    write = terminalreporter.write_line
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        found = report.rows(run)
        counts = run["convcheck"]["threads"] or {}
        terminalreporter.section(
            f"convcheck benchmarks: {counts.get('requested')} threads (BLAS {counts.get('blas')}, torch "
            f"{counts.get('torch')}) on {counts.get('cores')} cores; BLAS kernel {kernels(run)}",
            sep="-",
        )
        for line in report.run_table(found, torch_available=counts.get("torch") is not None):
            write(line)
        if COMPARED_KEY in config.stash:
            label, document = config.stash[COMPARED_KEY]
            then = ((document.get("convcheck") or {}).get("threads") or {}).get("requested", "unrecorded")
            if then != counts.get("requested"):
                label += f" (measured with {then} threads, now {counts.get('requested')})"
            write("")
            for line in report.compare_table(found, report.rows(document), label):
                write(line)
        for warning in warnings(run, found):
            for line in textwrap.wrap(f"warning: {warning}", report.WIDTH, subsequent_indent="  "):
                write(line, yellow=True)
    notice = config.stash.get(NOTICE_KEY, None)
    if notice:
        for line in textwrap.wrap(f"benchmarks: {notice}", report.WIDTH, subsequent_indent="  "):
            write(line, yellow=True)

"""How often the property suite catches each gallery bug in ordinary, randomized runs.

    python -m tests.catch_rates                  # the default bugs, 20 runs
    python -m tests.catch_rates --runs 5 --bugs batch_tail_8 row_buffer_64
    python -m tests.catch_rates --all            # every bug of the gallery

The derandomized gallery test (``tests/test_gallery.py``) shows that a bug CAN be caught; this measures whether it is
caught in EVERY run, as a user runs the suite: ``pytest properties --impl ...`` with the default Hypothesis profile,
a random seed and no example database to replay (each run starts in a fresh directory, so ``.hypothesis/`` is new).
The one change, made by this module as a pytest plug-in: no shrinking and no further simplification of a falsifying
case, which only simplify a failure already found (they cannot turn a miss into a catch) and would cost most of the
time. All bugs of one run share one pytest process (``-n 2`` by default). A bug counts as caught by a failure in a
family meant for it (``KNOWN_BUGS``; only those run, without the comparison with the referees, as in the gallery).
The exit status is 1 when some bug was missed in some run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from convcheck.properties import simplify
from hypothesis import Phase, settings

from tests.gallery import buggy
from tests.test_gallery import KNOWN_BUGS, bug_id, selection

ROOT = Path(__file__).resolve().parents[1]
# Blocks, bands and tables at the sizes of real networks (batches past 16 and 32, channels past 64 and 128 a group,
# bands past 2**16 and 2**18 output elements, kernels past 11 taps, dilations past 3, groups past 8, whole-input
# windows): the family real_layers is meant for them.
SIZE_CLASS_BUGS = (
    "batch_block_16",
    "batch_block_32",
    "output_block_64",
    "output_block_128",
    "input_block_64",
    "input_block_128",
    "row_band_64k",
    "column_band_256k",
    "kernel_table_11",
    "dilation_past_3",
    "groups_past_8",
    "whole_input_window",
)
# The classes where real kernels break: fast paths of special-cased shapes, block edges, batch tails, remainders, a
# partial declaration, memory that follows the stride, and state kept between calls.
DEFAULT_BUGS = (
    "grouped_1x1_fast_path",
    "odd_width_3x3_fast_path",
    "depthwise_multiplier_order",
    "stem_padding_even",
    "column_block_remainder_32",
    "row_buffer_64",
    "batch_tail_4",
    "batch_tail_8",
    "channel_remainder_16",
    "channel_block_remainder",
    "square_layer_height_from_width",
    "padded_plane_allocated",
    "cached_by_id",
    "output_in_shared_workspace",
    *SIZE_CLASS_BUGS,
)


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """As a plug-in (``-p tests.catch_rates``): the profile the run loaded, without shrinking and without a database,
    and no simplification of a falsifying case."""
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    settings.register_profile("catch-rates", parent=settings(), phases=phases, database=None)
    settings.load_profile("catch-rates")
    simplify.MAX_TRIES = 0


def suite_command(bugs, report: Path, workers: int) -> list[str]:
    """``pytest properties --impl bug_NAME=tests.gallery.buggy:NAME ...``, selecting only the bugs' tests in the
    families that count for them (a failure elsewhere is no catch)."""
    command = [sys.executable, "-m", "pytest", str(ROOT / "properties"), "--rootdir", str(ROOT)]
    command += ["-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider", "-p", __spec__.name, "-q"]
    command += [f"--conformance-json={report}", "--repeats-before-stop=0"]
    command += ["-k", selection(bugs)]
    command += [f"--impl={bug_id(bug)}={buggy.__name__}:{bug}" for bug in bugs]
    return command + (["-n", str(workers)] if workers > 1 else [])


def catching_families(report: Path, bugs) -> dict[str, set[str]]:
    """Per bug, the families with a failure in the run's conformance JSON."""
    names = {bug_id(bug): bug for bug in bugs}
    caught: dict[str, set[str]] = {bug: set() for bug in bugs}
    for failure in json.loads(report.read_text())["failures"]:
        if failure["implementation"] in names:
            caught[names[failure["implementation"]]].add(failure["family"])
    return caught


def run_once(bugs, workers: int) -> tuple[dict[str, set[str]], float]:
    """One randomized run of the suite on ``bugs``, in a fresh directory (no example database)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "CI" and not key.startswith(("PYTEST_", "HYPOTHESIS_"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory(prefix="convcheck-catch-") as folder:
        report = Path(folder) / "run.json"
        start = time.perf_counter()
        done = subprocess.run(suite_command(bugs, report, workers), cwd=folder, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode not in (0, 1) or not report.exists():
            raise RuntimeError(f"the suite did not complete (exit {done.returncode}):\n{done.stdout[-3000:]}")
        return catching_families(report, bugs), seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.catch_rates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers per run (1: one process)")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--bugs", nargs="+", choices=sorted(KNOWN_BUGS), default=list(DEFAULT_BUGS))
    chosen.add_argument("--all", action="store_true", help="every bug of the gallery")
    args = parser.parse_args(argv)
    bugs = list(KNOWN_BUGS) if args.all else args.bugs
    caught, families = Counter(), {bug: Counter() for bug in bugs}
    for run in range(1, args.runs + 1):
        found, seconds = run_once(bugs, args.workers)
        missed = [bug for bug in bugs if not found[bug] & KNOWN_BUGS[bug]]
        for bug in bugs:
            caught[bug] += bug not in missed
            families[bug].update(found[bug] & KNOWN_BUGS[bug])
        print(f"run {run}/{args.runs}: {seconds:.0f} s, missed: {', '.join(missed) or 'none'}", flush=True)
    width = max(len(bug) for bug in bugs)
    print(f"\n{'bug'.ljust(width)}  caught  by (runs per family)")
    for bug in bugs:
        by = ", ".join(f"{family} {count}" for family, count in sorted(families[bug].items()))
        print(f"{bug.ljust(width)}  {caught[bug]:>2}/{args.runs}   {by}")
    return int(any(caught[bug] < args.runs for bug in bugs))


if __name__ == "__main__":
    sys.exit(main())

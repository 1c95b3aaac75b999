"""The property suite's time to a verdict, timed like every other row and compared run to run.

Each row runs ``python -m pytest properties ...`` on an outside callable, as a user does (``--impl``), in a fresh
interpreter, once (pedantic, one round), with a fixed Hypothesis seed so that runs draw the same cases:

- ``suite:start-up``: the interpreter, the plug-in and collection, nothing run (``--collect-only``);
- ``suite:pass``: the whole suite on a correct entry of the gallery (``tests/gallery/correct.py``), to its verdict;
  per family, seconds and examples per second are in ``extra_info["families"]``;
- ``suite:first failure``: a known bug of the gallery (``tests/gallery/buggy.py``) with ``-x``, to the first failing
  report (search, shrink and simplification included); which test failed, and when, are in ``extra_info``;
- ``suite:MODULE``: one family module on the correct entry (the gradient calls' modules: on the registered loops); per
  family it holds, ``extra_info["families"]`` has its examples per second.

Timed runs only: with ``--benchmark-disable`` (the test command's single pass) the start-up row, the ``shape``
family and the quickest bug run, and the other rows skip, saying so.
"""

from __future__ import annotations

import pytest

from benchmarks.control import load_average, overloaded
from benchmarks.suite_speed import ROOT, SuiteRun, run_suite

CORRECT = "einsum_float64"  # a correct outside callable, written differently from every registered entry
BUGS = ("bias_dropped", "padding_one_side", "channels_unchecked", "cached_by_id")  # agreement, geometry, invalid, state
MODULES = sorted(path.stem.removeprefix("test_") for path in (ROOT / "properties").glob("test_*.py"))
# Modules of the gradient calls' families: run on the registered textbook loops of both calls (a conv2d runs none)
GRADIENT_MODULES = {module for module in MODULES if module.startswith(("backward", "transposed"))}
QUICK = {"bias_dropped", "shape"}  # what runs when benchmarks are disabled
SEED = "--hypothesis-seed=0"


def suite_row(benchmark, workload: str, entry: str, *arguments: str) -> SuiteRun:
    """Time one run of the property suite with ``arguments``, once; flagged (``L``) when the load exceeded the one
    core the suite's process mostly uses."""
    benchmark.group = "suite speed"
    benchmark.extra_info.update(workload=workload, implementation=entry)
    before = load_average()
    run = benchmark.pedantic(run_suite, args=(SEED, *arguments), rounds=1, iterations=1, warmup_rounds=0)
    after = load_average()
    benchmark.extra_info.update(
        seconds=run.seconds,
        tests=len(run.tests),
        load={"before": before, "after": after, "flagged": overloaded([before, after], 1)},
    )
    return run


def quick_only(benchmark, name: str) -> None:
    if not benchmark.enabled and name not in QUICK:
        pytest.skip("timed runs only: this suite speed row runs the property suite for seconds to minutes")


def outside(name: str, module: str, function: str) -> str:
    return f"--impl={name}=tests.gallery.{module}:{function}"


def test_start_up(benchmark):
    """Seconds until the suite could run its first test: start-up and collection."""
    run = suite_row(benchmark, "suite:start-up", CORRECT, "properties", outside(CORRECT, "correct", CORRECT),
                    "-k", CORRECT, "--collect-only")  # fmt: skip
    assert run.returncode == 0, run.output[-3000:]


def test_seconds_to_a_pass(benchmark):
    """The whole suite on a correct outside callable: seconds to its verdict, and per family the examples per
    second."""
    quick_only(benchmark, "pass")
    run = suite_row(benchmark, "suite:pass", CORRECT, "properties", outside(CORRECT, "correct", CORRECT),
                    "-k", CORRECT)  # fmt: skip
    assert run.returncode == 0, run.output[-3000:]
    assert run.tests
    assert all(test.outcome != "failed" for test in run.tests)
    benchmark.extra_info["families"] = run.families()


@pytest.mark.parametrize("bug", BUGS)
def test_seconds_to_the_first_failure(benchmark, bug):
    """A known bug with ``-x``: seconds to the first failing report, and which test it was."""
    quick_only(benchmark, bug)
    name = f"bug_{bug}"
    run = suite_row(benchmark, "suite:first failure", bug, "properties", outside(name, "buggy", bug), "-k", name, "-x")
    first = run.first_failure()
    assert run.returncode == 1, run.output[-3000:]
    assert first is not None, run.output[-3000:]
    benchmark.extra_info.update(
        first_failure=first.nodeid,
        family=first.family,
        seconds_to_report=first.finished - run.started,
        seconds_in_test=first.seconds,
    )


@pytest.mark.parametrize("module", MODULES)
def test_examples_per_second(benchmark, module):
    """One family module on a correct callable (the outside conv2d; for the gradient calls, the registered textbook
    loops): its examples per second (time in its tests only), per family it holds."""
    quick_only(benchmark, module)
    path = f"properties/test_{module}.py"
    if module in GRADIENT_MODULES:
        run = suite_row(benchmark, f"suite:{module}", "loop", path, "-k", "loop")
    else:
        callable_ = outside(CORRECT, "correct", CORRECT)
        run = suite_row(benchmark, f"suite:{module}", CORRECT, path, callable_, "-k", CORRECT)
    assert run.returncode == 0, run.output[-3000:]
    assert run.families(), run.output[-3000:]
    benchmark.extra_info["families"] = run.families()

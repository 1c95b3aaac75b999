"""Isolation: a segfault or a hang in an implementation fails that test, naming the call, and the run goes on, with
or without xdist; ``--isolation=none`` runs in one process, where a segfault ends the run."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
CRASH = "--impl=crash=tests.gallery.crashing:segfault_on_width_one"
HANG = "--impl=hang=tests.gallery.crashing:hang_on_stride_three"
CRASHED = r".*killed by SIGSEGV \(Segmentation fault\) during a call of crash$"
CRASHING_CALL = r"\s+call: conv2d\(x=float\d\d\[\d+, \d+, \d+, 1\]"  # the configuration it crashes on: width 1
HUNG = r".*a call of hang outlasted the time limit of 1 s \(--call-timeout\)$"
HANGING_CALL = r"\s+call: conv2d\(.*stride=\(?(3|\d, 3)"  # and the one it hangs on: a stride of 3


@pytest.fixture
def suite(pytester, monkeypatch):
    """``pytest properties/test_shape.py ARGS`` in a fresh interpreter, as a user runs it (a shape property per
    implementation; the derandomized gallery profile, no example database)."""
    for key in os.environ:
        if key.startswith(("PYTEST_", "HYPOTHESIS_")) and key != "PYTEST_DEBUG_TEMPROOT":
            monkeypatch.delenv(key)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    def run(*arguments: str) -> pytest.RunResult:
        options = ["-p", "no:cacheprovider", "--hypothesis-profile=gallery", "--call-timeout=1"]
        return pytester.runpytest_subprocess(str(ROOT / "properties" / "test_shape.py"), *options, *arguments)

    return run


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_crash_and_a_hang_fail_their_tests_and_the_run_goes_on(suite, workers):
    result = suite(CRASH, HANG, "-k", "crash or hang or loop", *workers)
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.re_match_lines([CRASHED, CRASHING_CALL], consecutive=True)
    result.stdout.re_match_lines([HUNG, HANGING_CALL], consecutive=True)
    result.stdout.re_match_lines([r".*Python stack \(most recent call first\):", r'.*crashing.py", line \d+ in'])
    result.stdout.re_match_lines([r"shape +FAIL +FAIL +pass"])  # the conformance table: the run finished


def test_without_isolation_a_crash_ends_the_run(suite):
    result = suite(CRASH, "-k", "crash", "--isolation=none")
    assert result.ret == -signal.SIGSEGV
    result.stdout.no_re_match_line(r".*convcheck conformance")


def test_a_torch_thread_pool_started_before_the_fork_does_not_hang_the_child(pytester, monkeypatch):
    """GNU OpenMP has no fork handler: a child using the parent's torch pool would deadlock."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(
        """
        import torch
        from properties import isolation

        def pytest_configure(config):  # the convcheck plug-in adds the options; this run is no property run
            torch.set_num_threads(2)
            torch.nn.functional.conv2d(torch.ones(8, 32, 64, 64), torch.ones(32, 32, 3, 3))  # starts the pool
            isolation.configure(config)
        """
    )
    pytester.makepyfile(
        """
        import pytest
        import torch

        @pytest.mark.parametrize("impl", ["torch"])
        def test_conv(impl):
            torch.nn.functional.conv2d(torch.ones(8, 32, 64, 64), torch.ones(32, 32, 3, 3))
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=1)

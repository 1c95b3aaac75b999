"""Isolation: a segfault or a hang in an implementation fails that test, naming the call, and the run goes on, with
or without xdist; ``--isolation=none`` runs in one process, where a segfault ends the run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
CRASH = "--impl=crash=tests.gallery.crashing:segfault_on_odd_width"
HANG = "--impl=hang=tests.gallery.crashing:hang_on_stride_three"
CRASHED = r".*killed by SIGSEGV \(Segmentation fault\) during a call of crash$"
CRASHING_CALL = r"\s+call: conv2d\(x=float\d\d\[\d+, \d+, \d+, \d*[13579]\]"  # what it crashes on: an odd width
HUNG = r".*a call of hang outlasted the time limit of 1 s \(--call-timeout\)$"
HANGING_CALL = r"\s+call: conv2d\(.*stride=\(?(3|\d, 3)"  # and the one it hangs on: a stride of 3

NEEDS_JAX = pytest.mark.skipif(find_spec("jax") is None, reason="jax is not installed")  # not imported here


@pytest.fixture
def suite(pytester, monkeypatch):
    """``pytest properties/test_shape.py ARGS`` in a fresh interpreter, as a user runs it (a shape property per
    implementation; the derandomized gallery profile, no example database)."""
    for key in os.environ:
        if key.startswith(("PYTEST_", "HYPOTHESIS_")) and key != "PYTEST_DEBUG_TEMPROOT":
            monkeypatch.delenv(key)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    def run(*arguments: str, call_timeout: str | None = "1") -> pytest.RunResult:
        options = ["-p", "no:cacheprovider", "--hypothesis-profile=gallery"]
        options += [f"--call-timeout={call_timeout}"] if call_timeout is not None else []
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


def test_the_time_limit_follows_what_the_entry_has_shown(suite, pytester):
    """Without ``--call-timeout``: a call of an entry none of whose calls has ended gets the floor; a call after one
    that took 0.3 s gets 20 times that. Each test that hangs costs its limit, not a minute."""
    pytester.makepyfile(
        entries="""
        import time

        from convcheck.impls import REGISTRY

        calls = 0


        def stuck(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
            time.sleep(3600)


        def slow_then_stuck(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
            global calls
            calls += 1
            time.sleep(3600 if calls > 1 else 0.3)
            return REGISTRY["loop"](x, weight, bias, stride, padding, dilation, groups)
        """
    )
    result = suite("--impl=stuck=entries:stuck", "--impl=slow=entries:slow_then_stuck", "-k", "stuck or slow",
                   call_timeout=None)  # fmt: skip
    result.assert_outcomes(failed=2)
    floor = r".*a call of stuck outlasted the time limit of 5 s \(20 times its slowest completed call, at least 5 s: "
    result.stdout.re_match_lines([floor + r"no call of it has ended; --call-timeout=SECONDS sets a fixed limit\)$"])
    # The parent times a call from the moment it reads the child's notice, so a 0.3 s call can measure a little less.
    shown = r"its slowest call so far took (0\.29\d*|0\.3\d*) s; --call-timeout=SECONDS sets a fixed limit\)$"
    result.stdout.re_match_lines([r".*a call of slow outlasted the time limit of [\d.]+ s .*" + shown])
    limit, slowest = re.search(
        r"slow outlasted the time limit of ([\d.]+) s .* took ([\d.]+) s", str(result.stdout)
    ).groups()
    assert float(limit) == pytest.approx(20 * float(slowest), rel=0.01)


def test_a_library_imported_during_a_call_does_not_count_against_its_limit(suite, pytester):
    """An entry imports its library at its first call (seconds for torch or JAX): the clock restarts at each import,
    and after one a call gets at least the floor of 5 s, also under a lower ``--call-timeout``."""
    pytester.makepyfile(slow_library="import time\n\ntime.sleep(2)\n")
    pytester.makepyfile(
        importing="""
        from convcheck.impls import REGISTRY


        def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
            import slow_library  # noqa: F401 (two seconds, at the first call only)

            return REGISTRY["loop"](x, weight, bias, stride, padding, dilation, groups)
        """
    )
    result = suite("--impl=importing=importing:conv2d", "-k", "importing", call_timeout="1")
    result.assert_outcomes(passed=1)


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
        from convcheck.properties import isolation

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


@NEEDS_JAX
def test_a_library_started_by_an_earlier_test_does_not_hang_the_children(suite, pytester):
    """JAX's thread pool, started by a test that runs in the parent before the property tests: children come from a
    copy of the process made before any test ran, so they never inherit a pool they would deadlock on."""
    first = pytester.makepyfile(
        test_jax_first="""
        import jax.numpy as jnp

        def test_jax_in_the_parent():
            assert float(jnp.ones((64, 64)).sum()) == 4096.0
        """
    )
    result = suite(str(first), "-k", "jax", "--call-timeout=30", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


@NEEDS_JAX
def test_isolation_is_off_with_a_warning_where_a_fork_would_deadlock(tmp_path):
    """``check_implementation()`` called from a script in which JAX has already computed: no fork of that process
    is safe, so the run goes on in it, and says so."""
    script = tmp_path / "after_jax.py"
    script.write_text(
        textwrap.dedent(
            """
            import jax.numpy as jnp

            from convcheck import impls
            from convcheck.properties.runner import check_implementation

            assert float(jnp.ones(3).sum()) == 3.0  # JAX's backends start before the run does
            report = check_implementation(impls.REGISTRY["im2col"], extra_args=["-k", "shape"])
            print("passed" if report.passed else report.output)
            print("warned" if "IsolationOff: isolation is off: JAX has initialized" in report.output else "silent")
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.stdout.split() == ["passed", "warned"], result.stdout + result.stderr


def test_a_cuda_context_in_this_process_is_a_fork_hazard(monkeypatch):
    """A child forked after CUDA was initialized cannot use CUDA ("Cannot re-initialize CUDA in forked subprocess")."""
    from types import SimpleNamespace

    from convcheck.properties.isolation import fork_hazards

    monkeypatch.delitem(sys.modules, "jax._src.xla_bridge", raising=False)  # an earlier test may have started JAX
    cuda_started = SimpleNamespace(cuda=SimpleNamespace(is_initialized=lambda: True))
    monkeypatch.setitem(sys.modules, "torch", cuda_started)
    assert fork_hazards() == "torch has initialized CUDA in this process"
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=SimpleNamespace(is_initialized=lambda: False)))
    assert fork_hazards() is None


def test_a_stopped_entrys_skipped_tests_do_not_cost_a_new_child(suite, pytester):
    """The parent skips a stopped entry's remaining tests; the child that ran the test before them runs the test after
    them (a new child would import every library the tests use once more)."""
    pytester.makepyfile(
        entries="""
        import os

        from convcheck.impls import REGISTRY


        def wrong_shape(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
            return x[:, :1]


        def counted(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
            with open("pids.txt", "a") as pids:
                pids.write(f"{os.getpid()}\\n")
            return REGISTRY["loop"](x, weight, bias, stride, padding, dilation, groups)
        """
    )
    hygiene = str(ROOT / "properties" / "test_hygiene.py")
    options = ["--impl=broken=entries:wrong_shape", "--impl=counted=entries:counted", "-k", "broken or counted"]
    result = suite(hygiene, "--repeats-before-stop=1", *options)
    outcomes = result.parseoutcomes()
    assert (outcomes["failed"], outcomes["skipped"], outcomes["passed"]) == (1, 4, 5), result.stdout.str()[-3000:]
    assert len(set((pytester.path / "pids.txt").read_text().split())) == 1

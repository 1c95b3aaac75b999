"""The conformance summary: a crash counts as a failure (under xdist a worker that dies reports no tags of its
test), and a declared known failure is an xfail that is not run.

Also the torch adapter's defense against the crash the property suite found in torch 2.13's CPU conv2d.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from impls import REGISTRY
from impls.torch_conv import as_tensor

ROOT = Path(__file__).resolve().parents[1]


def aborting_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Kills its process on float64 data (as a crashing extension would), and is torch otherwise."""
    if np.asarray(x).dtype == np.float64:
        os.abort()
    return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)


def nan_swallowing_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Replaces NaN and infinity by zeros (a known defect it declares), and is torch otherwise."""
    x = np.nan_to_num(x) if isinstance(x, np.ndarray) else x
    return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)


nan_swallowing_conv2d.expected_failures = {"special_values": "NaN and infinity are replaced by zeros"}


def run_suite(*arguments: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "HYPOTHESIS_"))}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--hypothesis-profile=gallery"]
    return subprocess.run([*command, *arguments], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def summary_row(output: str, family: str) -> list[str]:
    section = output.partition("convcheck conformance")[2]
    return next(line.split()[1:] for line in section.splitlines() if line.startswith(family + " "))


def test_a_crashing_implementation_is_marked_failed_under_xdist():
    """The float64 golden labs and the first float64 case of the shape property kill their worker."""
    result = run_suite(
        "properties/test_golden.py",
        "properties/test_shape.py",
        "-n",
        "2",
        "-k",
        "aborting",
        "--impl=aborting=tests.test_conformance_summary:aborting_conv2d",
        "--isolation=none",  # the crash reaches xdist, whose report carries no tags
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "crashed while running" in result.stdout
    assert summary_row(result.stdout, "golden") == ["FAIL"], result.stdout
    assert summary_row(result.stdout, "shape") == ["FAIL"], result.stdout


def test_torch_gets_c_ordered_operands_and_shares_c_ordered_memory():
    """torch 2.13's CPU conv2d crashed on this channels-last weight (bias, stride 3, padding 2, dilation 3, width 1)."""
    script = (
        "import numpy as np; from impls import REGISTRY\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.standard_normal((4, 7, 21, 1), dtype=np.float32)\n"
        "w = np.ascontiguousarray(rng.standard_normal((1, 3, 1, 7), dtype=np.float32)).transpose(0, 3, 1, 2)\n"
        "b = np.ones(1, np.float32)\n"
        "y = REGISTRY['torch'](x, w, b, stride=3, padding=2, dilation=3)\n"
        "z = REGISTRY['loop'](x, w, b, stride=3, padding=2, dilation=3)\n"
        "assert np.allclose(y, z, rtol=1e-5, atol=1e-5), (y, z)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    ordered = np.zeros((2, 3, 4, 5), np.float32)
    assert np.shares_memory(as_tensor(ordered).numpy(), ordered)
    one_channel_last = np.zeros((2, 4, 5, 1), np.float32).transpose(0, 3, 1, 2)  # NumPy calls it C-contiguous
    assert one_channel_last.flags.c_contiguous
    assert as_tensor(one_channel_last).stride() == (20, 20, 5, 1)


def test_a_declared_known_failure_is_an_xfail_that_is_not_run():
    result = run_suite(
        "properties/test_special_values.py",
        "properties/test_golden.py",
        "-rx",
        "-k",
        "known",
        "--impl=known=tests.test_conformance_summary:nan_swallowing_conv2d",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary_row(result.stdout, "special_values") == ["xfail"], result.stdout
    assert summary_row(result.stdout, "golden") == ["pass"], result.stdout
    assert "NaN and infinity are replaced by zeros (declared)" in result.stdout
    assert "[NOTRUN]" in result.stdout

"""check_implementation(): quiet, structured, and with no state left behind in the process or the folder."""

from __future__ import annotations

import os
import sys

import numpy as np
from convcheck.impls import REGISTRY
from convcheck.properties.runner import check_implementation
from hypothesis import settings
from threadpoolctl import threadpool_info

SHAPE_ONLY = ("-k", "test_output_shape_matches_formula")


class CountingConv2d:
    """torch's conv2d, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        self.calls += 1
        return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)


def thread_counts() -> tuple:
    torch = sys.modules.get("torch")
    return (torch.get_num_threads() if torch else None, tuple(lib["num_threads"] for lib in threadpool_info()))


def test_each_call_runs_its_own_profile_and_leaves_the_process_as_it_was(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    CountingConv2d()(np.ones((1, 1, 1, 1), np.float32), np.ones((1, 1, 1, 1), np.float32))  # torch loaded first
    profile, threads = settings.get_current_profile_name(), thread_counts()
    counts = {}
    for name in ("thorough", "default", "thorough"):
        conv2d = CountingConv2d()
        # in this process, where the calls are counted (an isolated run calls it in a forked child)
        report = check_implementation(
            conv2d, name="counting", profile=name, extra_args=[*SHAPE_ONLY, "--isolation=none"]
        )
        assert report.passed, report.output
        counts.setdefault(name, []).append(conv2d.calls)
        assert settings.get_current_profile_name() == profile
        assert thread_counts() == threads
    assert counts["default"][0] <= 40 < 600 <= min(counts["thorough"]), counts
    assert capsys.readouterr().out == "", "quiet unless asked"
    assert os.listdir(tmp_path) == [], "nothing left in the working directory"


def test_a_report_holds_verdicts_failures_and_their_cases():
    def flipped(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        """Convolution instead of cross-correlation."""
        weight = np.ascontiguousarray(weight[:, :, ::-1, ::-1])
        return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)

    report = check_implementation(
        flipped, name="flipped", profile="gallery", extra_args=("-k", "golden or output_shape")
    )
    assert not report.passed
    assert report.verdicts == {"golden": "FAIL", "shape": "pass"}
    assert report.failures
    assert all(failure.family == "golden" and failure.message for failure in report.failures)
    assert "golden" in report.table()
    assert "FAIL golden::" in str(report)

"""The conformance reports (table, JSON, Markdown), declared known failures, and the options' usage errors."""

from __future__ import annotations

import numpy as np
import pytest
from convcheck.impls import REGISTRY


def nan_swallowing_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Replaces NaN and infinity by zeros (a known defect it declares), and is torch otherwise."""
    x = np.nan_to_num(x) if isinstance(x, np.ndarray) else x
    return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)


nan_swallowing_conv2d.expected_failures = {"special_values": "NaN and infinity are replaced by zeros"}


def stale_declaration_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Correct (torch), but still declares a failure it no longer has."""
    return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)


stale_declaration_conv2d.expected_failures = {"golden": "the labs used to fail"}


def flipped_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Convolution instead of cross-correlation."""
    return REGISTRY["torch"](x, np.ascontiguousarray(weight[:, :, ::-1, ::-1]), bias, stride, padding, dilation, groups)


SPEC = "{0}=tests.test_conformance:{0}_conv2d"


def test_a_declared_known_failure_is_an_xfail_that_is_not_run(run_suite):
    run = run_suite(
        "properties/test_special_values.py", "properties/test_golden.py", "-rx",
        "--impl", SPEC.format("nan_swallowing"), "-k", "nan_swallowing",
    )  # fmt: skip
    run.result.assert_outcomes(passed=7, xfailed=1)
    assert run.verdict("nan_swallowing", "special_values") == "xfail"
    assert run.verdict("nan_swallowing", "golden") == "pass"
    assert "NaN and infinity are replaced by zeros (declared)" in run.output
    assert "[NOTRUN]" in run.output


def test_a_stale_declaration_shows_as_xpass_when_declared_failures_run(run_suite):
    options = ["properties/test_golden.py", "--impl", SPEC.format("stale_declaration"), "-k", "stale_declaration"]
    assert run_suite(*options).verdict("stale_declaration", "golden") == "xfail"
    run = run_suite(*options, "--run-declared-failures")
    run.result.assert_outcomes(xpassed=7)
    assert run.verdict("stale_declaration", "golden") == "XPASS"


def test_json_and_markdown_reports_of_a_known_bug(run_suite, pytester):
    markdown = pytester.path / "conformance.md"
    run = run_suite(
        "properties/test_golden.py", "properties/test_shape.py", "-n", "2", "--impl", SPEC.format("flipped"),
        "-k", "flipped or loop", f"--conformance-md={markdown}",
    )  # fmt: skip
    report = run.report
    assert set(report) == {"verdict", "counts", "seed", "environment", "results", "failures"}
    assert report["verdict"] == "FAIL"
    assert report["counts"] == {"FAIL": 1, "XPASS": 0, "stop": 0, "xfail": 0, "pass": 3, "skip": 0}
    assert isinstance(report["seed"], int)  # the run's own: --hypothesis-seed replays it
    environment = report["environment"]
    assert {"versions", "profile", "seed", "implementations", "unavailable"} <= set(environment)
    assert environment["profile"] == "gallery"
    assert {"numpy", "scipy", "hypothesis"} <= set(environment["versions"])
    assert environment["implementations"]["flipped"]["error_model"] == "exact-summation"
    assert report["results"] == {
        "flipped": {"golden": "FAIL", "shape": "pass"},
        "loop": {"golden": "pass", "shape": "pass"},
    }
    assert report["failures"], "every failure is listed"
    for failure in report["failures"]:
        assert set(failure) == {"implementation", "test", "family", "case", "message", "reproduce", "invalid"}
        assert (failure["implementation"], failure["family"]) == ("flipped", "golden")
        assert failure["message"]
    table = markdown.read_text().splitlines()
    assert table[0].replace(" ", "") == "|family|flipped|loop|"
    assert table[2].replace(" ", "") == "|golden|FAIL|pass|"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("mine", "expected NAME=MODULE:ATTR"),
        ("mine=no_such_module_anywhere:conv2d", "cannot import 'no_such_module_anywhere'"),
        ("mine=tests.test_conformance:no_such_function", "has no attribute 'no_such_function'"),
        ("mine=tests.test_conformance:SPEC", "is a str, not a callable"),
        ("My Conv=tests.test_conformance:flipped_conv2d", "cannot be selected with -k"),
        ("loop=tests.test_conformance:flipped_conv2d", "the name 'loop' is already registered"),
    ],
)
def test_a_bad_impl_option_is_one_usage_error(run_suite, spec, problem):
    run = run_suite("properties/test_shape.py", "--impl", spec)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in run.result.stderr.lines if line.strip()]
    assert len(errors) == 1, run.result.stderr.str()
    assert f"--impl {spec}: " in errors[0]
    assert problem in errors[0]

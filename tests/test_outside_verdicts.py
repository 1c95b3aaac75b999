"""Verdicts on code convcheck has never seen: two candidates in one run, results of the wrong kind, and mistakes in
the user's own module, each a report or one line, never a crash of a check or a wrong blame."""

from __future__ import annotations

import subprocess
import sys

import pytest

FAMILIES = ["properties/test_agreement.py", "properties/test_shape.py", "properties/test_golden.py"]


def test_of_a_correct_and_a_buggy_candidate_only_the_buggy_one_fails(run_suite):
    """A correct candidate run beside a buggy one is never charged with the buggy one's results."""
    run = run_suite(
        *FAMILIES, "--convcheck=good=tests.gallery.correct:textbook_int_only",
        "--convcheck=bad=tests.gallery.buggy:textbook_padding_counted_once",
    )  # fmt: skip
    assert run.report is not None, run.output[-3000:]
    assert set(run.report["results"]["good"].values()) == {"pass"}, run.report["failures"]
    assert "FAIL" in run.report["results"]["bad"].values()
    assert {failure["implementation"] for failure in run.report["failures"]} == {"bad"}
    assert run.report["verdict"] == "FAIL"


MISTAKES = ("returns_a_list", "returns_one_pixel", "returns_integers")


def test_results_of_the_wrong_kind_are_reports_with_their_case_in_every_family(run_suite):
    """Every family reports a result of the wrong kind as a failure of its law, with the case and a reproduction (the
    real-layer family on one layer of its catalogue: its tests differ only in the layer)."""
    options = [f"--impl={mistake}=tests.mistakes:{mistake}" for mistake in MISTAKES]
    one_layer = "(not test_real_layer or resnet-50-res5-1x1-expand)"
    run = run_suite("properties", *options, "-k", f"({' or '.join(MISTAKES)}) and {one_layer}", "-n", "2")
    assert run.report is not None, run.output[-3000:]
    assert {failure["implementation"] for failure in run.report["failures"]} == set(MISTAKES)
    for failure in run.report["failures"]:
        assert failure["case"], failure
        assert failure["reproduce"], failure
        assert "PropertyFailure" in failure["message"], failure  # a report of the law, not an error of the check
    assert {failure["family"] for failure in run.report["failures"]} >= {"real_layers", "agreement", "state"}


def test_a_callable_that_fails_every_call_alike_stops_after_two_reports(run_suite):
    run = run_suite("properties", "--impl=broken=tests.mistakes:raises_type_error", "-k", "broken",
                    "--repeats-before-stop=2", profile="default")  # fmt: skip
    assert len(run.report["failures"]) == 2
    assert "stop" in run.report["results"]["broken"].values()
    assert "stopped testing broken after 2 tests failed the same way" in run.output
    assert "raised TypeError" in run.output


@pytest.fixture
def user_folder(tmp_path):
    (tmp_path / "broken_syntax.py").write_text("def conv2d(x, weight)\n    return x\n")
    return tmp_path


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.mistakes:two_parameters", "two_parameters(x, w) cannot take the positional argument 'bias'"),
        ("broken_syntax:conv2d", "cannot import 'broken_syntax': expected ':' ("),
        ("no_such_module:conv2d", "cannot import 'no_such_module': no such module"),
    ],
)
def test_a_mistake_in_the_users_module_is_one_line_before_any_test(user_folder, target, message):
    from tests.conftest import ROOT

    command = [sys.executable, "-m", "convcheck.properties.cli", "check", target]
    environment = {"PYTHONPATH": f"{ROOT}", "PATH": "/usr/bin:/bin", "HOME": str(user_folder)}
    run = subprocess.run(command, cwd=user_folder, capture_output=True, text=True, env=environment, timeout=300)
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
    assert run.returncode != 0
    assert len(errors) == 1, run.stderr
    assert message in errors[0]
    assert "collected" not in run.stdout  # nothing ran

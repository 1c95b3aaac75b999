"""Failure reports: one screen, the worst element with its bound, a likely cause only when one matches, data that
shrink, and reproductions that fail the same way in a fresh interpreter, for every property family."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from convcheck.impls import REGISTRY, Entry
from convcheck.properties.assertions import assert_close, bound_text
from convcheck.properties.cases import ConvCase
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.invalid_calls import INVALID_CLASSES, InvalidCall, invalid_calls
from convcheck.properties.oracle import reference_conv2d
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import exact_cases
from convcheck.properties.test_agreement import check_matches_oracle
from convcheck.properties.test_invalid_arguments import check_refuses
from hypothesis import HealthCheck, Phase, find, settings

from tests.gallery import buggy

ROOT = Path(__file__).resolve().parents[1]
SCREEN = 25  # lines a failure report may take besides pytest's own frame
LOOP = REGISTRY["loop"]
FIRST = settings(database=None, phases=[Phase.generate])  # the first drawn example, not shrunk


def raises_on_wide_inputs(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Crashes with a TypeError on inputs wider than 3 columns, and is torch otherwise."""
    if np.shape(x)[-1] > 3:
        raise TypeError("wide inputs are not handled")
    return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)


def accepts_anything(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Checks nothing: returns zeros for any arguments."""
    return np.zeros((1, 1, 1, 1), dtype=np.float32)


def entry(name: str, function) -> Entry:
    return Entry.from_callable(name, function, origin=f"{function.__module__}:{function.__name__}")


def raised(check, *args, **kwargs) -> PropertyFailure:
    with pytest.raises(PropertyFailure) as info:
        check(*args, **kwargs)
    return info.value


REPLAY_SEPARATOR = "--- end of reproduction ---"


def replay(snippet: str) -> subprocess.CompletedProcess:
    """Run a reproduction in a fresh interpreter at the repository root, as a user would paste it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "HYPOTHESIS_"))}
    return subprocess.run(
        [sys.executable, "-c", snippet], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# --- the report itself --------------------------------------------------------------------------------------------


def test_a_report_names_the_law_the_worst_element_the_count_the_case_and_the_data():
    case = ConvCase(c_in=2, h=3, w=3, c_out=2, kh=2, kw=2, bias=True, seed=3)
    x, weight, bias = case.arrays()
    wrong = reference_conv2d(x, weight, bias, **case.geometry()).astype(np.float32)
    wrong[0, 1, 1, 0] += 1
    failure = raised(assert_close, wrong, reference_conv2d(x, weight, bias, **case.geometry()), 0.0, "agreement",
                     LOOP, case)  # fmt: skip
    text = str(failure)
    assert text.splitlines()[0] == "agreement [loop]: 1 of 8 outputs outside the bound"
    assert "worst: out[0, 1, 1, 0] = " in text
    assert "(exact)" in text
    assert f"case: {case.descriptor()}" in text
    assert "data: x=[[[[" in text  # 18 + 16 + 2 values: small enough to show
    assert (failure.law, failure.case, failure.invalid) == ("agreement", case.descriptor(), None)
    assert len(text.splitlines()) <= SCREEN


def test_a_bound_that_only_covers_underflow_reads_exact():
    assert bound_text(0.0, np.float32) == "exact"
    assert bound_text(2.8e-45, np.float32) == "exact"
    assert bound_text(7.15e-07, np.float32) == "bound 7.15e-07"


def test_reports_raise_no_harness_warnings():
    """Infinite and NaN differences rank the worst element without overflow or invalid-value warnings."""
    case = ConvCase(h=2, w=3)
    actual = np.array([[[[np.inf, 1.0, np.nan]]]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        failure = raised(assert_close, actual, np.zeros((1, 1, 1, 3)), np.full((1, 1, 1, 3), 1e-300), "law", LOOP, case)
    assert "out[0, 0, 0, 0] = inf" in str(failure)


# --- likely causes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bug", "cause"),
    [
        ("flipped_kernel", "convolution instead of cross-correlation?"),
        ("padding_one_side", "padding on one side?"),
        ("bias_dropped", "bias dropped?"),
        ("last_row_lost", "an edge row or column lost"),
        ("float16_accumulation", "float16 accumulation?"),
    ],
)
def test_a_hint_names_the_mistake_the_output_matches(bug, cause):
    case = ConvCase(n=2, c_in=3, h=7, w=6, c_out=2, kh=3, kw=2, padding=(1, 1), bias=True, values="normal", seed=5)
    if bug != "float16_accumulation":
        case = ConvCase(**{**case.__dict__, "values": "int"})
    failure = raised(check_matches_oracle, entry(bug, getattr(buggy, bug)), case=case)
    assert cause in (failure.hint or ""), str(failure)


def test_a_hint_names_the_images_or_channels_that_differ():
    """A batch block's tail wrong, or an output-channel block's: the hint names the images or the channels."""
    case = ConvCase(n=17, c_in=2, h=3, w=3, c_out=65, kh=3, kw=3, padding=(1, 1))
    images = raised(check_matches_oracle, entry("batch_block_16", buggy.batch_block_16), case=case)
    assert "only images 16 of 17 differ: batch blocks or tails handled wrongly?" in (images.hint or ""), str(images)
    channels = raised(check_matches_oracle, entry("output_block_64", buggy.output_block_64), case=case)
    assert "only output channels 64 of 65 differ" in (channels.hint or ""), str(channels)


def test_no_hint_when_nothing_matches():
    """An output off by noise everywhere matches no mistake and no pattern: no hint is printed."""

    def noisy(x, weight, bias=None, **geometry):
        out = REGISTRY["torch"](x, weight, bias, **geometry)
        return out + np.random.default_rng(0).uniform(1, 2, out.shape).astype(out.dtype)

    case = ConvCase(n=2, c_in=2, h=6, w=6, c_out=2, kh=3, kw=3, padding=(1, 1), seed=2)
    failure = raised(check_matches_oracle, entry("noisy", noisy), case=case)
    assert failure.hint is None
    assert "hint:" not in str(failure)


# --- reproductions ------------------------------------------------------------------------------------------------


def reproduce_block(text: str) -> str:
    return textwrap.dedent(text.split("reproduce:\n", 1)[1])


def test_a_reproduction_replays_the_same_check_with_the_same_message():
    impl = entry("bug_flipped_kernel", buggy.flipped_kernel)
    failure = raised(check_matches_oracle, impl, case=ConvCase(h=2, w=3, kw=2, data=((1, 2), (1,), ())))
    assert "case = ConvCase(h=2, w=3, kw=2, data=((1, 2), (1,), ()))" in failure.reproduce
    with pytest.raises(PropertyFailure) as again:
        exec(reproduce_block(str(failure)), {})
    assert str(again.value) == str(failure)


def test_a_case_prints_as_code_that_rebuilds_it():
    layout = ("fortran", "contiguous")
    case = ConvCase(n=2, c_in=3, c_out=3, groups=3, padding="same", data=((1, 0, -3), (2,), ()), layout=layout)
    rebuilt = eval(case.code(), {"ConvCase": ConvCase})
    assert rebuilt == case
    for built, again in zip(case.arrays(), rebuilt.arrays(), strict=True):
        assert built is None or np.array_equal(built, again)
    x = case.arrays()[0]
    assert x.reshape(-1)[:4].tolist() == [1, 0, -3, 0]  # drawn leading values, zeros after them


@pytest.mark.parametrize("kind", INVALID_CLASSES)
def test_an_invalid_call_prints_replays_and_names_its_argument(kind):
    call = find(invalid_calls(kind), lambda call: True, settings=FIRST)
    assert eval(call.code(), {"ConvCase": ConvCase, "InvalidCall": InvalidCall}) == call
    assert call.descriptor().startswith(f"{kind}: ")


def test_an_accepted_invalid_call_is_a_failure_carrying_the_call():
    call = find(invalid_calls("channel mismatch"), lambda call: True, settings=FIRST)
    failure = raised(check_refuses, entry("unchecked", accepts_anything), call=call)
    assert failure.invalid == "channel mismatch"
    assert failure.case == call.descriptor()
    assert f"call = {call.code()}" in failure.reproduce


def test_a_crash_on_a_valid_call_is_a_failure_with_its_case_and_reproduction():
    impl = entry("crashes", raises_on_wide_inputs)
    failure = raised(check_matches_oracle, impl, case=ConvCase(h=2, w=5))
    assert "raised TypeError('wide inputs are not handled') on a valid call" in str(failure)
    assert "test_reports.py:" in str(failure)  # where the implementation raised
    assert failure.case == ConvCase(h=2, w=5).descriptor()
    assert "check_matches_oracle(conv2d, case=case)" in failure.reproduce


def test_reproducible_checks_take_keyword_arguments_only():
    @reproducible
    def check(impl, case):
        raise PropertyFailure("law", "detail", impl)

    failure = raised(check, LOOP, case=ConvCase())
    assert failure.reproduce.endswith("check(conv2d, case=case)")


# --- minimal data -------------------------------------------------------------------------------------------------


def test_small_integer_data_shrink_to_the_fewest_and_smallest_nonzero_values():
    """A flipped kernel shows on one input and two taps: that is what Hypothesis shrinks a failure to."""
    flipped = buggy.flipped_kernel

    def shows_the_bug(case):
        x, weight, bias = case.arrays()
        return not np.array_equal(
            flipped(x, weight, bias, **case.geometry()), reference_conv2d(x, weight, bias, **case.geometry())
        )

    quick = settings(database=None, max_examples=200, suppress_health_check=list(HealthCheck), phases=list(Phase))
    case = find(exact_cases(), shows_the_bug, settings=quick)
    x, weight, _ = case.arrays()
    assert int(np.count_nonzero(x)) + int(np.count_nonzero(weight)) <= 3, case.code()
    assert max(np.max(np.abs(x)), np.max(np.abs(weight))) == 1, case.code()


# --- the gallery: every family's reports, on one screen, replayed -------------------------------------------------


def screen_lines(report: str) -> int:
    """Lines of a report. Hypothesis's dump of the ``impl`` and ``registry`` arguments counts as one line each: the
    plug-in gives entries and the registry short reprs, so that they print as one line."""
    lines, kept, depth = report.splitlines(), [], 0
    for line in lines:
        if depth:
            depth += line.count("(") + line.count("{") - line.count(")") - line.count("}")
            continue
        kept.append(line)
        if re.match(r"\s+(impl|registry)=", line):
            depth = line.count("(") + line.count("{") - line.count(")") - line.count("}")
    return len(kept)


def replays_the_same_way(report: str) -> str | None:
    """None when the report's reproduction, run in a fresh interpreter, fails with the report's first line; else
    what went differently."""
    snippet = reproduce_block(report.split("\nFalsifying example", 1)[0])
    return _replay_difference(report, snippet, replay(snippet).stderr)


def reports_that_do_not_replay(reports: list[str]) -> list[str]:
    """What went differently for each report whose reproduction does not fail with its first line, the reproductions
    run one after another in one fresh interpreter (each in a namespace of its own, as if pasted alone), which costs
    one interpreter's start-up instead of one per report."""
    snippets = [reproduce_block(report.split("\nFalsifying example", 1)[0]) for report in reports]
    driver = (
        "import json, sys, traceback\n"
        "for number, snippet in enumerate(json.load(sys.stdin)):\n"
        "    try:\n"
        "        exec(compile(snippet, f'<reproduction {number}>', 'exec'), {'__name__': '__main__'})\n"
        "    except BaseException:\n"
        "        traceback.print_exc()\n"
        f"    print({REPLAY_SEPARATOR!r}, file=sys.stderr, flush=True)\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "HYPOTHESIS_"))}
    done = subprocess.run([sys.executable, "-c", driver], input=json.dumps(snippets), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120 + 30 * len(snippets))  # fmt: skip
    outputs = done.stderr.split(REPLAY_SEPARATOR + "\n")
    outputs += [f"(no output: the interpreter ended)\n{done.stderr[-1500:]}"] * (len(snippets) - len(outputs) + 1)
    differences = map(_replay_difference, reports, snippets, outputs)
    return [difference for difference in differences if difference]


def _replay_difference(report: str, snippet: str, stderr: str) -> str | None:
    first = report.splitlines()[0]
    return None if first in stderr else f"{first}\n--- replayed:\n{snippet}\n--- gave:\n{stderr[-1500:]}"


def test_a_crashing_implementation_gets_one_report_per_property_with_its_case(run_suite):
    run = run_suite("properties/test_agreement.py", "properties/test_shape.py", "-k", "crashes",
                    "--impl", "crashes=tests.test_reports:raises_on_wide_inputs")  # fmt: skip
    failures = run.report["failures"]
    assert failures, run.output[-3000:]
    assert "ExceptionGroup" not in run.output
    for failure in failures:
        assert "raised TypeError('wide inputs are not handled') on a valid call" in failure["message"]
        assert failure["case"]
        assert failure["reproduce"]
        assert screen_lines(failure["message"]) <= SCREEN, failure["message"]
        assert replays_the_same_way(failure["message"]) is None

"""The simplification of a falsifying case after Hypothesis's shrinker: each field toward its simplest value while
the check still fails by the same law, only on the final replay, and within the entry's capabilities."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from convcheck.impls.backward import ENTRIES, TRANSPOSED
from convcheck.impls.registry import Capabilities
from convcheck.properties import simplify, test_backward, test_transposed, test_transposed_laws
from convcheck.properties.backward_cases import GradientCase
from convcheck.properties.cases import ConvCase
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.reproductions import reproducible
from convcheck.properties.simplify import simpler, simplest
from convcheck.properties.simplify_gradients import gradient_work, simpler_gradient_cases
from convcheck.properties.strategies import LARGE
from hypothesis import given, settings
from hypothesis import strategies as st

from convcheck import impls
from tests.gallery import backward_bugs

LOOP = impls.REGISTRY["loop"]
CORNER = ConvCase(
    n=9, c_in=8, h=9, w=7, c_out=8, kh=3, kw=3, stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=4, bias=True
)


LAW = PropertyFailure("the law", "failed", LOOP)


def fails_when(condition, law="the law"):
    """A check that fails by ``law`` on the cases where ``condition(case)`` holds."""

    def check(impl, case):
        if condition(case):
            raise PropertyFailure(law, "failed", impl, subject=case)

    return check


def test_every_field_goes_to_its_simplest_value_that_still_fails():
    wide_kernel = fails_when(lambda case: case.kh == 3)  # a bug in 3-row kernels, whatever else
    arguments, failure = simplest(wide_kernel, LOOP, {"case": CORNER}, LAW, PropertyFailure)
    case = arguments["case"]
    assert case.descriptor() == "n1 ic1 ih3 iw1 oc1 kh3 kw1 sh1 sw1 ph0 pw0 dh1 dw1 g1 nobias float32 int"
    assert failure.subject == case


def test_a_change_that_fails_by_another_law_or_passes_is_not_kept():
    def check(impl, case):
        if case.groups == 1:
            raise PropertyFailure("another law", "failed", impl, subject=case)
        if case.stride == (2, 1):
            raise PropertyFailure("the law", "failed", impl, subject=case)

    arguments, _ = simplest(check, LOOP, {"case": CORNER}, LAW, PropertyFailure)
    case = arguments["case"]
    assert case.groups > 1
    assert case.c_in == case.c_out == case.groups
    assert case.stride == (2, 1)


def test_simplified_cases_stay_within_the_entrys_capabilities():
    only_stride_two = replace(LOOP, capabilities=Capabilities(strides=(2,), bias=False))
    always = fails_when(lambda case: True)
    start = ConvCase(n=2, h=6, w=6, kh=3, kw=3, stride=(2, 2))
    arguments, _ = simplest(always, only_stride_two, {"case": start}, LAW, PropertyFailure)
    assert arguments["case"].descriptor().startswith("n1 ic1 ih1 iw1 oc1 kh1 kw1 sh2 sw2")
    assert any(candidate.stride == (1, 1) for candidate in simpler(start))  # tried, and refused as unsupported


def test_a_check_of_several_cases_is_left_as_it_is():
    always = fails_when(lambda cases: True)
    arguments = {"cases": [CORNER, CORNER]}
    assert simplest(always, LOOP, arguments, LAW, PropertyFailure)[0] is arguments


def test_only_the_final_replay_simplifies():
    calls = []

    @reproducible
    def check(impl, case):
        calls.append(case)
        if case.kh == 3:
            raise PropertyFailure("the law", "failed", impl, subject=case)

    with pytest.raises(PropertyFailure) as outside:  # a reproduction run on its own: the case as given
        check(LOOP, case=CORNER)
    assert outside.value.subject == CORNER
    assert len(calls) == 1

    @settings(database=None, max_examples=5)
    @given(st.just(CORNER))
    def test(case):
        check(LOOP, case=case)

    with pytest.raises(PropertyFailure) as reported:
        test()
    assert reported.value.subject.descriptor().startswith("n1 ic1 ih3 iw1 oc1 kh3 kw1")
    assert "ConvCase(h=3, w=1, kh=3" in reported.value.reproduce
    assert f"simplified from the drawn case: {CORNER.descriptor()}" in str(reported.value)


def test_a_change_that_would_cost_more_than_the_case_is_not_tried():
    extreme = ConvCase(h=1, w=1, stride=(2**40, 1), padding=(2**39, 0))  # two outputs per column
    tried = []

    def check(impl, case):
        tried.append(case)
        raise PropertyFailure("the law", "failed", impl, subject=case)

    arguments, _ = simplest(check, LOOP, {"case": extreme}, LAW, PropertyFailure)
    assert not any(case.stride == (1, 1) and case.padding == (2**39, 0) for case in tried)  # 2**40 outputs
    assert arguments["case"].descriptor().startswith("n1 ic1 ih1 iw1 oc1 kh1 kw1 sh1 sw1 ph0 pw0")


def test_only_an_entrys_first_failure_is_shrunk_and_simplified(run_suite):
    """Its first failure is simplified, or Hypothesis's shrinking alone took it to one image and one channel each side
    (then there is nothing left to simplify); its later failures report the case Hypothesis found, not simplified
    (``--shrink=every``: every failure is)."""
    run = run_suite("properties/test_agreement.py", "-k", "flipped and (within_error_bound or larger_layers)",
                    "--impl=flipped=tests.gallery.buggy:flipped_kernel", profile="default")  # fmt: skip
    first, later = [failure["message"] for failure in run.report["failures"] if failure["implementation"] == "flipped"]
    shrunk = re.search(r"^  case: n1 ic1 ih\d+ iw\d+ oc1 ", first, re.MULTILINE)
    assert "simplified from the drawn case" in first or shrunk, first
    assert "simplified from the drawn case" not in later
    height = int(re.search(r"^  case: n\d+ ic\d+ ih(\d+) ", later, re.MULTILINE).group(1))
    assert height >= LARGE.min_size, later  # a larger layer's, as drawn


def test_a_failure_stops_shrinking_for_its_own_call_only():
    """A transposed entry's failure stops shrinking for that entry, not for the forward entry of the same name."""
    from types import SimpleNamespace

    from convcheck.properties.shrinking import FirstFailures, for_test
    from hypothesis import Phase

    plugin = FirstFailures()
    plugin.failed.add(("conv_transpose2d", "torch"))
    config = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugin=lambda name: plugin))

    def phases(**params) -> list:
        item = SimpleNamespace(callspec=SimpleNamespace(params=params), config=config)
        with for_test(item, settings(phases=list(Phase))) as chosen:
            return list(chosen.phases)

    assert Phase.shrink not in phases(entry=SimpleNamespace(name="torch", operation="conv_transpose2d"))
    assert Phase.shrink in phases(entry=SimpleNamespace(name="torch", operation="conv2d_backward"))
    assert Phase.shrink in phases(impl=SimpleNamespace(name="torch"))


GROUPED = ConvCase(
    n=3, c_in=4, h=7, w=6, c_out=6, kh=3, kw=2, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=True
)
ADJOINT = GradientCase(GROUPED, GradientCase(GROUPED).unused_rows())  # the transposed call of GROUPED's output


def reported(check, entry, case) -> PropertyFailure:
    """The failure of ``check(entry, case)`` as a Hypothesis test reports it (its falsifying example's final
    replay)."""

    @settings(database=None, max_examples=1)
    @given(st.just(case))
    def test(drawn):
        check(entry, drawn)

    with pytest.raises(PropertyFailure) as failure:
        test()
    return failure.value


def test_a_transposed_failure_is_simplified_and_replays_on_its_own():
    """The transposed kernel left unflipped, drawn at a grouped, strided, dilated, padded case with bias, is reported
    at one channel and two taps; its reproduction, run on its own, fails the same way on that case."""
    failure = reported(test_transposed.check_matches_oracle, backward_bugs.kernel_not_flipped, ADJOINT)
    assert failure.case == "conv2d n1 ic1 ih1 iw2 oc1 kh1 kw2 sh1 sw1 ph0 pw0 dh1 dw1 g1 nobias float32 int"
    assert f"simplified from the drawn case: {ADJOINT.descriptor()}" in str(failure)
    with pytest.raises(PropertyFailure) as replayed:
        exec(failure.reproduce, {})
    assert str(replayed.value).splitlines()[0] == str(failure).splitlines()[0]
    assert replayed.value.case == failure.case


def test_a_bug_that_needs_groups_keeps_them():
    """The input channels dealt to the groups round-robin: simplified to one image and 1x1 taps, still grouped."""
    failure = reported(
        test_transposed_laws.check_groups_are_independent, backward_bugs.groups_interleaved, ADJOINT
    )  # fmt: skip
    assert failure.case.startswith("conv2d n1 ")
    assert " kh1 kw1 " in failure.case
    assert " g2 " in failure.case


def test_a_backward_failure_keeps_what_its_bug_needs():
    """grad_weight of the last image only: simplified to one channel and one tap, but not to one image."""
    failure = reported(test_backward.check_matches_oracle, backward_bugs.weight_gradient_of_last_image, ADJOINT)
    assert failure.case == "conv2d n3 ic1 ih1 iw1 oc1 kh1 kw1 sh1 sw1 ph0 pw0 dh1 dw1 g1 nobias float32 int"


def test_an_output_padding_stays_an_allowed_one():
    """Simpler transposed cases keep an adjoint's output padding the unused rows, and any other below the stride or
    the dilation (below the stride for an entry that takes only those), also at zero."""
    torch = ENTRIES[TRANSPOSED]["torch"]
    assert all(case.output_padding == case.unused_rows() for case in simpler_gradient_cases(ADJOINT, torch))
    padded = GradientCase(replace(GROUPED, stride=(3, 1), dilation=(1, 3)), (2, 2))
    for entry in (torch, replace(torch, output_padding_below_stride=True)):
        valid = [case for case in simpler_gradient_cases(padded, entry) if gradient_work(case, entry) is not None]
        assert GradientCase(padded.forward) in valid
        for case in valid:
            tops = [max(s, 1 if entry.output_padding_below_stride else d) for s, d in zip(case.forward.stride,
                    case.forward.dilation, strict=True)]  # fmt: skip
            assert all(e < top for e, top in zip(case.output_padding, tops, strict=True))


def test_a_later_failure_of_an_entry_is_not_simplified(monkeypatch):
    """Where shrinking is off for an entry (it has failed before), its backward failures report the drawn case."""
    monkeypatch.setattr(simplify, "MAX_TRIES", 0)
    failure = reported(test_transposed.check_matches_oracle, backward_bugs.kernel_not_flipped, ADJOINT)
    assert failure.case == ADJOINT.descriptor()
    assert "simplified from" not in str(failure)

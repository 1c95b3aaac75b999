"""The simplification of a falsifying case after Hypothesis's shrinker: each field toward its simplest value while
the check still fails by the same law, only on the final replay, and within the entry's capabilities."""

from __future__ import annotations

from dataclasses import replace

import pytest
from convcheck.impls.registry import Capabilities
from convcheck.properties.cases import ConvCase
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.reproductions import reproducible
from convcheck.properties.simplify import simpler, simplest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcheck import impls

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
    """Its later failures report the case Hypothesis found (``--shrink=every``: every failure is simplified)."""
    run = run_suite("properties/test_agreement.py", "-k", "flipped and (within_error_bound or larger_layers)",
                    "--impl=flipped=tests.gallery.buggy:flipped_kernel", profile="default")  # fmt: skip
    first, later = [failure["message"] for failure in run.report["failures"] if failure["implementation"] == "flipped"]
    assert "simplified from the drawn case" in first
    assert "simplified from the drawn case" not in later


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

"""The property suite's own machinery: strategies, oracle, error model and reports are tested like any code."""

import numpy as np
import pytest
import torch
from hypothesis import Phase, given, settings

from impls import REGISTRY, normalize
from properties.errors import error_bound, is_exact_data
from properties.oracle import reference_conv2d
from properties.reporting import evidence
from properties.strategies import LARGE, ConvCase, conv_cases, exact_cases, with_layout

FEW = settings(max_examples=30, deadline=None)


@FEW
@given(conv_cases())
def test_drawn_cases_are_valid_by_construction(case):
    x, weight, bias = case.arrays()
    problem = normalize(x, weight, bias, **case.geometry())
    assert problem.x.shape == (case.n, case.c_in, case.h, case.w)
    assert np.all(np.isfinite(x))
    assert np.all(np.isfinite(weight))


@pytest.mark.parametrize("layout", ["fortran", "channels_last", "strided", "reversed"])
def test_layouts_keep_values_and_change_memory_order(layout):
    array = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    view = with_layout(array, layout)
    assert np.array_equal(view, array)
    assert not view.flags.c_contiguous


@settings(max_examples=200, deadline=None)
@given(conv_cases(values=("normal", "wide")))
def test_oracle_agrees_with_torch_in_float64(case):
    """The oracle is written independently; torch in float64 is an outside witness of it."""
    x, weight, bias = case.arrays()
    x, weight = x.astype(np.float64), weight.astype(np.float64)
    bias = None if bias is None else bias.astype(np.float64)
    problem = normalize(x, weight, bias, **case.geometry())
    top, bottom, left, right = problem.padding
    padded = torch.nn.functional.pad(torch.from_numpy(np.ascontiguousarray(x)), (left, right, top, bottom))
    witness = torch.nn.functional.conv2d(
        padded,
        torch.from_numpy(np.ascontiguousarray(weight)),
        None if bias is None else torch.from_numpy(bias),
        stride=problem.stride,
        dilation=problem.dilation,
        groups=problem.groups,
    ).numpy()
    expected = reference_conv2d(x, weight, bias, **case.geometry())
    assert witness.shape == expected.shape
    assert np.all(np.abs(witness - expected) <= error_bound("exact-summation", x, weight, bias, **case.geometry()))


@pytest.mark.parametrize(
    "strategy", [conv_cases(), exact_cases(), conv_cases(limits=LARGE)], ids=["cases", "exact_cases", "large_cases"]
)
def test_weak_evidence_is_a_small_minority(strategy):
    """Examples whose outputs are mostly zero or all equal prove little: at most 15% of what the strategies draw."""
    kinds = []

    @settings(max_examples=200, deadline=None, database=None, derandomize=True, phases=[Phase.generate])
    @given(strategy)
    def draw(case):
        x, weight, bias = case.arrays()
        kinds.append(evidence(reference_conv2d(x, weight, bias, **case.geometry())))

    draw()
    weak = sum(kind.startswith("weak") for kind in kinds) / len(kinds)
    assert len(kinds) >= 150
    assert weak <= 0.15, f"{weak:.0%} of {len(kinds)} drawn cases are weak evidence"


def _float16_accumulation(case):
    x, weight, _bias = case.arrays()
    return reference_conv2d(x.astype(np.float16), weight.astype(np.float16), None, dtype=np.float16, **case.geometry())


def test_error_bound_rejects_float16_accumulation_and_accepts_float32():
    case = ConvCase(n=2, c_in=4, h=9, w=9, c_out=3, kh=3, kw=3, values="normal", seed=7)
    x, weight, bias = case.arrays()
    exact = reference_conv2d(x, weight, bias, **case.geometry())
    bound = error_bound("exact-summation", x, weight, bias, **case.geometry())
    assert np.all(np.abs(REGISTRY["torch"](x, weight, bias, **case.geometry()) - exact) <= bound)
    assert np.any(np.abs(_float16_accumulation(case) - exact) > bound)


def test_exact_data_are_recognized():
    x, weight, bias = ConvCase(values="int", bias=True).arrays()
    assert is_exact_data(x, weight, bias)
    assert not is_exact_data(x + 0.5, weight, bias)
    assert not is_exact_data(x * 2.0**30, weight * 2.0**30, bias)  # partial sums no longer representable

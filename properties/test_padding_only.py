"""Padding only: an output whose whole window lies in the zero border sees nothing but zeros, so it is the bias."""

from dataclasses import replace

import numpy as np
import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.errors import error_bound
from convcheck.properties.oracle import explicit_padding
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import conv_cases
from convcheck.properties.support import call_or_skip, examples
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("padding_only")


def sees_only_padding(case) -> np.ndarray:
    """Mask (H_out, W_out) of outputs whose every tap lands in the padding, from the geometry alone."""
    top, bottom, left, right = explicit_padding(case.padding, (case.kh, case.kw), case.dilation)
    masks = []
    for size, before, after, kernel, stride, dilation in (
        (case.h, top, bottom, case.kh, case.stride[0], case.dilation[0]),
        (case.w, left, right, case.kw, case.stride[1], case.dilation[1]),
    ):
        starts = np.arange(0, size + before + after - dilation * (kernel - 1), stride) - before
        ends = starts + dilation * (kernel - 1)
        masks.append((ends < 0) | (starts >= size))
    return masks[0][:, None] | masks[1][None, :]


@reproducible
def check_windows_inside_the_padding(impl, case) -> None:
    """Outputs of ``case`` whose windows lie in the padding equal the bias (0 without bias)."""
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    border = sees_only_padding(case)
    expected = np.zeros((case.n, case.c_out) + border.shape, dtype=x.dtype)
    if bias is not None:
        expected += bias[:, None, None]
    # zeros times weights add exact zeros; only a transform method may smear rounding from the interior here
    exact = impl.error_model.exact_on_integers
    within = 0.0 if exact else error_bound(impl.error_model, x, weight, bias, **case.geometry())
    tolerance = np.where(border, within, np.inf)
    assert_close(
        out, expected, tolerance, "windows in the padding give the bias", impl, case, "the bias, at border outputs"
    )


@examples(0.5)
@given(data=st.data())
def test_windows_inside_the_padding_give_the_bias(impl, data):
    """With padding wider than the dilated kernel, border outputs equal the bias exactly (0 without bias)."""
    __tracebackhide__ = True
    case = data.draw(conv_cases(impl.capabilities, values=("normal", "wide"), padding_modes=("pair",)), label="case")
    extra = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="extra padding")
    padding = (case.dilation[0] * (case.kh - 1) + extra[0], case.dilation[1] * (case.kw - 1) + extra[1])
    if impl.capabilities.int_padding:  # one number for all four sides: the wider of the two
        padding = (max(padding),) * 2
    check_windows_inside_the_padding(impl, case=replace(case, padding=padding))

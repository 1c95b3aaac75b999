"""Special values: NaN and infinity in the input reach exactly the outputs whose windows hold them.

An output whose window holds a non-finite input under a nonzero weight is NaN if it meets a NaN, or +inf and -inf
together, and otherwise the infinity of the product's sign: IEEE arithmetic decides this whatever the summation
order. Under a zero weight (or in the gap of a dilated kernel, which a zero-inserted kernel turns into a zero
weight) ``0 * inf`` may be computed (NaN) or skipped (as BLAS kernels do), so NaN is allowed there too. Every other
output is finite and within the error bound of the same call with the non-finite inputs set to zero.
"""

from dataclasses import replace

import numpy as np
import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.errors import error_bound
from convcheck.properties.non_finite import expected_with_non_finite, finite_part, propagation_classes
from convcheck.properties.oracle import explicit_padding, reference_conv2d
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import conv_cases
from convcheck.properties.support import call_or_skip, examples
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("special_values")


def reaches(case, indicator: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Outputs where some marked input meets some marked tap (counts, computed exactly in float64)."""
    return (
        reference_conv2d(indicator.astype(np.float64), taps.astype(np.float64), dtype=np.float64, **case.geometry()) > 0
    )


def expected_classes(case, x, weight):
    """(must be NaN, must be +inf, must be -inf, may also be NaN) per output."""
    must_nan, must_pinf, must_ninf = propagation_classes(lambda a, b: reaches(case, a, b), x, weight)
    dh, dw = case.dilation
    span = np.ones((*weight.shape[:2], dh * (case.kh - 1) + 1, dw * (case.kw - 1) + 1))
    top, bottom, left, right = explicit_padding(case.padding, (case.kh, case.kw), case.dilation)
    spanned = replace(case, padding=(0, 0), dilation=(1, 1))
    padded = np.pad(~np.isfinite(x), ((0, 0), (0, 0), (top, bottom), (left, right)))
    may_nan = reaches(spanned, padded, span)  # anywhere in the dilated window, zero weights included
    return must_nan, must_pinf, must_ninf, may_nan


@reproducible
def check_non_finite_propagation(impl, case, placed) -> None:
    """``case`` with the non-finite values ``placed`` ((index, value) pairs) in x: IEEE propagation by window."""
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    for position, value in placed:
        x[position] = value  # x is a fresh array of this case
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    must_nan, must_pinf, must_ninf, may_nan = expected_classes(case, x, weight)
    finite_x = finite_part(x)
    expected = reference_conv2d(finite_x, weight, bias, **case.geometry())
    expected = expected_with_non_finite(expected, (must_nan, must_pinf, must_ninf))
    bound = error_bound(impl.error_model, finite_x, weight, bias, **case.geometry())
    if out.shape == expected.shape:
        allowed = np.isnan(out) & may_nan
        if not impl.error_model.exact_on_integers:  # a transform spreads a non-finite value over its whole plane
            touched = np.any(~np.isfinite(x), axis=(1, 2, 3))[:, None, None, None]
            allowed |= ~np.isfinite(out) & touched
        expected = np.where(allowed, out, expected)
    shown = ", ".join(f"x[{', '.join(map(str, p))}] = {v}" for p, v in placed)
    what = f"non-finite propagation ({shown})"
    assert_close(out, expected, bound, what, impl, case, "IEEE propagation through the windows that hold them")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@examples(0.75)
@given(data=st.data())
def test_nan_and_infinity_reach_exactly_the_windows_that_hold_them(impl, data):
    """Non-finite inputs propagate as IEEE arithmetic says; they never vanish and never leak outside the window."""
    __tracebackhide__ = True
    case = data.draw(conv_cases(impl.capabilities, values=("int", "normal")), label="case")
    case = replace(case, scale=(min(case.scale[0], 4), min(case.scale[1], 4)))  # far from overflow
    shape = case.shapes()[0]
    count = data.draw(st.integers(1, 3), label="non-finite inputs")
    positions = [data.draw(st.tuples(*(st.integers(0, s - 1) for s in shape)), label="at") for _ in range(count)]
    values = [data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="value") for _ in range(count)]
    check_non_finite_propagation(impl, case=case, placed=tuple(zip(positions, values, strict=True)))

"""Output shape: [N, C_out, H_out, W_out] with out = floor((in + 2*pad - dil*(k-1) - 1) / stride) + 1 per axis."""

import pytest
from convcheck.impls import normalize, output_size
from convcheck.properties.assertions import assert_shape
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import conv_cases
from convcheck.properties.support import call_or_skip, examples
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("shape")


@reproducible
def check_output_shape(impl, case) -> None:
    """The shape of the call on ``case`` follows the formula."""
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    top, bottom, left, right = normalize(x, weight, bias, **case.geometry()).padding
    expected = (
        case.n,
        case.c_out,
        output_size(case.h, case.kh, case.stride[0], top + bottom, case.dilation[0]),
        output_size(case.w, case.kw, case.stride[1], left + right, case.dilation[1]),
    )
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    assert_shape(out, expected, "output shape", impl, case)


@examples(1)
@given(data=st.data())
def test_output_shape_matches_formula(impl, data):
    """The shape follows the seed's formula, with dilation and the contract's padding (incl. 'same', 'valid')."""
    __tracebackhide__ = True
    check_output_shape(
        impl, case=data.draw(conv_cases(impl.capabilities, values=("int",), layouts=False), label="case")
    )

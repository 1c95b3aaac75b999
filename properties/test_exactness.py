"""Exactness: on small-integer data every partial sum is representable, so direct summation is bitwise exact."""

import pytest
from convcheck.properties.assertions import assert_close, record_evidence
from convcheck.properties.oracle import reference_conv2d
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import exact_cases
from convcheck.properties.support import call_or_skip, examples, require
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("exactness")


@reproducible
def check_bitwise_exact(impl, case) -> None:
    """The call on ``case`` (small-integer data) equals the exact result, bitwise."""
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    expected = reference_conv2d(x, weight, bias, **case.geometry())
    record_evidence(expected)
    assert_close(out, expected, 0.0, "bitwise exactness on integer data", impl, case, "the oracle, bitwise")


@examples(1)
@given(data=st.data())
def test_integer_data_give_bitwise_exact_results(impl, data):
    """Any summation order gives the exact integer: a single differing bit is a wrong term, not rounding."""
    __tracebackhide__ = True
    require(impl, impl.error_model.exact_on_integers, "normwise error model: exempt from bitwise exactness")
    check_bitwise_exact(impl, case=data.draw(exact_cases(impl.capabilities), label="case"))

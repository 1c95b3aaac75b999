"""conv_transpose2d: the oracle within the error model (bitwise on small integers), the output-size formula, the
adjoint of conv2d, invalid arguments, and untouched inputs with a fresh result."""

import numpy as np
import pytest
from convcheck.impls.backward import TRANSPOSED
from convcheck.properties.backward_cases import (
    GradientCase,
    assert_within,
    called,
    check_hygiene,
    failure,
    replayable,
    tagged_with_its_call,  # noqa: F401 (an autouse fixture)
    transposed_cases,
)
from convcheck.properties.backward_errors import transposed_bound, transposed_shape
from convcheck.properties.backward_invalid import TRANSPOSED_CATALOGUE, check_refuses, invalid_transposed_calls
from convcheck.properties.backward_oracle import reference_conv_transpose2d
from convcheck.properties.oracle import reference_conv2d
from convcheck.properties.support import examples, require
from hypothesis import given
from hypothesis import strategies as st

pytestmark = [pytest.mark.family("transposed"), pytest.mark.operation(TRANSPOSED)]


@replayable
def check_matches_oracle(entry, case: GradientCase) -> None:
    __tracebackhide__ = True
    arguments, geometry = case.transposed_call()
    assert_matches_oracle(entry, case, arguments, geometry, called(entry, case, arguments, geometry))


def assert_matches_oracle(entry, case: GradientCase, arguments, geometry, out) -> None:
    """The entry's result ``out`` of ``arguments`` (x, weight, bias) agrees with the oracle within the error bound."""
    __tracebackhide__ = True
    x, weight, bias = arguments
    expected = reference_conv_transpose2d(x, weight, bias, **geometry)
    bound = transposed_bound(x, weight, bias, **geometry)
    assert_within(entry, case, out, expected, bound, "conv_transpose2d: agreement with the oracle")


@replayable
def check_output_shape(entry, case: GradientCase) -> None:
    __tracebackhide__ = True
    (x, weight, bias), geometry = case.transposed_call()
    out = called(entry, case, (x, weight, bias), geometry)
    expected = transposed_shape(x, weight, geometry)
    if not isinstance(out, np.ndarray) or out.shape != expected:
        detail = f"out.shape={np.shape(out)}, but should be {expected}"
        raise failure(entry, case, "conv_transpose2d: output shape", detail)


@replayable
def check_adjoint(entry, case: GradientCase) -> None:
    """<conv2d(y, w), g> = <y, conv_transpose2d(g, w)> in exact integer arithmetic, for any y of the output's shape."""
    __tracebackhide__ = True
    (g, weight, _), geometry = case.transposed_call()
    out = called(entry, case, (g, weight, None), geometry)
    wanted = case.forward.shapes()[0]  # the unused rows as output padding give the forward input's shape
    if np.shape(out) != wanted:
        raise failure(entry, case, "conv_transpose2d: adjoint of conv2d", f"out.shape={np.shape(out)}, not {wanted}")
    y = case.forward.reseeded().arrays((out.shape, None, None))[0]  # any input of the transposed output's shape
    forward = reference_conv2d(y, weight, stride=geometry["stride"], padding=geometry["padding"],
                               dilation=geometry["dilation"], groups=geometry["groups"])  # fmt: skip
    left = int(np.sum(forward.astype(np.int64) * g.astype(np.int64)))
    right = int(np.sum(y.astype(np.int64) * out.astype(np.int64)))
    if left != right:
        raise failure(entry, case, "conv_transpose2d: adjoint of conv2d", f"<conv2d(y, w), g> = {left}, but "
                      f"<y, conv_transpose2d(g, w)> = {right}")  # fmt: skip


@examples(1)
@given(data=st.data())
def test_matches_oracle_within_error_bound(entry, data):
    """|conv_transpose2d - exact| <= the bound of the products each output sums, element by element."""
    check_matches_oracle(entry, data.draw(transposed_cases(entry), label="case"))


@examples(0.5)
@given(data=st.data())
def test_integer_data_give_bitwise_exact_results(entry, data):
    """On small integers every partial sum is exact: the result equals the oracle's bitwise."""
    check_matches_oracle(entry, data.draw(transposed_cases(entry, values=("int",)), label="case"))


@examples(0.5)
@given(data=st.data())
def test_output_shape_matches_formula(entry, data):
    """H_out = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1, per axis."""
    check_output_shape(entry, data.draw(transposed_cases(entry, values=("int",)), label="case"))


@examples(0.5)
@given(data=st.data())
def test_is_the_adjoint_of_conv2d(entry, data):
    """With the forward's unused rows as output padding, conv_transpose2d is conv2d's transpose: exact on integers."""
    check_adjoint(entry, data.draw(transposed_cases(entry, values=("int",), adjoint_only=True), label="case"))


@examples(0.5)
@given(data=st.data())
def test_inputs_are_unchanged_and_the_result_fresh(entry, data):
    """x, weight and bias bitwise the same after the call; a fresh C-contiguous result of their dtype."""
    case = data.draw(transposed_cases(entry), label="case")
    check_hygiene(entry, case, ("x", "weight", "bias"), *case.transposed_call())


@pytest.mark.parametrize("invalid", TRANSPOSED_CATALOGUE, ids=lambda invalid: invalid.name)
@examples(0.1)
@given(data=st.data())
def test_invalid_arguments_raise_the_contract_error(entry, invalid, data):
    """Each class of invalid call raises ConvArgumentError naming the argument."""
    require(entry, invalid.asked_of(entry.capabilities), f"'{invalid.name}' needs an argument it does not declare")
    call = data.draw(invalid_transposed_calls(invalid, entry.capabilities), label="call")
    check_refuses(entry, *call, invalid.argument)

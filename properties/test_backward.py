"""conv2d_backward: the oracle within the error model (bitwise on small integers), the gradients' shapes, the adjoint
identities, zero gradient where no window reads, grad_bias as the sum of grad_out."""

import numpy as np
import pytest
from convcheck.impls.backward import BACKWARD
from convcheck.properties.backward_cases import (
    GRADIENTS,
    GradientCase,
    assert_within,
    backward_cases,
    check_hygiene,
    failure,
    replayable,
    tagged_with_its_call,  # noqa: F401 (an autouse fixture)
)
from convcheck.properties.backward_cases import (
    backward_gradients as gradients,
)
from convcheck.properties.backward_errors import backward_bounds
from convcheck.properties.backward_invalid import BACKWARD_CATALOGUE, check_refuses, invalid_backward_calls
from convcheck.properties.backward_oracle import (
    reference_bias_gradient,
    reference_input_gradient,
    reference_weight_gradient,
)
from convcheck.properties.oracle import reference_conv2d
from convcheck.properties.support import examples, require
from hypothesis import given
from hypothesis import strategies as st

pytestmark = [pytest.mark.family("backward"), pytest.mark.operation(BACKWARD)]


@replayable
def check_shapes(entry, case: GradientCase) -> None:
    """Three arrays shaped like x, weight and (C_out,), of x's dtype."""
    __tracebackhide__ = True
    gradients(entry, case)


@replayable
def check_matches_oracle(entry, case: GradientCase) -> None:
    __tracebackhide__ = True
    assert_gradients_match_oracle(entry, case, *gradients(entry, case))


def assert_gradients_match_oracle(entry, case: GradientCase, arguments, geometry, result) -> None:
    """The entry's ``result`` (grad_x, grad_weight, grad_bias) of ``arguments`` (grad_out, x, weight) agrees with the
    oracle within the error bound, gradient by gradient."""
    __tracebackhide__ = True
    grad_out, x, weight = arguments
    expected = (
        reference_input_gradient(grad_out, weight, x.shape[2:], **geometry),
        reference_weight_gradient(grad_out, x, weight.shape[2:], **geometry),
        reference_bias_gradient(grad_out),
    )
    bounds = backward_bounds(grad_out, x, weight, **geometry)
    for name, out, wanted, bound in zip(GRADIENTS, result, expected, bounds, strict=True):
        assert_within(entry, case, out, wanted, bound, f"conv2d_backward: {name} agrees with the oracle")


def exact_inner(a, b) -> int:
    return int(np.sum(np.asarray(a).astype(np.int64) * np.asarray(b).astype(np.int64)))


@replayable
def check_adjoint_identities(entry, case: GradientCase) -> None:
    """<conv2d(x, w), g> = <x, grad_x> = <w, grad_weight> and sum(g) = sum(grad_bias), in integer arithmetic."""
    __tracebackhide__ = True
    (grad_out, x, weight), geometry, (grad_x, grad_weight, grad_bias) = gradients(entry, case)
    forward = exact_inner(reference_conv2d(x, weight, **geometry), grad_out)
    sides = {"<x, grad_x>": exact_inner(x, grad_x), "<w, grad_weight>": exact_inner(weight, grad_weight)}
    sides["sum(grad_bias) - sum(g) + <conv2d(x, w), g>"] = (
        exact_inner(grad_bias, 1) - exact_inner(grad_out, 1) + forward
    )  # fmt: skip
    wrong = {name: value for name, value in sides.items() if value != forward}
    if wrong:
        detail = f"<conv2d(x, w), g> = {forward}, but " + ", ".join(f"{k} = {v}" for k, v in wrong.items())
        raise failure(entry, case, "conv2d_backward: adjoint identities", detail)


@replayable
def check_unread_inputs(entry, case: GradientCase) -> None:
    """Input positions no window reads (past the last window, between dilated taps under a stride) get exactly 0."""
    __tracebackhide__ = True
    (grad_out, x, weight), geometry, (grad_x, _, _) = gradients(entry, case)
    reads = reference_input_gradient(np.ones(grad_out.shape), np.ones(weight.shape), x.shape[2:], **geometry)
    unread = (reads == 0) & (grad_x != 0)
    if unread.any():
        where = tuple(int(i) for i in np.argwhere(unread)[0])
        detail = f"{int(unread.sum())} unread input positions with a nonzero gradient, first grad_x{list(where)}"
        raise failure(entry, case, "conv2d_backward: unread inputs", f"{detail} = {grad_x[where]}")


@examples(1)
@given(data=st.data())
def test_matches_oracle_within_error_bound(entry, data):
    """|gradient - exact| <= the bound of the products each output sums, for grad_x, grad_weight and grad_bias."""
    check_matches_oracle(entry, data.draw(backward_cases(entry), label="case"))


@examples(0.5)
@given(data=st.data())
def test_integer_data_give_bitwise_exact_results(entry, data):
    """On small integers every partial sum is exact: the three gradients equal the oracle's bitwise."""
    check_matches_oracle(entry, data.draw(backward_cases(entry, values=("int",)), label="case"))


@examples(0.5)
@given(data=st.data())
def test_gradients_have_the_shapes_and_dtype_of_their_arguments(entry, data):
    """grad_x is shaped like x, grad_weight like weight, grad_bias (C_out,), all of x's dtype."""
    check_shapes(entry, data.draw(backward_cases(entry, values=("int",)), label="case"))


@examples(0.5)
@given(data=st.data())
def test_adjoint_identities_hold_exactly(entry, data):
    """<conv2d(x, w), g> = <x, grad_x(g)> = <w, grad_w(x, g)>, and grad_bias sums to g's sum, exactly on integers."""
    check_adjoint_identities(entry, data.draw(backward_cases(entry, values=("int",)), label="case"))


@examples(0.5)
@given(data=st.data())
def test_inputs_no_window_reads_get_zero_gradient(entry, data):
    """grad_x is exactly 0 wherever no window reads the input, whatever the data."""
    check_unread_inputs(entry, data.draw(backward_cases(entry), label="case"))


@examples(0.5)
@given(data=st.data())
def test_inputs_are_unchanged_and_the_results_fresh(entry, data):
    """grad_out, x and weight bitwise the same after the call; three fresh C-contiguous results of their dtype."""
    case = data.draw(backward_cases(entry), label="case")
    check_hygiene(entry, case, ("grad_out", "x", "weight"), *case.backward_call())


@pytest.mark.parametrize("invalid", BACKWARD_CATALOGUE, ids=lambda invalid: invalid.name)
@examples(0.1)
@given(data=st.data())
def test_invalid_arguments_raise_the_contract_error(entry, invalid, data):
    """Each class of invalid call (the forward's, and a wrong grad_out) raises ConvArgumentError naming the argument."""
    why = "a framework's autograd, called after the contract's checks: its forward's own are a conv2d's to check"
    require(entry, entry.autograd is None, why)
    require(entry, invalid.asked_of(entry.capabilities), f"'{invalid.name}' needs an argument it does not declare")
    call = data.draw(invalid_backward_calls(invalid, entry.capabilities), label="call")
    check_refuses(entry, *call, invalid.argument)

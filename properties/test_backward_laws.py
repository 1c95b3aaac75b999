"""conv2d_backward's laws past the oracle: the gradients against central differences of the float64 forward oracle,
linearity in grad_out, groups that are independent calls, NaN and infinity through exactly the products that hold
them, and calls that keep no state."""

import numpy as np
import pytest
from convcheck.impls.backward import BACKWARD
from convcheck.properties import backward_non_finite, backward_state
from convcheck.properties.backward_calls import BACKWARD_CALL
from convcheck.properties.backward_cases import (
    COEFFICIENTS,
    GRADIENTS,
    GradientCase,
    assert_within,
    backward_cases,
    backward_gradients,
    checked_gradients,
    failure,
    group_part,
    replayable,
    tagged_with_its_call,  # noqa: F401 (an autouse fixture)
)
from convcheck.properties.backward_differences import (
    STEP_EXPONENTS,
    central_difference,
    disagreement,
    inner_product,
)
from convcheck.properties.backward_errors import backward_bounds
from convcheck.properties.support import examples
from hypothesis import given
from hypothesis import strategies as st

pytestmark = [pytest.mark.family("backward"), pytest.mark.operation(BACKWARD)]
FLOAT64 = ("float64",)


@replayable
def check_central_differences(entry, case: GradientCase, step_exponent: int = 0) -> None:
    """<gradient, v> equals the central difference of <conv2d(x, w, b), grad_out> along v in x, in w and in b, within
    both sides' rounding (:mod:`convcheck.properties.backward_differences`); v and b drawn like the data."""
    __tracebackhide__ = True
    (grad_out, x, weight), geometry, result = backward_gradients(entry, case)
    bias = case.forward.reseeded(2).arrays()[2]  # any bias: the differences cancel it
    directions = case.forward.reseeded().arrays((x.shape, weight.shape, bias.shape))
    bounds = backward_bounds(grad_out, x, weight, **geometry)
    step = 2.0**-step_exponent
    for index, name in enumerate(GRADIENTS):
        along = [v if i == index else np.zeros(v.shape) for i, v in enumerate(directions)]
        difference = central_difference((x, weight, bias), along, grad_out, step, **geometry)
        derivative = inner_product(result[index], directions[index], bounds[index])
        problem = disagreement(derivative, difference)
        if problem:
            detail = (
                f"<{name}, v> = {derivative.value!r}, but (L(p + h v) - L(p - h v))/2h = {difference.value!r} "
                f"with L = <conv2d(x, w, b), grad_out>, h = 2^-{step_exponent}: {problem}"
            )
            raise failure(entry, case, f"conv2d_backward: {name} against central differences", detail)


@replayable
def check_linear_in_grad_out(entry, case: GradientCase, a: int = 1, b: int = 1) -> None:
    """Each gradient of a*g1 + b*g2 is a times that of g1 plus b times that of g2 (g2 from the next seed), within the
    three calls' bounds: bitwise on small integers."""
    __tracebackhide__ = True
    (g1, x, weight), geometry, first = backward_gradients(entry, case)
    g2 = GradientCase(case.forward.reseeded()).backward_call()[0][0]
    second = checked_gradients(entry, case, (g2, x, weight), geometry)
    mixed = (a * g1 + b * g2).astype(g1.dtype)
    combined = checked_gradients(entry, case, (mixed, x, weight), geometry)
    bounds = zip(*(backward_bounds(g, x, weight, **geometry) for g in (mixed, g1, g2)), strict=True)
    for name, out, one, two, (bound, bound_1, bound_2) in zip(GRADIENTS, combined, first, second, bounds, strict=True):
        allowed = bound + abs(a) * bound_1 + abs(b) * bound_2
        relation = f"a*{name}(g1) + b*{name}(g2), a={a}, b={b}, g2 from seed+1"
        assert_within(
            entry, case, out, a * one + b * two, allowed, f"conv2d_backward: {name} linear in grad_out", relation
        )


@replayable
def check_groups_are_independent(entry, case: GradientCase) -> None:
    """Each group's gradients are those of an ungrouped call on its slices of grad_out, x and weight, within both
    calls' bounds (bitwise on small integers): a group's gradients depend on its own slices only."""
    __tracebackhide__ = True
    (grad_out, x, weight), geometry, result = backward_gradients(entry, case)
    groups = geometry["groups"]
    bounds = backward_bounds(grad_out, x, weight, **geometry)
    for j in range(groups):
        parts = (group_part(grad_out, 1, groups, j), group_part(x, 1, groups, j), group_part(weight, 0, groups, j))
        alone = checked_gradients(entry, case, parts, dict(geometry, groups=1))
        alone_bounds = backward_bounds(*parts, **dict(geometry, groups=1))
        for name, out, single, bound, single_bound, axis in zip(
            GRADIENTS, result, alone, bounds, alone_bounds, (1, 0, 0), strict=True
        ):
            allowed = group_part(bound, axis, groups, j) + single_bound
            law, relation = (
                f"conv2d_backward: {name} of group {j} of {groups}",
                f"the ungrouped call on group {j}'s slices",
            )
            assert_within(entry, case, group_part(out, axis, groups, j), single, allowed, law, relation)


@replayable
def check_non_finite_propagation(entry, case: GradientCase, placed=()) -> None:
    """``case`` with the non-finite values ``placed`` ((array name, index, 'nan' or '[-]inf') triples) in grad_out or
    x: each gradient is NaN or infinite exactly where IEEE arithmetic puts it, and elsewhere within the bound of the
    same data with them set to zero (a non-finite x reaches grad_weight only)."""
    __tracebackhide__ = True
    backward_non_finite.check_non_finite_propagation(BACKWARD_CALL, entry, case, placed)


@replayable
def check_calls_keep_no_state(entry, case: GradientCase, others=()) -> None:
    """The gradients of ``case`` and of each of ``others``, called after it, are bitwise what they were right after
    their call and their own once all have run; new values written into case's arrays in place give theirs."""
    __tracebackhide__ = True
    backward_state.check_calls_keep_no_state(BACKWARD_CALL, entry, case, others)


def difference_arguments(entry):
    """The keywords of :func:`check_central_differences`: a float64 case and the step's exponent."""
    return st.fixed_dictionaries({"case": backward_cases(entry, dtypes=FLOAT64), "step_exponent": STEP_EXPONENTS})


def linearity_arguments(entry):
    """The keywords of :func:`check_linear_in_grad_out`: a small-integer case and two small integers."""
    return st.fixed_dictionaries({"case": backward_cases(entry, values=("int",)), "a": COEFFICIENTS, "b": COEFFICIENTS})


def grouped_cases(entry):
    """Small-integer cases of at least two groups."""
    return backward_cases(entry, values=("int",), min_groups=2)


def non_finite_arguments(entry):
    """The keywords of :func:`check_non_finite_propagation`: a case of small integers or normal values (far from
    overflow) and 1-3 NaN or infinities, each in grad_out or x."""
    cases = backward_cases(entry, values=("int", "normal"))
    return backward_non_finite.non_finite_arguments(BACKWARD_CALL, cases, ("grad_out", "x"))


def state_arguments(entry):
    """The keywords of :func:`check_calls_keep_no_state`: a small-integer case and two more calls."""
    return backward_state.state_arguments(entry, backward_cases(entry, values=("int",)))


@examples(0.5)
@given(data=st.data())
def test_gradients_match_central_differences_of_the_forward_oracle(entry, data):
    """In float64, <grad_x, v>, <grad_weight, v> and <grad_bias, v> equal the central differences of
    <conv2d(x, w, b), grad_out> along v (the float64 forward oracle), within both sides' rounding bounds."""
    check_central_differences(entry, **data.draw(difference_arguments(entry), label="arguments"))


@examples(0.5)
@given(data=st.data())
def test_gradients_are_linear_in_grad_out(entry, data):
    """grad(a*g1 + b*g2) == a*grad(g1) + b*grad(g2) for the three gradients, bitwise on small integers."""
    check_linear_in_grad_out(entry, **data.draw(linearity_arguments(entry), label="arguments"))


@examples(0.25)
@given(data=st.data())
def test_groups_are_independent_calls(entry, data):
    """With G groups, group j's gradients equal the ungrouped call's on group j's slices, bitwise on small
    integers."""
    check_groups_are_independent(entry, data.draw(grouped_cases(entry), label="case"))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@examples(0.25)
@given(data=st.data())
def test_nan_and_infinity_reach_exactly_the_gradients_of_their_products(entry, data):
    """NaN and infinity in grad_out reach grad_x through its windows, grad_weight and grad_bias; in x, grad_weight
    only; as IEEE arithmetic says, and nowhere else."""
    check_non_finite_propagation(entry, **data.draw(non_finite_arguments(entry), label="arguments"))


@examples(0.25)
@given(data=st.data())
def test_calls_keep_no_state(entry, data):
    """Gradients kept from a call are unchanged by later calls (of other values, dtypes and shapes) and are each
    call's own, bitwise; new values written into the arrays in place give their gradients."""
    check_calls_keep_no_state(entry, **data.draw(state_arguments(entry), label="arguments"))

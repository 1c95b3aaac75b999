"""conv2d_backward's laws past the oracle: the gradients against central differences of the float64 forward oracle,
linearity in grad_out, and groups that are independent calls."""

import numpy as np
import pytest
from convcheck.impls.backward import BACKWARD
from convcheck.properties.backward_cases import (
    COEFFICIENTS,
    GRADIENTS,
    GradientCase,
    assert_within,
    backward_cases,
    checked_gradients,
    entries,
    failure,
    group_part,
    replayable,
    tagged_with_its_call,  # noqa: F401 (an autouse fixture)
)
from convcheck.properties.backward_cases import (
    backward_gradients as gradients,
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

pytestmark = [pytest.mark.family("backward"), pytest.mark.parametrize("entry", entries(BACKWARD))]


@replayable
def check_central_differences(entry, case: GradientCase, step_exponent: int = 0) -> None:
    """<gradient, v> equals the central difference of <conv2d(x, w, b), grad_out> along v in x, in w and in b, within
    both sides' rounding (:mod:`convcheck.properties.backward_differences`); v and b drawn like the data."""
    __tracebackhide__ = True
    (grad_out, x, weight), geometry, result = gradients(entry, case)
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
    (g1, x, weight), geometry, first = gradients(entry, case)
    g2 = GradientCase(case.forward.reseeded()).backward_call()[0][0]
    second = checked_gradients(entry, case, (g2, x, weight), geometry)
    mixed = (a * g1 + b * g2).astype(g1.dtype)
    combined = checked_gradients(entry, case, (mixed, x, weight), geometry)
    bounds = zip(*(backward_bounds(g, x, weight, **geometry) for g in (mixed, g1, g2)), strict=True)
    for name, out, one, two, (bound, bound_one, bound_two) in zip(GRADIENTS, combined, first, second, bounds,
                                                                  strict=True):  # fmt: skip
        assert_within(entry, case, out, a * one + b * two, bound + abs(a) * bound_one + abs(b) * bound_two,
                      f"conv2d_backward: {name} linear in grad_out",
                      f"a*{name}(g1) + b*{name}(g2), a={a}, b={b}, g2 from seed+1")  # fmt: skip


@replayable
def check_groups_are_independent(entry, case: GradientCase) -> None:
    """Each group's gradients are those of an ungrouped call on its slices of grad_out, x and weight, within both
    calls' bounds (bitwise on small integers): a group's gradients depend on its own slices only."""
    __tracebackhide__ = True
    (grad_out, x, weight), geometry, result = gradients(entry, case)
    groups = geometry["groups"]
    bounds = backward_bounds(grad_out, x, weight, **geometry)
    for j in range(groups):
        parts = (group_part(grad_out, 1, groups, j), group_part(x, 1, groups, j), group_part(weight, 0, groups, j))
        alone = checked_gradients(entry, case, parts, dict(geometry, groups=1))
        alone_bounds = backward_bounds(*parts, **dict(geometry, groups=1))
        for name, out, single, bound, single_bound, axis in zip(GRADIENTS, result, alone, bounds, alone_bounds,
                                                                (1, 0, 0), strict=True):  # fmt: skip
            assert_within(entry, case, group_part(out, axis, groups, j), single,
                          group_part(bound, axis, groups, j) + single_bound,
                          f"conv2d_backward: {name} of group {j} of {groups}",
                          f"the ungrouped call on group {j}'s slices")  # fmt: skip


@examples(0.5)
@given(data=st.data())
def test_gradients_match_central_differences_of_the_forward_oracle(entry, data):
    """In float64, <grad_x, v>, <grad_weight, v> and <grad_bias, v> equal the central differences of
    <conv2d(x, w, b), grad_out> along v (the float64 forward oracle), within both sides' rounding bounds."""
    cases = backward_cases(entry, dtypes=("float64",))
    step = data.draw(STEP_EXPONENTS, label="step_exponent")
    check_central_differences(entry, data.draw(cases, label="case"), step_exponent=step)


@examples(0.5)
@given(data=st.data())
def test_gradients_are_linear_in_grad_out(entry, data):
    """grad(a*g1 + b*g2) == a*grad(g1) + b*grad(g2) for the three gradients, bitwise on small integers."""
    case = data.draw(backward_cases(entry, values=("int",)), label="case")
    a, b = data.draw(COEFFICIENTS, label="a"), data.draw(COEFFICIENTS, label="b")
    check_linear_in_grad_out(entry, case, a=a, b=b)


@examples(0.25)
@given(data=st.data())
def test_groups_are_independent_calls(entry, data):
    """With G groups, group j's gradients equal the ungrouped call's on group j's slices, bitwise on small
    integers."""
    check_groups_are_independent(entry, data.draw(backward_cases(entry, values=("int",), min_groups=2), label="case"))

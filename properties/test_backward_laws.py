"""conv2d_backward's laws past the oracle: the gradients against central differences of the float64 forward oracle,
linearity in grad_out, groups that are independent calls, NaN and infinity through exactly the products that hold
them, and calls that keep no state."""

from dataclasses import replace

import numpy as np
import pytest
from convcheck.impls.backward import BACKWARD
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
from convcheck.properties.backward_oracle import (
    reference_bias_gradient,
    reference_input_gradient,
    reference_weight_gradient,
)
from convcheck.properties.non_finite import expected_with_non_finite, finite_part, propagation_classes
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


def marked(reference, *arguments, **keywords):
    """``reaches(a, b)`` of :func:`convcheck.properties.non_finite.propagation_classes` for a backward reference:
    the outputs whose sums hold a product of a marked value of its first argument and one of its second."""

    def reaches(a, b):
        return reference(a.astype(np.float64), b.astype(np.float64), *arguments, dtype=np.float64, **keywords) > 0

    return reaches


def non_finite_classes(entry, grad_out, x, weight, geometry):
    """For grad_x, grad_weight and grad_bias: (must be NaN, must be +inf, must be -inf) and where NaN is allowed too:
    a non-finite value times a zero, anywhere in the dilated window of a non-finite grad_out for grad_x, in its
    channel's row of grad_weight (the zero border included), and where a non-finite x meets grad_out or the zeros
    between strided windows that a zero-stuffed grad_out puts there; for an entry that declares
    ``non_finite_crosses_groups``, in every group's channels."""
    size, kernel = x.shape[2:], weight.shape[2:]
    reach_x = marked(reference_input_gradient, size, **geometry)
    reach_w = marked(reference_weight_gradient, kernel, **geometry)
    bad_g, bad_x = ~np.isfinite(grad_out), ~np.isfinite(x)
    crossing = dict(groups=1) if entry.non_finite_crosses_groups else {}
    spans = [d * (k - 1) + 1 for d, k in zip(np.broadcast_to(geometry["dilation"], 2), kernel, strict=True)]
    span = np.ones((weight.shape[0], x.shape[1] if crossing else weight.shape[1], *spans))
    window = marked(reference_input_gradient, size, **dict(geometry, dilation=1, **crossing))(bad_g, span)
    touched = np.any(bad_g, axis=(0, 2, 3)) | (np.any(bad_g) if crossing else False)
    stuffed = [(o - 1) * s + 1 for o, s in zip(grad_out.shape[2:], np.broadcast_to(geometry["stride"], 2), strict=True)]
    between = marked(reference_weight_gradient, kernel, **dict(geometry, stride=1))  # skipped positions too
    row = touched[:, None, None, None] | between(np.ones((*grad_out.shape[:2], *stuffed)), bad_x)
    return (
        (propagation_classes(reach_x, grad_out, weight), window),
        (propagation_classes(reach_w, grad_out, x), np.broadcast_to(row, weight.shape)),
        (propagation_classes(lambda a, b: np.any(a & b, axis=(0, 2, 3)), grad_out, np.ones(grad_out.shape)), False),
    )


@replayable
def check_non_finite_propagation(entry, case: GradientCase, placed=()) -> None:
    """``case`` with the non-finite values ``placed`` ((array name, index, 'nan' or '[-]inf') triples) in grad_out or
    x: each gradient is NaN or infinite exactly where IEEE arithmetic puts it, and elsewhere within the bound of the
    same data with them set to zero (a non-finite x reaches grad_weight only)."""
    __tracebackhide__ = True
    (grad_out, x, weight), geometry = case.backward_call()
    for name, index, value in placed:
        {"grad_out": grad_out, "x": x}[name][index] = float(value)  # fresh arrays of this case
    result = checked_gradients(entry, case, (grad_out, x, weight), geometry)
    finite_g, finite_x = finite_part(grad_out), finite_part(x)
    expected = (
        reference_input_gradient(finite_g, weight, x.shape[2:], **geometry),
        reference_weight_gradient(finite_g, finite_x, weight.shape[2:], **geometry),
        reference_bias_gradient(finite_g),
    )
    bounds = backward_bounds(finite_g, finite_x, weight, **geometry)
    shown = ", ".join(f"{name}[{', '.join(map(str, index))}] = {value}" for name, index, value in placed)
    classes = non_finite_classes(entry, grad_out, x, weight, geometry)
    for name, out, wanted, bound, (must, may_nan) in zip(GRADIENTS, result, expected, bounds, classes, strict=True):
        wanted = expected_with_non_finite(wanted, must)
        wanted = np.where(np.isnan(out) & may_nan, out, wanted)
        law = f"conv2d_backward: {name} with {shown}"
        assert_within(entry, case, out, wanted, bound, law, "IEEE propagation through the products that hold them")


@replayable
def check_calls_keep_no_state(entry, case: GradientCase, other: GradientCase | None = None) -> None:
    """A call's gradients are bitwise unchanged by a later call of ``other``, and the same call after it gives them
    again (small integers: every correct result is exact, whatever the order of the sums)."""
    __tracebackhide__ = True
    first = backward_gradients(entry, case)[2]
    kept = [np.array(g, copy=True) for g in first]
    if other is not None:
        backward_gradients(entry, other)
    for name, out, copy in zip(GRADIENTS, first, kept, strict=True):
        law = f"conv2d_backward: {name} unchanged by a later call"
        assert_within(entry, case, out, copy, 0.0, law, f"a copy taken right after the call, before {other!r}")
    again = backward_gradients(entry, case)[2]
    for name, repeated, copy in zip(GRADIENTS, again, kept, strict=True):
        law = f"conv2d_backward: {name} of the same call again"
        assert_within(entry, case, repeated, copy, 0.0, law, f"the first call's, with {other!r} in between")


def difference_arguments(entry):
    """The keywords of :func:`check_central_differences`: a float64 case and the step's exponent."""
    return st.fixed_dictionaries({"case": backward_cases(entry, dtypes=FLOAT64), "step_exponent": STEP_EXPONENTS})


def linearity_arguments(entry):
    """The keywords of :func:`check_linear_in_grad_out`: a small-integer case and two small integers."""
    return st.fixed_dictionaries({"case": backward_cases(entry, values=("int",)), "a": COEFFICIENTS, "b": COEFFICIENTS})


def grouped_cases(entry):
    """Small-integer cases of at least two groups."""
    return backward_cases(entry, values=("int",), min_groups=2)


@st.composite
def non_finite_arguments(draw, entry):
    """The keywords of :func:`check_non_finite_propagation`: a case of small integers or normal values (far from
    overflow) and 1-3 NaN or infinities, each in grad_out or x."""
    case = draw(backward_cases(entry, values=("int", "normal")))
    case = replace(case, forward=replace(case.forward, scale=tuple(min(s, 4) for s in case.forward.scale)))
    shapes = {"grad_out": case.forward_output(), "x": case.forward.shapes()[0]}
    placed = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(tuple(shapes)))
        index = draw(st.tuples(*(st.integers(0, s - 1) for s in shapes[name])))
        placed.append((name, index, draw(st.sampled_from(("nan", "inf", "-inf")))))
    return {"case": case, "placed": tuple(placed)}


@st.composite
def state_arguments(draw, entry):
    """The keywords of :func:`check_calls_keep_no_state`: a small-integer case and another, half of them the same
    shapes with other values (what a workspace or a cache kept per shape answers wrongly), half a new draw."""
    cases = backward_cases(entry, values=("int",))
    case = draw(cases)
    other = GradientCase(case.forward.reseeded()) if draw(st.booleans()) else draw(cases)
    return {"case": case, "other": other}


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
    """Gradients kept from a call are unchanged by another call, and the same call again gives them bitwise."""
    check_calls_keep_no_state(entry, **data.draw(state_arguments(entry), label="arguments"))

"""conv_transpose2d's laws past the oracle: the gradient of conv2d in its input against central differences of the
float64 forward oracle, linearity in x, groups that are independent calls, an output padding that only appends rows
and columns at the end, NaN and infinity through exactly the products that hold them, and calls that keep no
state."""

from dataclasses import replace

import numpy as np
import pytest
from convcheck.impls.backward import TRANSPOSED
from convcheck.properties import backward_non_finite, backward_state
from convcheck.properties.backward_calls import TRANSPOSED_CALL, transposed
from convcheck.properties.backward_cases import (
    COEFFICIENTS,
    GradientCase,
    assert_within,
    called,
    failure,
    group_part,
    largest_output_padding,
    replayable,
    tagged_with_its_call,  # noqa: F401 (an autouse fixture)
    transposed_cases,
)
from convcheck.properties.backward_differences import STEP_EXPONENTS, central_difference, disagreement, inner_product
from convcheck.properties.backward_errors import transposed_bound
from convcheck.properties.strategies import built_once
from convcheck.properties.support import examples
from hypothesis import assume, given
from hypothesis import strategies as st

pytestmark = [pytest.mark.family("transposed"), pytest.mark.operation(TRANSPOSED)]


@replayable
def check_central_differences(entry, case: GradientCase, step_exponent: int = 0) -> None:
    """conv_transpose2d(g, w) is the gradient of L = <conv2d(y, w, b), g> in y: <conv_transpose2d(g, w), v> equals
    L's central difference along v in y, and <y, conv_transpose2d(g, v)> along v in w, within both sides' rounding
    (:mod:`convcheck.properties.backward_differences`); y, b and v drawn like the data."""
    __tracebackhide__ = True
    (g, weight, _), geometry = case.transposed_call()
    forward = {name: geometry[name] for name in ("stride", "padding", "dilation", "groups")}
    y, _, bias = case.forward.reseeded(2).arrays()
    bias = np.zeros(weight.shape[0]) if bias is None else bias  # any bias: the differences cancel it
    along_y, along_w, _ = case.forward.reseeded().arrays((y.shape, weight.shape, None))
    step = 2.0**-step_exponent
    for name, direction, kernel, paired in (("y", along_y, weight, along_y), ("w", along_w, along_w, y)):
        out = called(entry, case, (g, kernel, None), geometry)
        if np.shape(out) != y.shape:
            detail = f"out.shape={np.shape(out)}, not {y.shape} (the output padding is the forward's unused rows)"
            raise failure(entry, case, "conv_transpose2d: central differences of conv2d", detail)
        shift = (direction, np.zeros(weight.shape)) if name == "y" else (np.zeros(y.shape), direction)
        difference = central_difference((y, weight, bias), (*shift, np.zeros(bias.shape)), g, step, **forward)
        derivative = inner_product(out, paired, transposed_bound(g, kernel, None, **geometry))
        problem = disagreement(derivative, difference)
        if problem:
            said = "<conv_transpose2d(g, w), v>" if name == "y" else "<y, conv_transpose2d(g, v)>"
            detail = (
                f"{said} = {derivative.value!r}, but the central difference of <conv2d(y, w, b), g> along v in "
                f"{name} = {difference.value!r} with h = 2^-{step_exponent}: {problem}"
            )
            raise failure(entry, case, "conv_transpose2d: central differences of conv2d", detail)


@replayable
def check_linear_in_the_input(entry, case: GradientCase, a: int = 1, b: int = 1) -> None:
    """conv_transpose2d(a*x1 + b*x2, w) = a*conv_transpose2d(x1, w) + b*conv_transpose2d(x2, w) (no bias; x2 from the
    next seed), within the three calls' bounds: bitwise on small integers."""
    __tracebackhide__ = True
    (x1, weight, _), geometry = case.transposed_call()
    x2 = GradientCase(case.forward.reseeded(), case.output_padding).transposed_call()[0][0]
    mixed = (a * x1 + b * x2).astype(x1.dtype)
    sides = [transposed(entry, case, (x, weight, None), geometry) for x in (mixed, x1, x2)]
    (out, bound), (first, bound_1), (second, bound_2) = sides
    allowed = bound + abs(a) * bound_1 + abs(b) * bound_2
    relation = f"a*f(x1) + b*f(x2), a={a}, b={b}, x2 from seed+1"
    assert_within(entry, case, out, a * first + b * second, allowed, "conv_transpose2d: linear in x", relation)


@replayable
def check_groups_are_independent(entry, case: GradientCase) -> None:
    """Each group's output channels are the ungrouped call's on its slices of x, weight and bias, within both calls'
    bounds (bitwise on small integers): a group's result depends on its own slices only."""
    __tracebackhide__ = True
    (x, weight, bias), geometry = case.transposed_call()
    out, bound = transposed(entry, case, (x, weight, bias), geometry)
    groups = geometry["groups"]
    for j in range(groups):
        parts = (group_part(x, 1, groups, j), group_part(weight, 0, groups, j))
        parts += (None if bias is None else group_part(bias, 0, groups, j),)
        alone, alone_bound = transposed(entry, case, parts, dict(geometry, groups=1))
        allowed = group_part(bound, 1, groups, j) + alone_bound
        law, relation = f"conv_transpose2d: group {j} of {groups}", f"the ungrouped call on group {j}'s slices"
        assert_within(entry, case, group_part(out, 1, groups, j), alone, allowed, law, relation)


@replayable
def check_output_padding_appends(entry, case: GradientCase) -> None:
    """With an output padding, the output's first H0 x W0 rows and columns are the call without it (H0 x W0 its
    size), within both calls' bounds: bitwise on small integers."""
    __tracebackhide__ = True
    (x, weight, bias), geometry = case.transposed_call()
    out, bound = transposed(entry, case, (x, weight, bias), geometry)
    without, bound_without = transposed(entry, case, (x, weight, bias), dict(geometry, output_padding=0))
    rows, cols = without.shape[2:]
    bound = bound[..., :rows, :cols] + bound_without
    relation = f"the call with output_padding=0, whose size is {rows}x{cols}"
    assert_within(
        entry, case, out[..., :rows, :cols], without, bound, "conv_transpose2d: output padding appends", relation
    )


@replayable
def check_non_finite_propagation(entry, case: GradientCase, placed=()) -> None:
    """``case`` with the non-finite values ``placed`` ((array name, index, 'nan' or '[-]inf') triples) in x or
    weight: the output is NaN or infinite exactly where IEEE arithmetic puts it, and elsewhere within the bound of
    the same data with them set to zero."""
    __tracebackhide__ = True
    backward_non_finite.check_non_finite_propagation(TRANSPOSED_CALL, entry, case, placed)


@replayable
def check_calls_keep_no_state(entry, case: GradientCase, others=()) -> None:
    """The outputs of ``case`` and of each of ``others``, called after it, are bitwise what they were right after
    their call and their own once all have run; new values written into case's arrays in place give theirs."""
    __tracebackhide__ = True
    backward_state.check_calls_keep_no_state(TRANSPOSED_CALL, entry, case, others)


@built_once
@st.composite
def output_padded_cases(draw, entry, values=("int",)):
    """Cases with a nonzero output padding (on one axis at least) and an output without it: a forward configuration
    whose stride (or dilation) leaves room for one, a stride of 2-4 where neither does."""
    forward = draw(transposed_cases(entry, values=values, adjoint_only=True)).forward
    if not any(largest_output_padding(entry, forward, axis) for axis in (0, 1)):
        stride = draw(st.integers(2, 4))
        forward = replace(forward, stride=(stride, draw(st.sampled_from((1, stride)))))
    unused = GradientCase(forward).unused_rows()
    assume(all(u < size for u, size in zip(unused, (forward.h, forward.w), strict=True)))  # an output without it
    tops = [largest_output_padding(entry, forward, axis) for axis in (0, 1)]
    first = next(axis for axis, top in enumerate(tops) if top)
    extra = [draw(st.integers(1 if axis == first else 0, top)) for axis, top in enumerate(tops)]
    return GradientCase(forward, tuple(extra))


def difference_arguments(entry):
    """The keywords of :func:`check_central_differences`: a float64 case of the adjoint and the step's exponent."""
    cases = transposed_cases(entry, adjoint_only=True, dtypes=("float64",))
    return st.fixed_dictionaries({"case": cases, "step_exponent": STEP_EXPONENTS})


def linearity_arguments(entry):
    """The keywords of :func:`check_linear_in_the_input`: a small-integer case and two small integers."""
    return st.fixed_dictionaries(
        {"case": transposed_cases(entry, values=("int",)), "a": COEFFICIENTS, "b": COEFFICIENTS}
    )


def grouped_cases(entry):
    """Small-integer cases of at least two groups."""
    return transposed_cases(entry, values=("int",), min_groups=2)


def non_finite_arguments(entry):
    """The keywords of :func:`check_non_finite_propagation`: a case of small integers or normal values (far from
    overflow) and 1-3 NaN or infinities, each in x or weight."""
    cases = transposed_cases(entry, values=("int", "normal"))
    return backward_non_finite.non_finite_arguments(TRANSPOSED_CALL, cases, ("x", "weight"))


def state_arguments(entry):
    """The keywords of :func:`check_calls_keep_no_state`: a small-integer case and two more calls."""
    return backward_state.state_arguments(entry, transposed_cases(entry, values=("int",)))


@examples(0.5)
@given(data=st.data())
def test_is_the_gradient_of_conv2d_by_central_differences(entry, data):
    """In float64, <conv_transpose2d(g, w), v> and <y, conv_transpose2d(g, v)> equal the central differences of
    <conv2d(y, w, b), g> along v in y and in w (the float64 forward oracle), within both sides' rounding bounds."""
    check_central_differences(entry, **data.draw(difference_arguments(entry), label="arguments"))


@examples(0.5)
@given(data=st.data())
def test_is_linear_in_the_input(entry, data):
    """conv_transpose2d(a*x1 + b*x2, w) == a*conv_transpose2d(x1, w) + b*conv_transpose2d(x2, w), bitwise on small
    integers."""
    check_linear_in_the_input(entry, **data.draw(linearity_arguments(entry), label="arguments"))


@examples(0.5)
@given(data=st.data())
def test_groups_are_independent_calls(entry, data):
    """With G groups, group j's output channels equal the ungrouped call's on group j's slices, bitwise on small
    integers."""
    check_groups_are_independent(entry, data.draw(grouped_cases(entry), label="case"))


@examples(0.5)
@given(data=st.data())
def test_output_padding_only_appends_rows_and_columns(entry, data):
    """out[..., :H0, :W0] with an output padding == the output without it (H0 x W0), bitwise on small integers."""
    check_output_padding_appends(entry, data.draw(output_padded_cases(entry), label="case"))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@examples(0.15)
@given(data=st.data())
def test_nan_and_infinity_reach_exactly_the_outputs_of_their_products(entry, data):
    """NaN and infinity in x or weight reach the outputs their products land on, as IEEE arithmetic says, and
    nowhere else."""
    check_non_finite_propagation(entry, **data.draw(non_finite_arguments(entry), label="arguments"))


@examples(0.15)
@given(data=st.data())
def test_calls_keep_no_state(entry, data):
    """Outputs kept from a call are unchanged by later calls (of other values, dtypes and shapes) and are each call's
    own, bitwise; new values written into the arrays in place give their output."""
    check_calls_keep_no_state(entry, **data.draw(state_arguments(entry), label="arguments"))

"""Where NaN and infinity go through the transposed convolution and conv2d's gradients, and the special-values law of
both calls (:func:`check_non_finite_propagation`).

Each result is a sum of products (:mod:`convcheck.properties.non_finite`): an output is NaN or infinite exactly where
IEEE arithmetic sends the products that hold a non-finite value, whatever the order of the sums, and elsewhere within
the error bound of the same data with the non-finite values set to zero. Where a non-finite value may meet a zero, NaN
is allowed too: in the dilated span a non-finite input scatters to (its zero taps and a dilated kernel's gaps, which a
zero-inserted kernel computes), and, for a non-finite tap of the transposed kernel, in its output channel's whole plane
(a direct convolution of the stuffed input multiplies every tap by the stuffed and padded zeros). An entry that
declares ``non_finite_crosses_groups`` may spread a non-finite input's NaN into every group's channels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from convcheck.impls.backward import BACKWARD, TRANSPOSED
from convcheck.properties.backward_cases import assert_within
from convcheck.properties.backward_oracle import (
    reference_conv_transpose2d,
    reference_input_gradient,
    reference_weight_gradient,
)
from convcheck.properties.non_finite import expected_with_non_finite, finite_part, propagation_classes
from hypothesis import strategies as st

SPECIAL = ("nan", "inf", "-inf")


def marked(reference, *arguments, **keywords):
    """``reaches(a, b)`` of :func:`convcheck.properties.non_finite.propagation_classes` for a backward reference:
    the outputs whose sums hold a product of a marked value of its first argument and one of its second."""

    def reaches(a, b):
        return reference(a.astype(np.float64), b.astype(np.float64), *arguments, dtype=np.float64, **keywords) > 0

    return reaches


def scattered_span(reference, bad, weight, geometry, crossing: bool, *arguments) -> np.ndarray:
    """Where the marked values of ``bad`` reach through the scatter ``reference`` (conv_transpose2d, or grad_x of
    grad_out) anywhere in the dilated span of ``weight``, zero taps and gaps included: in each value's group's
    channels, or in every channel where ``crossing``."""
    groups = geometry["groups"]
    dilation = np.broadcast_to(geometry["dilation"], 2)
    spans = [d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:], strict=True)]
    span = np.ones((weight.shape[0], weight.shape[1] * (groups if crossing else 1), *spans))
    return marked(reference, *arguments, **dict(geometry, dilation=1, groups=1 if crossing else groups))(bad, span)


def transposed_classes(entry, arrays, geometry):
    """For conv_transpose2d's output: (must be NaN, must be +inf, must be -inf) and where NaN is allowed too."""
    x, weight, _ = arrays
    classes = propagation_classes(marked(reference_conv_transpose2d, None, **geometry), x, weight)
    span = scattered_span(reference_conv_transpose2d, ~np.isfinite(x), weight, geometry,
                          entry.non_finite_crosses_groups, None)  # fmt: skip
    c_in, per_group = weight.shape[:2]
    bad_taps = ~np.isfinite(weight).reshape(geometry["groups"], c_in // geometry["groups"], per_group, -1)
    plane = bad_taps.any(axis=(1, 3)).reshape(-1)[None, :, None, None]  # each output channel's taps
    return ((classes, span | plane),)


def backward_classes(entry, arrays, geometry):
    """For grad_x, grad_weight and grad_bias: (must be NaN, must be +inf, must be -inf) and where NaN is allowed too:
    a non-finite grad_out in its span of grad_x and in its channel's row of grad_weight (the zero border included),
    a non-finite x where it meets grad_out or the zeros between strided windows that a zero-stuffed grad_out puts
    there; for an entry that declares ``non_finite_crosses_groups``, grad_out's in every group's channels."""
    grad_out, x, weight = arrays
    size, kernel = x.shape[2:], weight.shape[2:]
    reach_x = marked(reference_input_gradient, size, **geometry)
    reach_w = marked(reference_weight_gradient, kernel, **geometry)
    bad_g, bad_x = ~np.isfinite(grad_out), ~np.isfinite(x)
    crossing = entry.non_finite_crosses_groups
    span = scattered_span(reference_input_gradient, bad_g, weight, geometry, crossing, size)
    touched = np.any(bad_g, axis=(0, 2, 3)) | (np.any(bad_g) if crossing else False)
    stuffed = [(o - 1) * s + 1 for o, s in zip(grad_out.shape[2:], np.broadcast_to(geometry["stride"], 2), strict=True)]
    between = marked(reference_weight_gradient, kernel, **dict(geometry, stride=1))  # skipped positions too
    row = touched[:, None, None, None] | between(np.ones((*grad_out.shape[:2], *stuffed)), bad_x)
    return (
        (propagation_classes(reach_x, grad_out, weight), span),
        (propagation_classes(reach_w, grad_out, x), np.broadcast_to(row, weight.shape)),
        (propagation_classes(lambda a, b: np.any(a & b, axis=(0, 2, 3)), grad_out, np.ones(grad_out.shape)), False),
    )


CLASSES = {TRANSPOSED: transposed_classes, BACKWARD: backward_classes}


def check_non_finite_propagation(call, entry, case, placed) -> None:
    """``case`` of ``call`` (:class:`convcheck.properties.backward_calls.GradientCall`) with the non-finite values
    ``placed`` ((operand name, index, 'nan' or '[-]inf') triples): each result is NaN or infinite exactly where IEEE
    arithmetic puts it, and elsewhere within the bound of the same data with them set to zero."""
    __tracebackhide__ = True
    arrays, geometry = call.operands(case)
    named = dict(zip(call.operand_names, arrays, strict=True))
    for name, index, value in placed:
        named[name][index] = float(value)  # fresh arrays of this case
    results = call.results(entry, case, arrays, geometry)
    finite = tuple(None if a is None else finite_part(a) for a in arrays)
    shown = ", ".join(f"{name}[{', '.join(map(str, index))}] = {value}" for name, index, value in placed)
    expected = zip(
        call.result_names, results, call.references(finite, geometry), call.bounds(finite, geometry),
        CLASSES[call.operation](entry, arrays, geometry), strict=True,
    )  # fmt: skip
    for name, out, wanted, bound, (must, may_nan) in expected:
        wanted = expected_with_non_finite(wanted, must)
        wanted = np.where(np.isnan(out) & may_nan, out, wanted)
        law = f"{call.operation}: {name} with {shown}"
        assert_within(entry, case, out, wanted, bound, law, "IEEE propagation through the products that hold them")


@st.composite
def non_finite_arguments(draw, call, cases, names):
    """The keywords of :func:`check_non_finite_propagation`'s check of ``call``: a case of ``cases`` (small integers
    or normal values) with magnitudes far from overflow, and 1-3 NaN or infinities, each in one of the operands
    ``names``."""
    case = draw(cases)
    case = replace(case, forward=replace(case.forward, scale=tuple(min(s, 4) for s in case.forward.scale)))
    arrays, _ = call.operands(case)
    shapes = {name: a.shape for name, a in zip(call.operand_names, arrays, strict=True) if name in names}
    placed = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(tuple(shapes)))
        index = draw(st.tuples(*(st.integers(0, s - 1) for s in shapes[name])))
        placed.append((name, index, draw(st.sampled_from(SPECIAL))))
    return {"case": case, "placed": tuple(placed)}

"""Receptive field: stacking convolutions grows what one output sees, exactly as the layer geometry predicts.

For a stack of 1-3 single-channel layers with positive weights, the input pixels that influence one output (found
by perturbation: one delta image per pixel, batched) must be exactly the set obtained by walking the output index
back through each layer (``o -> o*stride - pad + dilation*t`` for every tap t, clipped to the layer's input), and
when nothing is clipped its extent is the receptive-field size ``1 + sum_l (k_l - 1) * d_l * prod_{m<l} s_m``.
"""

from __future__ import annotations

import numpy as np
import pytest
from convcheck.properties.cases import one_int_where_equal
from convcheck.properties.corners import allowed_values
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.reproductions import reproducible
from convcheck.properties.support import call_or_skip, examples
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("receptive_field")

MAX_INPUT = 14


def pair_of(draw, values, square: bool) -> tuple[int, int]:
    first = draw(st.sampled_from(values))
    return (first, first) if square else (first, draw(st.sampled_from(values)))


@st.composite
def layer_axes(draw, capabilities):
    """One layer's (kernel, stride, dilation, padding) along both axes, inside the capabilities."""
    odd = capabilities.odd_kernels
    if capabilities.kernel_sizes is not None:
        kernel = draw(st.sampled_from([k for k in capabilities.kernel_sizes if not odd or k[0] % 2 * k[1] % 2]))
    else:
        kernel = pair_of(draw, [k for k in range(1, 5) if not odd or k % 2], square=False)
    stride = pair_of(draw, allowed_values(capabilities.strides, 1, 2), capabilities.square_strides)
    dilation = pair_of(draw, allowed_values(capabilities.dilations, 1, 2), capabilities.square_dilations)
    padding = pair_of(draw, [0, 1, 2], capabilities.int_padding)
    return kernel, stride, dilation, padding


def smallest_input(layers, axis: int) -> int:
    """The smallest input extent for which every layer of the stack has at least one output."""
    size = 1
    for kernel, stride, dilation, padding in reversed(layers):
        size = max(1, (size - 1) * stride[axis] + dilation[axis] * (kernel[axis] - 1) + 1 - 2 * padding[axis])
    return size


def predicted_inputs(layers, sizes, output_index: int, axis: int, clip: bool = True) -> set[int]:
    """Walk one output index back through the stack: every position some tap of some window lands on
    (positions in a layer's zero padding carry nothing further back, unless ``clip`` is off)."""
    positions = {output_index}
    for (kernel, stride, dilation, padding), size in zip(reversed(layers), reversed(sizes), strict=True):
        positions = {
            o * stride[axis] - padding[axis] + dilation[axis] * t for o in positions for t in range(kernel[axis])
        }
        positions = {p for p in positions if 0 <= p < size or not clip}
    return positions


def receptive_field_size(layers, axis: int) -> int:
    size, jump = 1, 1
    for kernel, stride, dilation, _ in layers:
        size += (kernel[axis] - 1) * dilation[axis] * jump
        jump *= stride[axis]
    return size


def output_extent(layers, size: int, axis: int) -> int:
    """The stack's output extent along ``axis`` for an input of ``size``."""
    for kernel, stride, dilation, padding in layers:
        size = (size + 2 * padding[axis] - dilation[axis] * (kernel[axis] - 1) - 1) // stride[axis] + 1
    return size


def pixels(mask: np.ndarray) -> str:
    """The marked pixels of a plane as row and column ranges, e.g. ``rows 2-4 x columns 0-1 (6 pixels)``."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return "none"
    return f"rows {rows.min()}-{rows.max()} x columns {cols.min()}-{cols.max()} ({int(mask.sum())} pixels)"


@reproducible
def check_receptive_field(impl, layers, height: int, width: int, output: tuple[int, int]) -> None:
    """The input pixels that influence output ``output`` of the stack ``layers`` are its walked-back window."""
    __tracebackhide__ = True
    dtype = impl.capabilities.dtypes[0]
    deltas = np.eye(height * width, dtype=dtype).reshape(height * width, 1, height, width)  # one pixel per item
    activations, sizes = deltas, []
    for index, (kernel, stride, dilation, padding) in enumerate(layers):
        sizes.append(activations.shape[2:])
        weight = np.random.default_rng(index).integers(1, 4, size=(1, 1, *kernel)).astype(dtype)
        geometry = {"stride": one_int_where_equal(stride), "padding": one_int_where_equal(padding),
                    "dilation": one_int_where_equal(dilation)}  # fmt: skip
        activations = call_or_skip(impl, activations, weight, **geometry)
    oi, oj = output
    influence = activations[:, 0, oi, oj].reshape(height, width) > 0.5  # influenced outputs are integers >= 1
    rows = predicted_inputs(layers, [s[0] for s in sizes], oi, 0)
    cols = predicted_inputs(layers, [s[1] for s in sizes], oj, 1)
    predicted = np.zeros((height, width), dtype=bool)
    if rows and cols:  # an output whose window lies in the padding sees no input at all
        predicted[np.ix_(sorted(rows), sorted(cols))] = True
    stack = " | ".join(f"k{k} s{s} d{d} p{p}" for k, s, d, p in layers)
    law = f"receptive field of output ({oi}, {oj})"
    setting = f"after {stack} on a {height}x{width} input"
    if not np.array_equal(influence, predicted):
        lines = [f"influenced: {pixels(influence)}", f"predicted:  {pixels(predicted)}", setting]
        detail = f"{int(np.sum(influence != predicted))} input pixels differ from the walked-back window"
        raise PropertyFailure(law, detail, impl, lines=lines)
    for axis, index, found in ((0, oi, rows), (1, oj, cols)):
        axis_sizes = [size[axis] for size in sizes]
        if rows and cols and predicted_inputs(layers, axis_sizes, index, axis, clip=False) == found:  # nothing clipped
            measured = np.flatnonzero(influence.any(axis=1 - axis))
            extent, formula = int(measured.max() - measured.min() + 1), receptive_field_size(layers, axis)
            if extent != formula:
                detail = (
                    f"spans {extent} inputs along axis {axis}, but 1 + sum (k-1)*d*prod(previous strides) = {formula}"
                )
                raise PropertyFailure(law, detail, impl, lines=[setting])


@examples(0.5)
@given(data=st.data())
def test_influence_of_one_output_is_its_receptive_field(impl, data):
    """The inputs one output depends on are exactly the walked-back window; unclipped, of the formula's size."""
    __tracebackhide__ = True
    layers = data.draw(st.lists(layer_axes(impl.capabilities), min_size=1, max_size=3), label="layers")
    height = data.draw(st.integers(smallest_input(layers, 0), max(smallest_input(layers, 0), MAX_INPUT)), label="H")
    width = data.draw(st.integers(smallest_input(layers, 1), max(smallest_input(layers, 1), MAX_INPUT)), label="W")
    oi = data.draw(st.integers(0, output_extent(layers, height, 0) - 1), label="output row")
    oj = data.draw(st.integers(0, output_extent(layers, width, 1) - 1), label="output column")
    check_receptive_field(impl, layers=tuple(layers), height=height, width=width, output=(oi, oj))

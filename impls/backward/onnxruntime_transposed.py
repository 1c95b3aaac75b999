"""ONNX Runtime: one ``ConvTranspose`` node on the CPU execution provider.

The contract is ONNX's ``ConvTranspose`` (opset 22) with explicit attributes: ``strides``, ``dilations``, ``group``,
``output_padding`` and ``pads = [top, left, top, left]`` (the padding cropped from both ends of each axis); the output
shape is left to ONNX Runtime to find from them. Sessions are cached per signature (bias or not, attributes), shapes
are symbolic. float32 only, as the forward's ``Conv``. ONNX Runtime and ONNX are imported at the first call.

A deviation, declared (``output_padding_below_stride``): ONNX Runtime 1.31 refuses an output padding that is not
smaller than the stride, which torch allows when it is smaller than the dilation. Smallest case: a 1x1 input and a 1x1
kernel, stride 1, dilation 2, output_padding 1: torch gives the 2x2 output ``[[1, 0], [0, 0]]``, ONNX Runtime raises
INVALID_ARGUMENT ("output_padding (1) may be too large for stride (1)").

Another, handled: ONNX Runtime 1.31 gives wrong values when a stride times an extent passes what an int64 holds: x of
2x8, a 1x1 kernel, stride (2**62, 1), padding (2**61, 0): both rows land outside the one output row (torch and the
oracle give zeros), ONNX Runtime gives the sum of the two rows. Past 2**31 - 1 (a stride, a dilation, a padding or the
canvas the windows reach), the entry scatters each value's taps side by side in the compact form of
:mod:`convcheck.impls.backward._canvas`, as the torch and JAX entries do past their limits.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from convcheck.impls.backward._canvas import largest_number, transposed_by
from convcheck.impls.backward.contract import ConvTranspose2dProblem
from convcheck.impls.backward.registry import transposed_implementation
from convcheck.impls.onnxruntime_conv import UNAVAILABLE, single_node_session

ONNXRUNTIME_INDEX_LIMIT = 2**31 - 1


@lru_cache(maxsize=256)
def session(bias: bool, stride, padding, output_padding, dilation, group: int):
    """An inference session for one float32 ``ConvTranspose`` node with these attributes."""
    attributes = {
        "strides": list(stride), "pads": [*padding, *padding], "output_padding": list(output_padding),
        "dilations": list(dilation), "group": group,
    }  # fmt: skip
    return single_node_session("ConvTranspose", "conv_transpose2d", ("C_in", "C_group", "kH", "kW"), bias, **attributes)


@transposed_implementation(
    "onnxruntime", dtypes=("float32",), output_padding_below_stride=True, unavailable=UNAVAILABLE, library="onnxruntime"
)
def onnxruntime_transposed(problem: ConvTranspose2dProblem) -> np.ndarray:
    """Run the cached session for this call's attributes on the CPU execution provider (numbers past 2**31 - 1: the
    canvas in compact form)."""
    if max(largest_number(problem), *problem.padding) > ONNXRUNTIME_INDEX_LIMIT:
        return transposed_by(onnxruntime_scatter, problem)
    run = session(
        problem.bias is not None, problem.stride, problem.padding, problem.output_padding, problem.dilation,
        problem.groups,
    )  # fmt: skip
    feeds = {"x": problem.x, "weight": problem.weight}
    if problem.bias is not None:
        feeds["bias"] = problem.bias
    (y,) = run.run(None, feeds)
    return np.array(y, order="C")


def onnxruntime_scatter(x: np.ndarray, weight: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """``ConvTranspose`` without padding: the canvas every value's taps reach."""
    run = session(False, tuple(stride), (0, 0), (0, 0), tuple(dilation), groups)
    (y,) = run.run(None, {"x": x, "weight": weight})
    return np.array(y, order="C")

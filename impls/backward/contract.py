"""The contracts of the transposed convolution and of conv2d's gradients, written once on the forward contract.

``conv_transpose2d`` and ``conv2d_backward`` have torch's semantics (``torch.nn.functional.conv_transpose2d``, and
the gradients autograd gives for ``torch.nn.functional.conv2d``). Arguments are validated with the forward contract's
helpers (:mod:`convcheck.impls.contract`) and raise its :class:`ConvArgumentError`, naming the argument and its value;
each call is normalized to a frozen problem that its implementations receive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from convcheck.impls.contract import (
    INDEX_LIMIT,
    Conv2dProblem,
    check_sizes_and_groups,
    checked_array,
    fail,
    int_pair,
    normalize,
)


def transposed_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int, extra: int) -> int:
    """The output extent of one axis of a transposed convolution:
    ``(in - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1``."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + extra + 1


@dataclass(frozen=True)
class ConvTranspose2dProblem:
    """A validated conv_transpose2d call: ``x (N, C_in, H, W)``, ``weight (C_in, C_out/groups, kH, kW)`` as given
    (any layout), ``bias (C_out,)`` or None, and the geometry as ``(h, w)`` pairs."""

    x: np.ndarray
    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int]
    padding: tuple[int, int]  # rows (columns) cropped from both ends of the full result
    output_padding: tuple[int, int]  # rows (columns) added at the bottom (right)
    groups: int
    dilation: tuple[int, int]

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """(N, C_out, H_out, W_out) by the contract's formula."""
        n, _, h, w = self.x.shape
        _, per_group, kh, kw = self.weight.shape
        sizes = (
            transposed_output_size(size, k, s, p, d, e)
            for size, k, s, p, d, e in zip(
                (h, w), (kh, kw), self.stride, self.padding, self.dilation, self.output_padding, strict=True
            )
        )
        return (n, per_group * self.groups, *sizes)


def normalize_transposed(
    x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> ConvTranspose2dProblem:
    """Validate conv_transpose2d's arguments and return the normalized problem, or raise ConvArgumentError."""
    x = checked_array("x", x, 4)
    weight = checked_array("weight", weight, 4)
    if weight.dtype != x.dtype:
        fail("weight", weight, f"dtype must match x ({x.dtype})")
    check_sizes_and_groups(x, weight, groups)
    c_in = x.shape[1]
    if c_in % groups:
        fail("groups", groups, f"must divide the input channels C_in={c_in}")
    if weight.shape[0] != c_in:
        fail("weight", weight, f"expected shape[0] == C_in = {c_in}")
    c_out = weight.shape[1] * groups
    if bias is not None:
        bias = checked_array("bias", bias, 1)
        if bias.dtype != x.dtype:
            fail("bias", bias, f"dtype must match x ({x.dtype})")
        if bias.shape != (c_out,):
            fail("bias", bias, f"expected shape ({c_out},)")
    stride = int_pair("stride", stride, 1)
    dilation = int_pair("dilation", dilation, 1)
    if isinstance(padding, str):
        fail("padding", padding, "expected an int or a pair of ints (no padding strings for conv_transpose2d)")
    padding = int_pair("padding", padding, 0)
    output_padding = int_pair("output_padding", output_padding, 0)
    for axis, name in ((0, "height"), (1, "width")):
        if output_padding[axis] >= max(stride[axis], dilation[axis]):
            fail(
                "output_padding",
                output_padding,
                f"the {name} entry must be smaller than the stride {stride[axis]} or the dilation {dilation[axis]}",
            )
    problem = ConvTranspose2dProblem(x, weight, bias, stride, padding, output_padding, int(groups), dilation)
    for axis, name in ((0, "height"), (1, "width")):
        # Each part of the output extent before the crop, then their sum, must be an index NumPy and torch hold.
        stuffed = (x.shape[2 + axis] - 1) * stride[axis] + 1
        span = dilation[axis] * (weight.shape[2 + axis] - 1) + 1
        if span > INDEX_LIMIT:
            fail("dilation", dilation, f"the dilated kernel {name} {span} exceeds 2**63 - 1")
        if stuffed > INDEX_LIMIT:
            fail("stride", stride, f"the strided input {name} {stuffed} exceeds 2**63 - 1")
        full = stuffed + span - 1 + output_padding[axis]
        if full > INDEX_LIMIT:
            name_of_larger, value = ("stride", stride) if stuffed >= span else ("dilation", dilation)
            fail(name_of_larger, value, f"the output {name} before the padding's crop, {full}, exceeds 2**63 - 1")
        if problem.output_shape[2 + axis] < 1:
            fail("padding", padding, f"the output {name} {problem.output_shape[2 + axis]} is less than 1")
    return problem


@dataclass(frozen=True)
class Conv2dBackwardProblem:
    """A validated conv2d_backward call: the forward problem (without bias) and ``grad_out`` of its output's shape."""

    grad_out: np.ndarray
    forward: Conv2dProblem

    @property
    def x(self) -> np.ndarray:
        return self.forward.x

    @property
    def weight(self) -> np.ndarray:
        return self.forward.weight


def normalize_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1) -> Conv2dBackwardProblem:
    """Validate conv2d_backward's arguments (the forward's, then ``grad_out``'s) and return the normalized problem,
    or raise ConvArgumentError."""
    forward = normalize(x, weight, None, stride, padding, dilation, groups)
    grad_out = checked_array("grad_out", grad_out, 4)
    if grad_out.dtype != forward.x.dtype:
        fail("grad_out", grad_out, f"dtype must match x ({forward.x.dtype})")
    if grad_out.shape != forward.output_shape:
        fail("grad_out", grad_out, f"expected the forward output's shape {forward.output_shape}")
    return Conv2dBackwardProblem(grad_out, forward)

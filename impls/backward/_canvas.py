"""The bookkeeping around a scatter: the canvas the windows reach, and what of it the call returns.

A scatter ``scatter(grad, weight, stride, dilation, groups, extent)`` adds ``grad[n, o, i, j] * weight[o, c]`` into
window (i, j) of a zero canvas at least ``extent`` long per axis, ``(N, C_in, ...)`` from ``grad (N, C_out, rows,
cols)`` and ``weight (C_out, C_in/groups, kH, kW)``. The transposed convolution is its canvas (with the output
padding's extra rows) cropped by the padding on both sides; the input gradient of conv2d is the canvas of the padded
input cropped by the forward padding. The textbook loop and col2im differ in the scatter only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem


def transposed_by(scatter: Callable, problem: ConvTranspose2dProblem) -> np.ndarray:
    """conv_transpose2d: every input pixel scattered by ``scatter``, the canvas cropped by the padding, plus bias."""
    _, _, h, w = problem.x.shape
    kh, kw = problem.weight.shape[2:]
    (sh, sw), (dh, dw), (eh, ew) = problem.stride, problem.dilation, problem.output_padding
    extent = ((h - 1) * sh + dh * (kh - 1) + 1 + eh, (w - 1) * sw + dw * (kw - 1) + 1 + ew)
    canvas = scatter(problem.x, problem.weight, problem.stride, problem.dilation, problem.groups, extent)
    ph, pw = problem.padding
    out = np.ascontiguousarray(canvas[:, :, ph : extent[0] - ph, pw : extent[1] - pw])
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out


def input_gradient_by(scatter: Callable, problem: Conv2dBackwardProblem) -> np.ndarray:
    """grad_x: every window's gradient scattered by ``scatter`` over the padded input, the border cropped."""
    forward = problem.forward
    top, bottom, left, right = forward.padding
    _, _, h, w = forward.x.shape
    extent = (h + top + bottom, w + left + right)
    canvas = scatter(problem.grad_out, forward.weight, forward.stride, forward.dilation, forward.groups, extent)
    return np.ascontiguousarray(canvas[:, :, top : top + h, left : left + w])

"""The textbook loops: every window's gradient scattered back to the input positions it read.

The input gradient of conv2d and the transposed convolution are one loop: for each window (each output position of
the forward convolution; each input pixel of the transposed one) its values times the kernel are added into the
positions the window covers, on a canvas as long as the windows reach, which is then cropped. The weight gradient
visits the same windows and adds ``grad_out`` times the patch each read. One Python iteration per window; inside it
the work is vectorized over batch and channels.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls.backward._canvas import input_gradient_by, transposed_by
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation

# Cost hint: one Python iteration per window; the ResNet-18 stem at batch 1 (0.24 GFLOP, 12544 windows) takes about
# 1.5 s, at batch 8 about 20 s, on a busy core.
MAX_GFLOP = 1.0


def scatter_windows(grad: np.ndarray, weight: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """Add ``grad[n, o, i, j] * weight[o, c]`` into window (i, j) of a zero canvas as long as the windows reach:
    ``grad (N, C_out, rows, cols)`` and ``weight (C_out, C_in/groups, kH, kW)`` give ``(N, C_in, ...)``."""
    n, c_out, rows, cols = grad.shape
    _, c_group, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    canvas = np.zeros((n, groups * c_group, (rows - 1) * sh + span_h, (cols - 1) * sw + span_w), dtype=grad.dtype)
    kernel = weight.reshape(groups, c_out // groups, c_group * kh * kw)
    per_group = grad.reshape(n, groups, c_out // groups, rows, cols)
    for i in range(rows):
        for j in range(cols):
            window = canvas[:, :, i * sh : i * sh + span_h : dh, j * sw : j * sw + span_w : dw]
            window += np.einsum("ngo,gok->ngk", per_group[:, :, :, i, j], kernel).reshape(window.shape)
    return canvas


@transposed_implementation("loop", max_gflop=MAX_GFLOP)
def scattered_pixels(problem: ConvTranspose2dProblem) -> np.ndarray:
    """Each input pixel, times the kernel, scattered into the output; the full result cropped by the padding."""
    return transposed_by(scatter_windows, problem)


@backward_implementation("loop", max_gflop=MAX_GFLOP)
def scattered_windows(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """grad_x: each window's gradient scattered back, the border cropped; grad_weight: grad_out times each patch
    (of the input holding only what the windows read), summed over the windows; grad_bias: grad_out summed."""
    grad = problem.grad_out
    grad_x = input_gradient_by(scatter_windows, problem)
    forward = problem.forward.tap_gathered()  # the same windows, taps and values: padding, stride, dilation small
    n = grad.shape[0]
    image = forward.padded_input()
    c_out, c_group, kh, kw = forward.weight.shape
    (sh, sw), (dh, dw), groups = forward.stride, forward.dilation, forward.groups
    grad_weight = np.zeros((groups, c_out // groups, c_group * kh * kw), dtype=grad.dtype)
    per_group = grad.reshape(n, groups, c_out // groups, *grad.shape[2:])
    for i in range(grad.shape[2]):
        for j in range(grad.shape[3]):
            patch = image[:, :, i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw]
            grad_weight += np.einsum("ngo,ngk->gok", per_group[:, :, :, i, j], patch.reshape(n, groups, -1))
    return grad_x, grad_weight.reshape(forward.weight.shape), grad.sum(axis=(0, 2, 3))

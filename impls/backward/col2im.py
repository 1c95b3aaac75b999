"""col2im: one matrix product makes every window's gradient a column, then the columns are added back per tap.

For each image and group, ``columns = W[g]^T (C_in/G * kH * kW, C_out/G) @ grad[n, g] (C_out/G, rows * cols)``:
one row per (input channel, tap), one column per window. Tap (u, v)'s rows are then added, as a strided block, into
the canvas rows and columns that tap reads, ``u*dilation + i*stride``: the scatter-add of columns. The weight gradient
is the forward im2col turned around: ``grad[g] (C_out/G, N * rows * cols) @ patches[g]^T``, with the patch matrix of
the forward convolution's windows made by :class:`convcheck.impls.im2col.Unfolder`.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls.backward._canvas import input_gradient_by, transposed_by
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.im2col import Unfolder


def scatter_columns(grad: np.ndarray, weight: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """The columns of every window by one product per image and group, added into a zero canvas tap by tap."""
    n, c_out, rows, cols = grad.shape
    _, c_group, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    per_group = c_out // groups
    transposed = weight.reshape(groups, per_group, c_group * kh * kw).transpose(0, 2, 1)
    columns = np.matmul(transposed, grad.reshape(n, groups, per_group, rows * cols))
    columns = columns.reshape(n, groups * c_group, kh, kw, rows, cols)
    height, width = (rows - 1) * sh + dh * (kh - 1) + 1, (cols - 1) * sw + dw * (kw - 1) + 1
    canvas = np.zeros((n, groups * c_group, height, width), dtype=grad.dtype)
    for u in range(kh):
        for v in range(kw):
            canvas[:, :, u * dh : u * dh + (rows - 1) * sh + 1 : sh, v * dw : v * dw + (cols - 1) * sw + 1 : sw] += (
                columns[:, :, u, v]
            )
    return canvas


@transposed_implementation("col2im")
def column_scatter(problem: ConvTranspose2dProblem) -> np.ndarray:
    """A GEMM of the kernel and the input, its columns scattered into the output, cropped by the padding."""
    return transposed_by(scatter_columns, problem)


@backward_implementation("col2im")
def column_products(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """grad_x by col2im; grad_weight as one product per group with the forward patch matrix; grad_bias summed."""
    forward, grad = problem.forward, problem.grad_out  # the Unfolder's memory follows the windows, not the padding
    n, c_out, rows, cols = grad.shape
    groups = forward.groups
    unfolder = Unfolder(forward)
    depth = forward.x.shape[1] * forward.weight.shape[2] * forward.weight.shape[3]
    block = np.empty(depth * n * rows * cols, dtype=grad.dtype)
    patches = unfolder.patches(slice(0, n), 0, rows, 0, cols, block, wide=True)  # (G, K, N * rows * cols)
    per_group = grad.reshape(n, groups, c_out // groups, rows * cols).transpose(1, 2, 0, 3)
    grad_weight = np.matmul(per_group.reshape(groups, c_out // groups, -1), patches.transpose(0, 2, 1))
    grad_x = input_gradient_by(scatter_columns, problem)
    return grad_x, grad_weight.reshape(forward.weight.shape), grad.sum(axis=(0, 2, 3))

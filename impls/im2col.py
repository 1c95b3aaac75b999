"""im2col: unfold every receptive window into a column of a patch matrix, then one matrix product per chunk.

The patch matrix is built from a strided view of the padded input (no Python loop over pixels). Its workspace is
bounded: the batch and the output rows are processed in chunks of at most ``WORKSPACE_BYTES``.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from impls.contract import Conv2dProblem
from impls.registry import implementation

WORKSPACE_BYTES = 48 * 2**20


def windows(problem: Conv2dProblem) -> np.ndarray:
    """A view (N, G, C_in/G, kH, kW, H_out, W_out) of every dilated window, stride applied."""
    image = problem.padded_input()
    n, c_in = image.shape[:2]
    kh, kw = problem.weight.shape[2:]
    (sh, sw), (dh, dw) = problem.stride, problem.dilation
    view = sliding_window_view(image, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    view = view[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, H_out, W_out, kH, kW)
    view = view.transpose(0, 1, 4, 5, 2, 3)
    return view.reshape(n, problem.groups, c_in // problem.groups, kh, kw, *view.shape[-2:])


@implementation("im2col", max_gflop=50.0)
def patch_matrix(problem: Conv2dProblem) -> np.ndarray:
    """out[n, g] = W[g] (C_out/G, K) @ patches[n, g] (K, H_out*W_out), chunked over batch and output rows."""
    view = windows(problem)
    n, groups, c_group, kh, kw, h_out, w_out = view.shape
    c_out = problem.weight.shape[0]
    depth = c_group * kh * kw
    weight = problem.weight.reshape(groups, c_out // groups, depth)
    out = np.empty((n, c_out, h_out, w_out), dtype=problem.x.dtype)
    row_bytes = groups * depth * w_out * view.itemsize
    rows = max(1, min(h_out, WORKSPACE_BYTES // row_bytes))
    items = max(1, min(n, WORKSPACE_BYTES // (row_bytes * h_out))) if rows == h_out else 1
    for first in range(0, n, items):
        for top in range(0, h_out, rows):
            chunk = view[first : first + items, ..., top : top + rows, :]
            patches = np.ascontiguousarray(chunk).reshape(chunk.shape[0], groups, depth, -1)
            product = np.matmul(weight, patches)  # (items, G, C_out/G, rows*W_out)
            out[first : first + items, :, top : top + rows, :] = product.reshape(chunk.shape[0], c_out, -1, w_out)
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out

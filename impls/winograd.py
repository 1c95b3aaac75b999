"""Winograd minimal filtering F(2x2, 3x3): each 2x2 output tile from a 4x4 input tile with 16 multiplications per
channel instead of 36.

For one input tile ``d`` (4x4) and one kernel ``g`` (3x3) the 2x2 output tile of the cross-correlation is

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* is the elementwise product)

with the constant matrices of Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks" (2016), below.
``U = G g G^T`` is computed once per kernel, ``V = B^T d B`` once per input tile, and the channel sum is taken in the
transformed domain: for each of the 16 positions of the 4x4 tile, ``M = U @ V`` is one matrix product
(C_out/G x C_in/G) @ (C_in/G x tiles). The tile transforms are single matrix products too: flattened row-major, a
4x4 tile ``t`` maps to ``L t L^T`` through the Kronecker matrix ``L (x) L``, applied to every tile at once. There
is no Python loop over pixels or tiles (only over batch chunks that bound the workspace).

Tiling: output rows ``2t, 2t+1`` come from input rows ``2t .. 2t+3`` of the padded input. The tile grid is extended
with zeros until it covers every window of the padded input, and the outputs whose 3x3 window runs into that extension
are cropped. The transforms add and subtract up to four values, so rounding error is bounded relative to the tile,
not to each output: this entry declares the normwise error model. For the same reason an infinity in the input
can turn into NaN (``inf - inf`` inside a transform), and a NaN or infinity reaches every output of its tile.
"""

import numpy as np
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import Capabilities, implementation
from numpy.lib.stride_tricks import sliding_window_view

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)
WORKSPACE_BYTES = 64 * 2**20


@implementation(
    "winograd",
    error_model="normwise",
    capabilities=Capabilities(kernel_sizes=((3, 3),), strides=(1,), dilations=(1,)),
    max_gflop=10.0,
)
def winograd_f2x2_3x3(problem: Conv2dProblem) -> np.ndarray:
    """F(2x2, 3x3) over 4x4 input tiles with step 2, channels summed in the transformed domain."""
    dtype = problem.x.dtype
    image = problem.padded_input()
    n, c_in, height, width = image.shape
    c_out, c_group = problem.weight.shape[:2]
    groups = problem.groups
    rows, cols = height - 2, width - 2  # the output positions whose 3x3 window lies inside the padded input
    tiles_h, tiles_w = -(-rows // 2), -(-cols // 2)
    grid = np.zeros((n, c_in, 2 * tiles_h + 2, 2 * tiles_w + 2), dtype=dtype)
    grid[:, :, :height, :width] = image
    # Flattened row-major, L @ t @ L^T is one product with a Kronecker matrix: vec(L t L^T) = (L (x) L) vec(t).
    input_transform = np.kron(B_T, B_T).astype(dtype)  # (16, 16)
    output_transform = np.kron(A_T, A_T).astype(dtype)  # (4, 16)

    kernel = (G @ problem.weight @ G.T).astype(dtype)  # U = G g G^T: (C_out, C_in/G, 4, 4)
    kernel = kernel.reshape(groups, c_out // groups, c_group, 16).transpose(0, 3, 1, 2)  # (G, 16, C_out/G, C_in/G)

    out = np.empty((n, c_out, 2 * tiles_h, 2 * tiles_w), dtype=dtype)
    per_item = 16 * (2 * c_in + 2 * c_out) * tiles_h * tiles_w * dtype.itemsize
    step = max(1, WORKSPACE_BYTES // per_item)
    for first in range(0, n, step):
        part = grid[first : first + step]
        items = part.shape[0]
        tiles = sliding_window_view(part, (4, 4), axis=(2, 3))[:, :, ::2, ::2]  # (n, C_in, tH, tW, 4, 4), a view
        tiles = tiles.transpose(1, 0, 2, 3, 4, 5).reshape(-1, 16)  # the one copy of the tiles, channels first
        tiles = input_transform @ tiles.T  # V = B^T d B: (16, C_in * n * tH * tW)
        tiles = tiles.reshape(16, groups, c_group, -1).transpose(1, 0, 2, 3)  # (G, 16, C_in/G, n * tH * tW)
        product = kernel @ tiles  # M = U V per transformed position: (G, 16, C_out/G, n * tH * tW)
        blocks = output_transform @ product.reshape(groups, 16, -1)  # Y = A^T M A: (G, 4, C_out/G * n * tH * tW)
        blocks = blocks.reshape(groups, 2, 2, c_out // groups, items, tiles_h, tiles_w)
        blocks = blocks.transpose(4, 0, 3, 5, 1, 6, 2)  # (n, G, C_out/G, tH, 2, tW, 2)
        out[first : first + items] = blocks.reshape(items, c_out, 2 * tiles_h, 2 * tiles_w)
    out = np.ascontiguousarray(out[:, :, :rows, :cols])
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out

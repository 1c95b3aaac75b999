"""im2col: unfold every receptive window into a column of a patch matrix, then one matrix product per chunk.

For each group ``g`` the output is ``W[g] (C_out/G, K) @ patches[g] (K, columns)``, with ``K = C_in/G * kH * kW``
rows (one per input channel and kernel tap) and one column per output pixel. The work goes in chunks (whole images,
or a band of output rows of one image) so that the workspace stays bounded and the patch block is still in cache
when the product reads it:

1. the patch block is filled by one copy per phase pair out of a window view (``sliding_window_view``) of the
   chunk's band of padded input rows, copied once with its zero border and split by phase (``row % stride``,
   ``col % stride``, only the phases some tap reads) so that every tap reads unit-stride rows; without padding and
   with stride 1 the input itself is the band, and a 1x1 kernel there needs no copy at all: the input is the patch
   matrix. Where a band would be larger than the block (strides or dilations far beyond the kernel, padding far
   beyond the input) or the kernel has one tap, taps are copied straight from ``x``, zeros where they read padding;
   either way work and memory follow the output, not the stride or the padding;
2. the product is written straight into the output layout ``(N, C_out, H_out*W_out)``, one product per image, or,
   for small images, several images share one wider product that is then scattered to its images.

The output extent is where the strided windows fit (the window starts along the padded plane), not the shared formula.
"""

from __future__ import annotations

from math import gcd

import numpy as np
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation
from numpy.lib.stride_tricks import sliding_window_view

WORKSPACE_BYTES = 48 * 2**20  # hard bound on the extra memory of one call (band + patch block + product buffer)
BLOCK_BYTES = 16 * 2**20  # preferred workspace of one chunk
TARGET_COLUMNS = 4096  # preferred product width (output pixels per chunk): narrower products run slower
CHUNK_BYTES = 8 * 2**20  # preferred patch block of a product per image (narrower products ran slower)
PER_IMAGE_COLUMNS = 256  # images of at least this many output pixels get a product each, straight into the output


def window_starts(size: int, span: int, step: int) -> range:
    """Where a window of ``span`` starts along a padded extent of ``size``, every ``step``: the output positions."""
    return range(0, size - span + 1, step)


def tap_classes(kernel: int, stride: int, dilation: int) -> list[tuple[slice, int, int, int]]:
    """Group the taps of one axis by the phase they read: ``(taps, phase, first offset, offset step)``.

    Tap ``t`` of output position ``i`` reads padded index ``i*stride + t*dilation`` = phase ``p`` (that index modulo
    ``stride``), position ``i + offset`` of the phase. Within one phase the taps form the progression ``taps``,
    with offsets ``first, first + step, ...``.
    """
    step = stride // gcd(stride, dilation)
    classes = []
    for first in range(min(step, kernel)):
        phase, offset = divmod(first * dilation, stride)[::-1]
        classes.append((slice(first, kernel, step), phase, offset, step * dilation // stride))
    return classes


class Unfolder:
    """Copies chunks of the (padded) input into patch blocks ``(G, K, images * rows * cols)``.

    Two ways to fill a block, chosen per chunk by what is smaller: through a band (the chunk's padded input, split
    by phase, one slot per phase some tap reads), or tap by tap straight from ``x``, when the band would be larger
    than the block (a stride or dilation far beyond the kernel, a padding far beyond the input) or the kernel has
    one tap. Either way the work and memory follow the chunk's outputs, not the stride or the padding.
    """

    def __init__(self, problem: Conv2dProblem):
        self.x = problem.x
        self.padding = problem.padding
        self.stride, self.dilation, self.groups = problem.stride, problem.dilation, problem.groups
        kh, kw = problem.weight.shape[2:]
        self.kernel = (kh, kw)
        dh, dw = problem.dilation
        self.span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        top, bottom, left, right = self.padding
        self.plane = (self.x.shape[2] + top + bottom, self.x.shape[3] + left + right)
        self.rows_by_phase = tap_classes(kh, self.stride[0], dh)
        self.cols_by_phase = tap_classes(kw, self.stride[1], dw)
        self.copy_input = any(self.padding) or self.stride != (1, 1)
        self.band = None  # phase-split, zero-bordered band of padded input rows, allocated on first use

    def extent(self, axis: int, first: int, count: int) -> tuple[int, int]:
        """The padded input range [start, stop) along ``axis`` (0: rows, 1: columns) that ``count`` outputs from
        output index ``first`` read."""
        start = first * self.stride[axis]
        return start, start + (count - 1) * self.stride[axis] + self.span[axis]

    def band_shape(self, images: int, rows: int, cols: int) -> tuple[int, ...]:
        """(images, C, row phases read, rows per phase, column phases read, columns per phase) of a chunk's band."""
        (sh, sw), (r0, r1), (c0, c1) = self.stride, self.extent(0, 0, rows), self.extent(1, 0, cols)
        row_phases, col_phases = len(self.rows_by_phase), len(self.cols_by_phase)
        return (images, self.x.shape[1], row_phases, -(-(r1 - r0) // sh), col_phases, -(-(c1 - c0) // sw))

    def uses_band(self, images: int, rows: int, cols: int) -> bool:
        """Whether a chunk goes through a band: only when it needs a copy and holds no more than the patch block."""
        if not self.copy_input or self.kernel == (1, 1):
            return False
        block = self.x.shape[1] * self.kernel[0] * self.kernel[1] * images * rows * cols
        return int(np.prod(self.band_shape(images, rows, cols), dtype=object)) <= block

    def band_elements(self, images: int, rows: int, cols: int) -> int:
        return int(np.prod(self.band_shape(images, rows, cols))) if self.uses_band(images, rows, cols) else 0

    def source(self, images: slice, first_row: int, rows: int, first_col: int, cols: int) -> np.ndarray:
        """The padded input a chunk reads, phase-split (a view of ``x`` when there is nothing to do)."""
        (r0, r1), (c0, c1) = self.extent(0, first_row, rows), self.extent(1, first_col, cols)
        if not self.copy_input:
            return self.x[images, :, None, r0:r1, None, c0:c1]
        shape = self.band_shape(images.stop - images.start, rows, cols)
        if self.band is None or any(have < need for have, need in zip(self.band.shape, shape, strict=True)):
            self.band = np.empty(shape, dtype=self.x.dtype)
        band = self.band[: shape[0], :, :, : shape[3], :, : shape[5]]
        (sh, sw), (top, _, left, _) = self.stride, self.padding
        height, width = self.x.shape[2:]

        def inside(start: int, phase: int, step: int, size: int, pad: int, extent: int) -> tuple[int, int]:
            # Phase entries a hold padded index start + phase + a*step, input index start + phase + a*step - pad.
            low = min(size, max(0, -(-(pad - start - phase) // step)))
            return low, max(low, min(size, -(-(pad + extent - start - phase) // step)))

        for row_slot, (_, p, _, _) in enumerate(self.rows_by_phase):  # only the phases some tap reads
            a_lo, a_hi = inside(r0, p, sh, shape[3], top, height)
            for col_slot, (_, q, _, _) in enumerate(self.cols_by_phase):
                b_lo, b_hi = inside(c0, q, sw, shape[5], left, width)
                phase = band[:, :, row_slot, :, col_slot, :]
                phase[:, :, :a_lo] = 0
                phase[:, :, a_hi:] = 0
                phase[:, :, :, :b_lo] = 0
                phase[:, :, :, b_hi:] = 0
                if a_hi > a_lo and b_hi > b_lo:
                    row, col = r0 + p + a_lo * sh - top, c0 + q + b_lo * sw - left
                    picked_rows = slice(row, row + (a_hi - a_lo - 1) * sh + 1, sh)
                    picked_cols = slice(col, col + (b_hi - b_lo - 1) * sw + 1, sw)
                    phase[:, :, a_lo:a_hi, b_lo:b_hi] = self.x[images, :, picked_rows, picked_cols]
        return band

    def reach(self, axis: int, tap: int, first: int, count: int) -> tuple[int, int, int]:
        """The outputs [a, b) of a chunk (``count`` from output ``first``) whose ``tap`` reads inside the input
        along ``axis``, and the input index output ``a`` reads."""
        stride, size = self.stride[axis], self.x.shape[2 + axis]
        offset = tap * self.dilation[axis] - self.padding[2 * axis] + first * stride  # local output j reads j*s + it
        a = min(count, max(0, -(offset // stride)))
        b = max(a, min(count, (size - 1 - offset) // stride + 1))
        return a, b, a * stride + offset

    def taps(self, images: slice, first_row: int, rows: int, first_col: int, cols: int, block: np.ndarray):
        """Fill ``block`` (images, C, kH, kW, rows, cols) tap by tap from ``x``: zeros where a tap reads padding."""
        (sh, sw), x = self.stride, self.x[images]
        for t in range(self.kernel[0]):
            a, b, row = self.reach(0, t, first_row, rows)
            for u in range(self.kernel[1]):
                c, d, col = self.reach(1, u, first_col, cols)
                target = block[:, :, t, u]
                target[:, :, :a] = 0
                target[:, :, b:] = 0
                target[:, :, a:b, :c] = 0
                target[:, :, a:b, d:] = 0
                if b > a and d > c:
                    picked = x[:, :, row : row + (b - a - 1) * sh + 1 : sh, col : col + (d - c - 1) * sw + 1 : sw]
                    target[:, :, a:b, c:d] = picked

    def patches(self, images: slice, first_row: int, rows: int, first_col: int, cols: int, out: np.ndarray, wide: bool):
        """Write the patch block of a chunk into ``out``: shaped (G, K, images * rows * cols) for one ``wide``
        product over the chunk's images, else (images, G, K, rows * cols) for one product per image."""
        count, channels = images.stop - images.start, self.x.shape[1]
        if self.kernel == (1, 1) and not self.copy_input and not wide:  # the input itself is the patch matrix
            picked = self.x[images, :, first_row : first_row + rows, first_col : first_col + cols]
            return picked.reshape(count, self.groups, -1, rows * cols)
        block = out[: channels * self.kernel[0] * self.kernel[1] * count * rows * cols]
        if wide:
            grid = block.reshape(channels, *self.kernel, count, rows, cols).transpose(3, 0, 1, 2, 4, 5)
        else:
            grid = block.reshape(count, channels, *self.kernel, rows, cols)
        if self.copy_input and not self.uses_band(count, rows, cols):
            self.taps(images, first_row, rows, first_col, cols, grid)
        else:
            band = self.source(images, first_row, rows, first_col, cols)
            for row_slot, (taps_h, _, offset_h, step_h) in enumerate(self.rows_by_phase):
                for col_slot, (taps_w, _, offset_w, step_w) in enumerate(self.cols_by_phase):
                    target = grid[:, :, taps_h, taps_w]
                    span = ((target.shape[2] - 1) * step_h + 1, (target.shape[3] - 1) * step_w + 1)
                    view = sliding_window_view(band[:, :, row_slot, :, col_slot, :], span, axis=(2, 3))
                    view = view[:, :, offset_h : offset_h + rows, offset_w : offset_w + cols, ::step_h, ::step_w]
                    np.copyto(target, view.transpose(0, 1, 4, 5, 2, 3))
        if wide:
            return block.reshape(self.groups, -1, count * rows * cols)
        return block.reshape(count, self.groups, -1, rows * cols)


def plan(n: int, h_out: int, w_out: int, bytes_of, wide: bool) -> tuple[int, int, int]:
    """Chunk sizes (images, output rows, output columns) for a workspace of ``bytes_of(images, rows, cols)``.

    A ``wide`` product (small images) takes about ``TARGET_COLUMNS`` output pixels within ``BLOCK_BYTES``; a product
    per image takes whole images, or bands of rows, of about ``CHUNK_BYTES``: a block larger than the L2 cache, since
    smaller ones (more, narrower copies and products) ran slower on the ResNet-18 layers. Never more than
    ``WORKSPACE_BYTES``.
    """
    if wide:
        images = max(1, min(n, TARGET_COLUMNS // (h_out * w_out)))
        while images > 1 and bytes_of(images, h_out, w_out) > BLOCK_BYTES:
            images -= 1
        return images, h_out, w_out
    if bytes_of(1, h_out, w_out) <= CHUNK_BYTES:
        images = n
        while images > 1 and bytes_of(images, h_out, w_out) > CHUNK_BYTES:
            images = (images + 1) // 2
        return images, h_out, w_out
    rows = h_out
    while rows > 1 and bytes_of(1, rows, w_out) > CHUNK_BYTES:
        rows = (rows + 1) // 2
    cols = w_out
    while cols > 1 and bytes_of(1, rows, cols) > WORKSPACE_BYTES:
        cols = (cols + 1) // 2
    return 1, rows, cols


@implementation("im2col", max_gflop=50.0)
def patch_matrix(problem: Conv2dProblem) -> np.ndarray:
    """out[n, g] = W[g] (C_out/G, K) @ patches[n, g] (K, H_out*W_out), chunked over images, rows and columns."""
    unfolder = Unfolder(problem)
    h_out, w_out = map(len, map(window_starts, unfolder.plane, unfolder.span, problem.stride))
    n, c_in = problem.x.shape[:2]
    c_out, c_group, kh, kw = problem.weight.shape
    groups, itemsize, per_group = problem.groups, problem.x.itemsize, c_out // problem.groups
    depth = c_group * kh * kw
    weight = np.ascontiguousarray(problem.weight).reshape(groups, per_group, depth)
    bias = None if problem.bias is None else problem.bias.reshape(groups, per_group, 1)
    out = np.empty((n, c_out, h_out, w_out), dtype=problem.x.dtype)
    columns = out.reshape(n, groups, per_group, h_out * w_out)
    wide = n > 1 and h_out * w_out < PER_IMAGE_COLUMNS  # small images: one product over several

    def workspace(images: int, rows: int, cols: int) -> int:  # patch block + product buffer + band
        band = unfolder.band_elements(images, rows, cols)
        product = c_out * images * rows * cols if wide else 0
        return int(c_in * kh * kw * images * rows * cols + product + band) * itemsize

    images, rows, cols = plan(n, h_out, w_out, workspace, wide)
    block = np.empty(c_in * kh * kw * images * rows * cols, dtype=problem.x.dtype)
    product = np.empty((groups, per_group, images * h_out * w_out), problem.x.dtype) if wide else None
    for first in range(0, n, images):
        chunk = slice(first, min(n, first + images))
        for top in range(0, h_out, rows):
            band = min(rows, h_out - top)
            for left in range(0, w_out, cols):
                width = min(cols, w_out - left)
                patches = unfolder.patches(chunk, top, band, left, width, block, wide)
                if wide:  # small images: one wide product, then scattered to (N, C_out, H_out*W_out)
                    count = chunk.stop - chunk.start
                    result = np.matmul(weight, patches, out=product[..., : patches.shape[-1]])
                    target = columns[chunk]
                    target[...] = result.reshape(groups, per_group, count, -1).transpose(2, 0, 1, 3)
                else:  # one product per image, written straight into its output rows
                    target = columns[chunk, :, :, top * w_out : (top + band) * w_out]
                    if width != w_out:  # a run of columns of one row
                        target = target[..., left : left + width]
                    np.matmul(weight, patches, out=target)
                if bias is not None:
                    target += bias
    return out

"""The reference: a direct cross-correlation in extended precision, written independently of ``impls``.

It shares no code with the implementations under test: it parses its own padding, finds its own output extent by
counting where the window fits, and accumulates tap by tap in float64 (exact products for float32 data) or
``np.longdouble`` (for float64 data). The zero border is never built: each tap reads, per axis, the one strided run of
input rows that its outputs see inside the input, so strides, paddings and dilations of any size cost nothing. Where a
group has few channels, a few taps are gathered (zeros where they read the border) and summed in one contraction, so
that each contraction has at least ``CHUNK_DEPTH`` products and a first layer or a depthwise one passes over its
output a few times rather than once a tap. In float64 each contraction is a BLAS matrix product, so the same code is
the float64 reference of layers of real networks (:mod:`convcheck.properties.scalable`).
"""

from __future__ import annotations

import numpy as np

CHUNK_DEPTH = 64  # products summed in one contraction, where a group's channels are fewer: taps gathered together
CHUNK_ELEMENTS = 2**23  # of the taps gathered for one contraction (64 MiB in float64)


def pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def explicit_padding(padding, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for an int, a pair, 'valid', 'same' (extra zero at the bottom/right) or those four."""
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(padding)
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        (kh, kw), (dh, dw) = kernel, dilation
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    ph, pw = pair(padding)
    return (ph, ph, pw, pw)


def accumulator_dtype(dtype) -> np.dtype:
    """float64 holds float32 products exactly; float64 data is referenced in long double."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float32 else np.dtype(np.longdouble)


def windows_fitting(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> int:
    """How many strided windows of the dilated kernel fit in the padded axis."""
    return len(range(0, before + size + after - dilation * (kernel - 1), stride))


def tap_reads(size: int, outputs: int, stride: int, offset: int) -> tuple[slice, slice] | None:
    """(outputs, input rows) where output ``i`` reads input row ``i * stride + offset`` inside ``[0, size)``, as two
    slices of equal length, or None when no output reads inside the input."""
    first = max(0, -(offset // stride))  # the first i with i * stride + offset >= 0
    stop = min(outputs, -((offset - size) // stride))  # the first i with i * stride + offset >= size
    if first >= stop:
        return None
    row = first * stride + offset
    return slice(first, stop), slice(row, row + (stop - first - 1) * stride + 1, stride)


def contracted(taps: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """One tap's products summed over the group's channels: ``(G, O, C)`` taps and ``(N, G, C, H, W)`` inputs give
    ``(N, G, O, H, W)``. A matrix product per (image, group) in float64 (BLAS); a plain product for one channel a
    group (depthwise: nothing to sum); ``einsum`` in long double, which BLAS does not handle."""
    n, groups, c_group, height, width = seen.shape
    if c_group == 1:
        return taps[None, :, :, :, None] * seen
    if seen.dtype != np.float64:
        return np.einsum("ngchw,goc->ngohw", seen, taps)
    product = np.matmul(taps, seen.reshape(n, groups, c_group, height * width))
    return product.reshape(n, groups, -1, height, width)


def reference_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, dtype=None) -> np.ndarray:
    """conv2d in ``dtype`` (default: :func:`accumulator_dtype` of x), tap by tap over the zero-padded input."""
    dtype = accumulator_dtype(x.dtype) if dtype is None else np.dtype(dtype)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    n, _, height, width = x.shape
    c_out, c_group, kh, kw = weight.shape
    top, bottom, left, right = explicit_padding(padding, (kh, kw), (dh, dw))
    rows = windows_fitting(height, kh, sh, dh, top, bottom)
    cols = windows_fitting(width, kw, sw, dw, left, right)
    taps = weight.astype(dtype).reshape(groups, c_out // groups, c_group, kh, kw)
    out = np.zeros((n, groups, c_out // groups, rows, cols), dtype=dtype)
    reads = []  # (u, v, the outputs it reaches, the input it reads) of each tap that reads the input
    for u in range(kh):
        if (along_h := tap_reads(height, rows, sh, u * dh - top)) is None:  # this row of taps reads only zeros
            continue
        out_h, in_h = along_h
        for v in range(kw):
            along_h = tap_reads(height, rows, sh, u * dh - top)
            along_w = tap_reads(width, cols, sw, v * dw - left)
            if along_h is not None and along_w is not None:  # else this tap reads only the zero border
                reads.append((u, v, along_h, along_w))
    per_chunk = max(1, min(CHUNK_DEPTH // c_group, CHUNK_ELEMENTS // (x.shape[0] * x.shape[1] * rows * cols)))
    for start in range(0, len(reads), per_chunk):
        chunk = reads[start : start + per_chunk]
        if len(chunk) == 1:
            u, v, (out_h, in_h), (out_w, in_w) = chunk[0]
            seen = x[:, :, in_h, in_w].astype(dtype)
            out[..., out_h, out_w] += contracted(taps[..., u, v], seen.reshape(n, groups, c_group, *seen.shape[2:]))
            continue
        gathered = np.zeros((n, groups, len(chunk), c_group, rows, cols), dtype=dtype)  # tap by tap, then channels
        for index, (_, _, (out_h, in_h), (out_w, in_w)) in enumerate(chunk):
            seen = x[:, :, in_h, in_w]
            gathered[:, :, index, :, out_h, out_w] = seen.reshape(n, groups, c_group, *seen.shape[2:])
        us, vs = [read[0] for read in chunk], [read[1] for read in chunk]
        depth = c_group * len(chunk)
        weights = np.moveaxis(taps[..., us, vs], 3, 2).reshape(groups, -1, depth)  # (G, O, taps * channels)
        out += contracted(weights, gathered.reshape(n, groups, depth, rows, cols))
    out = out.reshape(n, c_out, rows, cols)
    if bias is not None:
        out += np.asarray(bias, dtype=dtype)[:, None, None]
    return out

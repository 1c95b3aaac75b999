"""The reference: a direct cross-correlation in extended precision, written independently of ``impls``.

It shares no code with the implementations under test: it parses its own padding, finds its own output extent by
counting where the window fits, and accumulates tap by tap in float64 (exact products for float32 data) or
``np.longdouble`` (for float64 data).
"""

from __future__ import annotations

import numpy as np


def pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def explicit_padding(padding, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for an int, a pair, 'valid' or 'same' (extra zero at the bottom/right)."""
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


def reference_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, dtype=None) -> np.ndarray:
    """conv2d in ``dtype`` (default: :func:`accumulator_dtype` of x), tap by tap over the zero-padded input."""
    dtype = accumulator_dtype(x.dtype) if dtype is None else np.dtype(dtype)
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    n, c_in, height, width = x.shape
    c_out, c_group, kh, kw = weight.shape
    top, bottom, left, right = explicit_padding(padding, (kh, kw), (dh, dw))
    padded = np.zeros((n, c_in, height + top + bottom, width + left + right), dtype=dtype)
    padded[:, :, top : top + height, left : left + width] = x
    rows = len(range(0, padded.shape[2] - dh * (kh - 1), sh))
    cols = len(range(0, padded.shape[3] - dw * (kw - 1), sw))
    taps = weight.astype(dtype).reshape(groups, c_out // groups, c_group, kh, kw)
    out = np.zeros((n, groups, c_out // groups, rows, cols), dtype=dtype)
    for u in range(kh):
        for v in range(kw):
            seen = padded[:, :, u * dh :: sh, v * dw :: sw][:, :, :rows, :cols]
            seen = seen.reshape(n, groups, c_group, rows, cols)
            out += np.einsum("ngchw,goc->ngohw", seen, taps[..., u, v])
    out = out.reshape(n, c_out, rows, cols)
    if bias is not None:
        out += np.asarray(bias, dtype=dtype)[:, None, None]
    return out

"""The references of the transposed convolution and of conv2d's gradients: the forward oracle through the textbook
identities, not a second summation engine.

- The transposed convolution is a forward convolution (:func:`convcheck.properties.oracle.reference_conv2d`) of the
  input stuffed with ``stride - 1`` zeros between its values and padded with ``dilation*(k - 1) - padding`` zeros on
  both sides (negative: rows cropped) and ``output_padding`` more at the end, by the kernel flipped and its two channel
  axes swapped per group.
- The input gradient of conv2d is the same with ``grad_out`` as the input: its windows cover the padded input from
  its first row, which the forward padding then crops, and rows past the last window get nothing.
- The weight gradient is, per group, a convolution of the padded input (its channels as the batch, its batch as the
  channels) by ``grad_out`` (the same), with the stride as the dilation and the dilation as the stride; the padded
  input ends where the last window does, so the convolution has one output per tap.

Where the stuffed and padded input would be longer than the input's (value, tap) pairs and the result together (a
stride, dilation or padding far beyond the input), that axis is stuffed with ``k - 1`` zeros instead and not dilated:
each value's taps side by side, one product sum each, which are then added where they land, ``i*stride + t*dilation``
less the padding, inside the result. No array follows the stride, the dilation or the padding.

Like the forward oracle, this imports nothing from ``impls``: it parses the forward padding with the oracle's own
:func:`convcheck.properties.oracle.explicit_padding`.
"""

from __future__ import annotations

import numpy as np
from convcheck.properties.oracle import accumulator_dtype, explicit_padding, pair, reference_conv2d, tap_reads


def stuffed(x: np.ndarray, stride, before, after) -> np.ndarray:
    """``x`` with ``stride - 1`` zeros between its values along H and W, then ``before`` and ``after`` zeros at the
    two ends of each axis (a negative number crops that many rows or columns)."""
    n, c, h, w = x.shape
    (sh, sw) = stride
    out = np.zeros((n, c, (h - 1) * sh + 1, (w - 1) * sw + 1), dtype=x.dtype)
    out[:, :, ::sh, ::sw] = x
    out = np.pad(out, ((0, 0), (0, 0), *((max(b, 0), max(a, 0)) for b, a in zip(before, after, strict=True))))
    (top, left), (bottom, right) = (max(-b, 0) for b in before), (max(-a, 0) for a in after)
    return out[:, :, top : out.shape[2] - bottom, left : out.shape[3] - right]


def adjoint_kernel(weight: np.ndarray, groups: int) -> np.ndarray:
    """The forward kernel ``(C_out, C_in/groups, kH, kW)`` of a transposed convolution's ``(C_in, C_out/groups, kH,
    kW)``: the two channel axes swapped within each group, the taps flipped."""
    c_in, per_group, kh, kw = weight.shape
    swapped = weight.reshape(groups, c_in // groups, per_group, kh, kw).swapaxes(1, 2)
    return swapped.reshape(groups * per_group, c_in // groups, kh, kw)[:, :, ::-1, ::-1]


def scattered(x, weight, bias, stride, dilation, groups, before, after, dtype=None) -> np.ndarray:
    """The forward convolution of ``x`` stuffed by ``stride`` and padded by ``before``/``after`` (per axis) with the
    adjoint kernel of ``weight``: each value of ``x`` times the kernel, added where its taps land."""
    return reference_conv2d(
        stuffed(x, stride, before, after), adjoint_kernel(weight, groups), bias, dilation=dilation, groups=groups,
        dtype=dtype,
    )  # fmt: skip


def landed(sums: np.ndarray, axis: int, kernel: int, stride: int, dilation: int, offset: int, size: int) -> np.ndarray:
    """Along ``axis`` of ``sums`` (value ``i``'s tap ``t`` at ``i*kernel + t``), each sum added at
    ``i*stride + t*dilation - offset`` inside ``[0, size)``."""
    shape = list(sums.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=sums.dtype)
    values = sums.shape[axis] // kernel
    for t in range(kernel):
        reads = tap_reads(size, values, stride, t * dilation - offset)
        if reads is not None:
            (chosen, positions), before = reads, (slice(None),) * axis
            out[before + (positions,)] += np.take(sums, range(t, sums.shape[axis], kernel), axis=axis)[
                before + (chosen,)
            ]
    return out


def placed(x, weight, bias, stride, dilation, groups, offset, size, dtype=None) -> np.ndarray:
    """Each value ``i`` of ``x`` times each tap ``t`` of ``weight`` (a transposed convolution's), summed over the
    group's channels, added at ``i*stride + t*dilation - offset`` inside ``[0, size)`` per axis, plus ``bias``."""
    geometry, compact = [], []
    for values, k, s, d, first, length in zip(x.shape[2:], weight.shape[2:], stride, dilation, offset, size,
                                                strict=True):  # fmt: skip
        used = (values - 1) * s + 1  # the stuffed extent
        before, after = d * (k - 1) - first, length + first - used
        compact.append(used + max(before, 0) + max(after, 0) > values * k + length)
        geometry.append((k, 1, k - 1, k - 1) if compact[-1] else (s, d, before, after))
    strides, dilations, befores, afters = zip(*geometry, strict=True)
    out = scattered(x, weight, None, strides, dilations, groups, befores, afters, dtype)
    for axis, k, s, d, first, length in zip((0, 1), weight.shape[2:], stride, dilation, offset, size, strict=True):
        if compact[axis]:
            out = landed(out, 2 + axis, k, s, d, first, length)
    if bias is not None:
        out += np.asarray(bias, dtype=out.dtype)[:, None, None]
    return out


def reference_conv_transpose2d(
    x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, dtype=None
) -> np.ndarray:
    """conv_transpose2d in ``dtype`` (default: the oracle's accumulator for x's dtype)."""
    stride, padding, extra, dilation = pair(stride), pair(padding), pair(output_padding), pair(dilation)
    size = [
        (n - 1) * s - 2 * p + d * (k - 1) + e + 1
        for n, k, s, p, d, e in zip(x.shape[2:], weight.shape[2:], stride, padding, dilation, extra, strict=True)
    ]
    return placed(x, weight, bias, stride, dilation, groups, padding, size, dtype)


def reference_input_gradient(grad_out, weight, size, stride=1, padding=0, dilation=1, groups=1, dtype=None):
    """grad_x of conv2d for an input of ``size`` (H, W): the windows' gradients scattered back, the border cropped."""
    stride, dilation = pair(stride), pair(dilation)
    top, _, left, _ = explicit_padding(padding, weight.shape[2:], dilation)
    # The forward kernel (C_out, C_in/groups, kH, kW) is, read as a transposed convolution's, the adjoint's kernel.
    return placed(grad_out, weight, None, stride, dilation, groups, (top, left), size, dtype)


def reference_weight_gradient(grad_out, x, kernel, stride=1, padding=0, dilation=1, groups=1, dtype=None):
    """grad_weight of conv2d for a ``kernel`` (kH, kW): per group, the padded input's channels convolved with
    grad_out's, over the batch, stride and dilation swapped."""
    stride, dilation = pair(stride), pair(dilation)
    top, _, left, _ = explicit_padding(padding, kernel, dilation)
    pads, kept = [], []  # per axis: the padding up to the last window's end, and the input rows inside it
    for size, before, k, s, d, windows in zip(x.shape[2:], (top, left), kernel, stride, dilation, grad_out.shape[2:],
                                              strict=True):  # fmt: skip
        reach = (windows - 1) * s + d * (k - 1) + 1
        first = min(before, reach)
        kept.append(min(size, reach - first))
        pads += [first, reach - first - kept[-1]]
    per_group, c_group = grad_out.shape[1] // groups, x.shape[1] // groups
    if min(kept) < 1:  # every window reads the padding only
        dtype = accumulator_dtype(x.dtype) if dtype is None else np.dtype(dtype)
        return np.zeros((grad_out.shape[1], c_group, *kernel), dtype=dtype)
    image = x[:, :, : kept[0], : kept[1]]
    parts = []
    for g in range(groups):
        planes = np.swapaxes(image[:, g * c_group : (g + 1) * c_group], 0, 1)  # (C_in/G, N, H, W)
        kernels = np.swapaxes(grad_out[:, g * per_group : (g + 1) * per_group], 0, 1)  # (C_out/G, N, rows, cols)
        lags = reference_conv2d(planes, kernels, stride=dilation, padding=tuple(pads), dilation=stride, dtype=dtype)
        parts.append(np.swapaxes(lags, 0, 1))
    return np.concatenate(parts)


def reference_bias_gradient(grad_out, dtype=None) -> np.ndarray:
    """grad_bias: grad_out summed over the batch and the plane, in ``dtype``."""
    dtype = accumulator_dtype(grad_out.dtype) if dtype is None else np.dtype(dtype)
    return np.sum(grad_out.astype(dtype), axis=(0, 2, 3))

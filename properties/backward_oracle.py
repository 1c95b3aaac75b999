"""The references of the transposed convolution and of conv2d's gradients, by the textbook identities from the forward
oracle's own pieces: its contraction over channels, its runs of indices, and the oracle itself.

- The transposed convolution scatters: each value ``i`` of the input times each tap ``t`` of the kernel lands at
  ``i*stride + t*dilation - padding`` per axis (inside the output, ``output_padding`` rows more at the end); tap by
  tap, the values that land inside are contracted over the group's channels with the forward oracle's
  :func:`convcheck.properties.oracle.contracted` and added where they land
  (:func:`convcheck.properties.oracle.tap_reads`: where a run of values lands). No array follows the stride, the
  dilation or the padding, and no product is formed with a zero that a stuffed input would hold.
- The input gradient of conv2d is the same with ``grad_out`` as the input and the forward kernel read as the
  transposed one, its windows placed from the padded input's first row, which the forward padding then crops.
- The weight gradient is, per group, a forward convolution (:func:`convcheck.properties.oracle.reference_conv2d`) of
  the padded input (its channels as the batch, its batch as the channels) by ``grad_out`` (the same), with the stride
  as the dilation and the dilation as the stride; the padded input ends where the last window does, so the convolution
  has one output per tap.

Like the forward oracle, this imports nothing from ``impls``: it parses the forward padding with the oracle's own
:func:`convcheck.properties.oracle.explicit_padding`.
"""

from __future__ import annotations

import numpy as np
from convcheck.properties.oracle import (
    accumulator_dtype,
    contracted,
    explicit_padding,
    pair,
    reference_conv2d,
    tap_reads,
)


def placed(x, weight, bias, stride, dilation, groups, offset, size, dtype=None) -> np.ndarray:
    """Each value ``i`` of ``x`` times each tap ``t`` of ``weight`` (a transposed convolution's), summed over the
    group's channels, added at ``i*stride + t*dilation - offset`` inside ``[0, size)`` per axis, plus ``bias``: tap by
    tap, one contraction over the channels of the values that land inside, added where they land."""
    dtype = accumulator_dtype(x.dtype) if dtype is None else np.dtype(dtype)
    n, c_in, height, width = x.shape
    _, per_group, kh, kw = weight.shape
    c_group = c_in // groups
    values = x.astype(dtype).reshape(n, groups, c_group, height, width)
    taps = np.swapaxes(weight.astype(dtype).reshape(groups, c_group, per_group, kh, kw), 1, 2)  # (G, O, C, kH, kW)
    out = np.zeros((n, groups, per_group, *size), dtype=dtype)
    for u in range(kh):
        if (along_h := tap_reads(size[0], height, stride[0], u * dilation[0] - offset[0])) is None:
            continue
        for v in range(kw):
            if (along_w := tap_reads(size[1], width, stride[1], v * dilation[1] - offset[1])) is None:
                continue
            (rows, at_h), (cols, at_w) = along_h, along_w
            out[..., at_h, at_w] += contracted(np.ascontiguousarray(taps[..., u, v]), values[..., rows, cols])
    out = out.reshape(n, groups * per_group, *size)
    if bias is not None:
        out += np.asarray(bias, dtype=dtype)[:, None, None]
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

"""``scipy.signal.convolve2d`` and ``correlate2d`` per plane pair; strides by zero-stuffing.

The transposed convolution (and the input gradient) of one plane pair is the 'full' convolution of the input plane,
stuffed with ``stride - 1`` zeros between its values, with the kernel, stuffed with ``dilation - 1`` zeros: input
value ``i`` times tap ``t`` lands at ``i*stride + t*dilation``. The weight gradient of one plane pair is the 'valid'
correlation of each stride phase of the padded input plane with the gradient plane, read at the lags of that phase's
taps (never a stuffed zero times the input, so NaN and infinity reach only their products).
``scipy.signal`` is imported at the first call.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.backward._canvas import input_gradient_by, transposed_by
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.scipy_correlate import dilate_kernel

SCIPY_SIGNAL = Library("scipy.signal", install="scipy")
# Cost hint: one SciPy call per plane pair, whatever the kernel: on a busy core ResNet-18's 1x1 downsample at batch 8
# (8 x 64 x 128 pairs, 0.10 GFLOP) took 1.8 s transposed and 4.3 s for the gradients (0.21 GFLOP), conv5 at batch 1
# (512 x 512 pairs) 1.7 s transposed (0.23 GFLOP).
MAX_GFLOP = 0.1


def full_convolutions(planes: np.ndarray, weight: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """Per image and output plane, the sum over its group of the 'full' convolutions of the zero-stuffed planes of
    ``planes (N, C, H, W)`` with the dilated kernels of ``weight (C, C_out/groups, kH, kW)``."""
    (signal,) = SCIPY_SIGNAL.load()
    stuffed, kernels = dilate_kernel(planes, stride), dilate_kernel(weight, dilation)
    c_in, per_group = weight.shape[:2]
    c_group = c_in // groups
    out = []
    for image in stuffed:
        for o in range(per_group * groups):
            group, local = divmod(o, per_group)
            inputs = range(group * c_group, (group + 1) * c_group)
            out.append(sum(signal.convolve2d(image[c], kernels[c, local], mode="full") for c in inputs))
    return np.stack(out).reshape(len(stuffed), per_group * groups, *out[0].shape)


@transposed_implementation("scipy", max_gflop=MAX_GFLOP)
def stuffed_convolution(problem: ConvTranspose2dProblem) -> np.ndarray:
    """'full' convolutions of the zero-stuffed input, extended by the output padding, cropped by the padding."""
    return transposed_by(full_convolutions, problem)


@backward_implementation("scipy", max_gflop=MAX_GFLOP)
def phase_correlations(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """grad_x: the transposed convolution of grad_out, cropped to the input; grad_weight: 'valid' correlations of
    each stride phase of the padded input (holding only what the windows read) with grad_out, per plane pair, summed
    over the batch, read at the lags of the taps in that phase; grad_bias: grad_out summed."""
    (signal,) = SCIPY_SIGNAL.load()
    grad = problem.grad_out
    grad_x = input_gradient_by(full_convolutions, problem)
    forward = problem.forward.tap_gathered()  # the same windows, taps and values: padding, stride, dilation small
    image, (sh, sw) = forward.padded_input(), forward.stride
    c_out, c_group, kh, kw = forward.weight.shape
    per_group, (rows, cols) = c_out // forward.groups, grad.shape[2:]
    grad_weight = np.zeros(forward.weight.shape, dtype=grad.dtype)
    for (ph, pw), taps in _taps_by_phase((kh, kw), forward.dilation, (sh, sw)).items():
        last_h, last_w = max(tap[2] for tap in taps), max(tap[3] for tap in taps)
        phase = image[:, :, ph::sh, pw::sw][:, :, : last_h + rows, : last_w + cols]  # no stuffed zero: no 0 * NaN
        for o in range(c_out):
            first = (o // per_group) * c_group
            for c in range(c_group):
                lags = sum(signal.correlate2d(phase[n, first + c], grad[n, o], mode="valid") for n in range(len(grad)))
                for u, v, lag_h, lag_w in taps:
                    grad_weight[o, c, u, v] = lags[lag_h, lag_w]
    return grad_x, grad_weight, grad.sum(axis=(0, 2, 3))


def _taps_by_phase(kernel, dilation, stride) -> dict[tuple[int, int], list[tuple[int, int, int, int]]]:
    """The taps (u, v) grouped by the stride phase of the input rows and columns they read, each with its lag in
    that phase: tap ``u`` reads rows ``u*dilation + i*stride``, phase ``u*dilation % stride``."""
    taps = {}
    for u in range(kernel[0]):
        lag_h, ph = divmod(u * dilation[0], stride[0])
        for v in range(kernel[1]):
            lag_w, pw = divmod(v * dilation[1], stride[1])
            taps.setdefault((ph, pw), []).append((u, v, lag_h, lag_w))
    return taps

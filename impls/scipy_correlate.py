"""``scipy.signal.correlate2d`` per (batch item, output channel, input channel), summed over the group's inputs.

Stride is a subsampling of the stride-1 result; dilation is a zero-inserted kernel. The input holds only what the
windows read (``Conv2dProblem.tap_gathered``), so neither the stride-1 result nor the dilated kernel grows with a
stride, padding or dilation far beyond the input. ``scipy.signal`` (half a second to import) is imported at the first
call.
"""

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation

SCIPY_SIGNAL = Library("scipy.signal", install="scipy")


def dilate_kernel(weight: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """Insert ``dilation - 1`` zeros between the taps of each (kH, kW) kernel."""
    dh, dw = dilation
    c_out, c_group, kh, kw = weight.shape
    dilated = np.zeros((c_out, c_group, dh * (kh - 1) + 1, dw * (kw - 1) + 1), dtype=weight.dtype)
    dilated[:, :, ::dh, ::dw] = weight
    return dilated


@implementation("scipy", max_gflop=0.5)
def correlate(problem: Conv2dProblem) -> np.ndarray:
    """Sum single-channel 'valid' correlations of the padded input, then subsample by the stride."""
    (signal,) = SCIPY_SIGNAL.load()
    problem = problem.tap_gathered()
    image = problem.padded_input()
    kernel = dilate_kernel(problem.weight, problem.dilation)
    c_out, c_group = kernel.shape[:2]
    per_group = c_out // problem.groups
    sh, sw = problem.stride
    planes = []
    for item in image:
        for o in range(c_out):
            first = (o // per_group) * c_group
            plane = sum(signal.correlate2d(item[first + c], kernel[o, c], mode="valid") for c in range(c_group))
            planes.append(plane[::sh, ::sw])
    out = np.stack(planes).reshape(image.shape[0], c_out, *planes[0].shape)
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out

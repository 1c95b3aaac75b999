"""OpenCV's ``cv2.filter2D``, one call per (batch item, output channel, input channel) plane pair.

``filter2D`` computes cross-correlation (its documentation says so: the kernel is not mirrored). Each input plane is
bordered with zeros by ``cv2.copyMakeBorder(..., BORDER_CONSTANT)`` (top, bottom, left, right: any split), filtered
with the anchor at the kernel's first tap, ``(0, 0)``, so that output ``(i, j)`` is the window starting at ``(i, j)``,
and cut to the positions where the whole window fits. Stride is subsampling of that result; dilation is a kernel with
``dilation - 1`` zeros inserted between taps; a group's output channel sums the planes of its input channels.

Error model: **normwise**. ``filter2D`` switches from direct summation to a DFT-based correlation for large kernels
(the documentation says "~11 x 11 or larger"). Measured with this build, by where integer data stop giving exact
results: a kernel area (of the zero-inserted kernel, so dilation counts) of 130 taps or more for float32 and of 50
or more for float64 goes through the DFT; below, the result is an exact-summation one. Both paths are inside the
contract, so the model that holds for every call is the normwise one.

OpenCV is imported at the first call, not with the registry.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation

OPENCV = Library("cv2", install="opencv-python-headless")
UNAVAILABLE = OPENCV.unavailable()


def dilated(weight: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    """The kernel with ``dilation - 1`` zeros between neighbouring taps, shape ``(..., d*(k-1)+1, ...)``."""
    dh, dw = dilation
    kh, kw = weight.shape[2:]
    spread = np.zeros((*weight.shape[:2], dh * (kh - 1) + 1, dw * (kw - 1) + 1), dtype=weight.dtype)
    spread[:, :, ::dh, ::dw] = weight
    return spread


@implementation(
    "opencv", error_model="normwise", max_gflop=0.2, unavailable=UNAVAILABLE, library="opencv-python-headless"
)
def opencv_filter2d(problem: Conv2dProblem) -> np.ndarray:
    """Sum over input channels of ``filter2D(bordered plane, kernel)``, subsampled by the stride. The border and the
    subsampling are this adapter's, so it first reduces the input to what the windows read (a stride or padding of
    hundreds then costs what the output costs)."""
    (cv2,) = OPENCV.load()
    problem = problem.tap_gathered()
    top, bottom, left, right = problem.padding
    kernels = dilated(problem.weight, problem.dilation)
    c_out, c_group, span_h, span_w = kernels.shape
    sh, sw = problem.stride
    per_group = c_out // problem.groups
    planes = [
        [cv2.copyMakeBorder(np.ascontiguousarray(plane), top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
         for plane in item]
        for item in problem.x
    ]  # fmt: skip
    height, width = planes[0][0].shape
    rows, cols = height - span_h + 1, width - span_w + 1  # where the whole window fits
    out = []
    for item in planes:
        for o in range(c_out):
            first = o // per_group * c_group
            total = sum(
                cv2.filter2D(item[first + j], -1, kernels[o, j], anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
                for j in range(c_group)
            )
            total = total[:rows:sh, :cols:sw]
            out.append(total if problem.bias is None else total + problem.bias[o])
    n = len(planes)
    return np.ascontiguousarray(np.stack(out).reshape(n, c_out, *out[0].shape))

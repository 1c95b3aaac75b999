"""The textbook sliding window: visit every place the kernel fits and write ``sum(patch * kernel)``.

One Python iteration per output position; inside it the work is vectorized over batch and channels only. The input
holds only what the windows read (``Conv2dProblem.tap_gathered``), so a huge stride, padding or dilation costs no
more than the output.
"""

import numpy as np
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation


@implementation("loop", max_gflop=1.0)
def sliding_window(problem: Conv2dProblem) -> np.ndarray:
    """Slide the (dilated) kernel over the padded input with the given stride."""
    problem = problem.tap_gathered()
    image = problem.padded_input()
    n, _, height, width = image.shape
    c_out, c_group, kh, kw = problem.weight.shape
    (sh, sw), (dh, dw), groups = problem.stride, problem.dilation, problem.groups
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    tops = range(0, height - span_h + 1, sh)  # every row where the window still fits
    lefts = range(0, width - span_w + 1, sw)
    kernel = problem.weight.reshape(1, groups, c_out // groups, c_group, kh, kw)
    out = np.empty((n, c_out, len(tops), len(lefts)), dtype=image.dtype)
    for i, top in enumerate(tops):
        for j, left in enumerate(lefts):
            patch = image[:, :, top : top + span_h : dh, left : left + span_w : dw]
            patch = patch.reshape(n, groups, 1, c_group, kh, kw)
            out[:, :, i, j] = np.sum(patch * kernel, axis=(3, 4, 5)).reshape(n, c_out)
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out

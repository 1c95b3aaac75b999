"""``np.einsum`` over the windows of the padded input, one contraction per kernel tap.

The windows are a strided view of the padded input (``sliding_window_view``: every place the dilated kernel fits,
stride applied, then every ``dilation``-th tap), so the input is never copied into a patch matrix and the output
extent is the number of windows the view holds. Written out, the convolution is one index expression,

    out[n, g, o, h, w] = sum over c, i, j of  windows[n, g, c, h, w, i, j] * weight[g, o, c, i, j]

and this module evaluates it tap by tap: for each kernel position ``(i, j)`` the slice ``windows[..., i, j]``
is an ordinary (N, G, C_in/G, H_out, W_out) view, contracted over its channels by ``np.einsum`` and accumulated.
The extra memory is one output-sized contribution per tap, never the K-times-larger patch matrix. Every output is a
plain sum of its K products (in another order than ``loop``), so the exact-summation error model applies.
"""

import numpy as np
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation
from numpy.lib.stride_tricks import sliding_window_view


def tap_windows(problem: Conv2dProblem) -> np.ndarray:
    """A view (N, G, C_in/G, H_out, W_out, kH, kW) of the padded input: one strided window per output position.

    The input holds only what the windows read (``Conv2dProblem.tap_gathered``), so the padded plane is never larger
    than the windows, whatever the stride, padding or dilation.
    """
    problem = problem.tap_gathered()
    image = problem.padded_input()
    n, c_in = image.shape[:2]
    kh, kw = problem.weight.shape[2:]
    (sh, sw), (dh, dw) = problem.stride, problem.dilation
    view = sliding_window_view(image, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    view = view[:, :, ::sh, ::sw, ::dh, ::dw]
    return view.reshape(n, problem.groups, c_in // problem.groups, *view.shape[2:])


@implementation("einsum", max_gflop=20.0)
def einsum_windows(problem: Conv2dProblem) -> np.ndarray:
    """Accumulate, over the kernel taps (i, j), the channel contraction of the windows' (i, j) slice."""
    view = tap_windows(problem)
    n, groups, c_group, h_out, w_out, kh, kw = view.shape
    c_out = problem.weight.shape[0]
    weight = problem.weight.reshape(groups, c_out // groups, c_group, kh, kw)
    out = np.zeros((n, groups, c_out // groups, h_out, w_out), dtype=problem.x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("ngchw,goc->ngohw", view[..., i, j], weight[..., i, j], optimize=True)
    out = out.reshape(n, c_out, h_out, w_out)
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out

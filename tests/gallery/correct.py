"""Correct conv2d callables written differently from every registered implementation.

The property suite must not flag them: a correct result computed in another precision or another summation order is
still correct. Each has the contract's signature, validates with the shared contract and reads only what the windows
read (``Conv2dProblem.tap_gathered``), so that extreme strides and paddings cost what the output costs.
"""

import numpy as np
from convcheck.impls import Conv2dProblem, normalize
from convcheck.impls.scipy_correlate import dilate_kernel
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import fftconvolve


def einsum_float64(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Every dilated window as a float64 view, contracted with the kernel by one einsum, rounded to x's dtype."""
    problem = normalize(x, weight, bias, stride, padding, dilation, groups).tap_gathered()
    (sh, sw), (dh, dw), g = problem.stride, problem.dilation, problem.groups
    c_out, c_group, kh, kw = weight.shape
    image = problem.padded_input().astype(np.float64)
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    taps = sliding_window_view(image, spans, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]  # N, C, Ho, Wo, kH, kW
    taps = taps.reshape(taps.shape[0], g, c_group, *taps.shape[2:])
    kernel = weight.astype(np.float64).reshape(g, c_out // g, c_group, kh, kw)
    out = np.einsum("ngcyxij,gocij->ngoyx", taps, kernel).reshape(taps.shape[0], c_out, *taps.shape[3:5])
    if bias is not None:
        out += bias.astype(np.float64)[:, None, None]
    return np.ascontiguousarray(out, dtype=x.dtype)


einsum_float64.max_gflop = 0.5  # its cost hint: one einsum, not BLAS (ResNet-18's 3x3 on 7x7 planes: 0.23 in 0.5 s)


def direct_sum(problem: Conv2dProblem, accumulator=None, reverse: bool = True) -> np.ndarray:
    """Start from the bias and add one kernel tap at a time (last tap first when ``reverse``) in ``accumulator``
    (default: x's dtype); each tap is a strided slice of the padded input contracted over the group's channels."""
    dtype = np.dtype(accumulator or problem.x.dtype)
    image = problem.padded_input().astype(dtype, copy=False)
    n, _, height, width = image.shape
    c_out, c_group, kh, kw = problem.weight.shape
    (sh, sw), (dh, dw), g = problem.stride, problem.dilation, problem.groups
    rows, cols = (height - dh * (kh - 1) - 1) // sh + 1, (width - dw * (kw - 1) - 1) // sw + 1
    kernel = problem.weight.astype(dtype).reshape(g, c_out // g, c_group, kh, kw)
    out = np.zeros((n, g, c_out // g, rows, cols), dtype=dtype)
    if problem.bias is not None:
        out += problem.bias.astype(dtype).reshape(1, g, c_out // g, 1, 1)
    order = [(i, j) for i in range(kh) for j in range(kw)]
    for i, j in reversed(order) if reverse else order:
        seen = image[:, :, i * dh : i * dh + (rows - 1) * sh + 1 : sh, j * dw : j * dw + (cols - 1) * sw + 1 : sw]
        out += np.einsum("ngcyx,goc->ngoyx", seen.reshape(n, g, c_group, rows, cols), kernel[..., i, j])
    return out.reshape(n, c_out, rows, cols).astype(problem.x.dtype)


def reversed_taps(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A direct sum in x's own dtype, bias first and the kernel taps from the last to the first."""
    return direct_sum(normalize(x, weight, bias, stride, padding, dilation, groups).tap_gathered())


def fft_per_channel(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``scipy.signal.fftconvolve`` of each padded input plane with its flipped, dilated kernel ('valid' mode) in
    x's precision, summed over the group's channels, then strided: a transform method, declared normwise."""
    problem = normalize(x, weight, bias, stride, padding, dilation, groups).tap_gathered()
    image = problem.padded_input()
    kernel = dilate_kernel(problem.weight, problem.dilation)[:, :, ::-1, ::-1]
    c_out, c_group = kernel.shape[:2]
    per_group = c_out // problem.groups
    sh, sw = problem.stride
    out = np.stack(
        [
            np.stack(
                [
                    sum(
                        fftconvolve(item[o // per_group * c_group + c], kernel[o, c], mode="valid")
                        for c in range(c_group)
                    )
                    for o in range(c_out)
                ]
            )
            for item in image
        ]
    )[:, :, ::sh, ::sw]
    if bias is not None:
        out = out + bias[:, None, None]
    return np.ascontiguousarray(out, dtype=x.dtype)


fft_per_channel.error_model = "normwise"
fft_per_channel.max_gflop = 0.05  # its cost hint: a transform per plane pair (262144 pairs of 7x7 planes: 18 s)


def tensordot_windows(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``np.tensordot`` of the window view with the kernel over (channel, row, column): one BLAS product in float32.
    It declares float32 and groups=1 only, so the suite must keep to that and skip the rest."""
    problem = normalize(x, weight, bias, stride, padding, dilation, groups).tap_gathered()
    (sh, sw), (dh, dw) = problem.stride, problem.dilation
    kh, kw = weight.shape[2:]
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(problem.padded_input(), spans, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    out = np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)  # N, C_out, H_out, W_out
    if bias is not None:
        out = out + bias[:, None, None]
    return np.ascontiguousarray(out)


tensordot_windows.capabilities = {"dtypes": ("float32",), "groups": False}


def square_int_layer(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A layer in the style of course code: one stride, one dilation and one zero-padding int, no padding strings, no
    groups (all declared, anything else is a TypeError); the windows gathered by fancy indexing, one einsum."""
    normalize(x, weight, bias, stride, padding, dilation, groups)  # the contract's errors come first
    for name, value in (("stride", stride), ("padding", padding), ("dilation", dilation), ("groups", groups)):
        if not isinstance(value, int) or (name == "groups" and value != 1):
            raise TypeError(f"{name}={value!r}: this layer takes one int (groups=1)")
    (h, w), (kh, kw) = x.shape[2:], weight.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    w_out = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    rows = stride * np.arange(h_out)[:, None] + dilation * np.arange(kh)  # (H_out, kH)
    cols = stride * np.arange(w_out)[:, None] + dilation * np.arange(kw)  # (W_out, kW)
    patches = padded[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # N, C, H_out, W_out, kH, kW
    out = np.einsum("nchwij,fcij->nfhw", patches, weight)
    if bias is not None:
        out += bias[:, None, None]
    return np.ascontiguousarray(out)


square_int_layer.capabilities = {
    "square_strides": True,
    "square_dilations": True,
    "int_padding": True,
    "padding_strings": (),
    "groups": False,
}


def textbook(x, weight, bias, stride, padding, pads_per_axis: int = 2) -> np.ndarray:
    """A student's conv2d, as a course writes it: checks its own arguments, pads with ``np.pad``, and slides the
    window with two loops, ``sum(patch * kernel)`` per output channel. ``pads_per_axis``: how many times the output
    size counts the padding (2, the formula's ``2 * pad``)."""
    for name, value in (("stride", stride), ("padding", padding)):
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "stride" else 0):
            raise ValueError(f"{name}={value!r}: expected an int >= {1 if name == 'stride' else 0}")
    if not (isinstance(x, np.ndarray) and isinstance(weight, np.ndarray) and x.ndim == weight.ndim == 4):
        raise ValueError("x and weight: expected 4-D numpy arrays")
    if x.dtype not in (np.float32, np.float64) or weight.dtype != x.dtype:
        raise ValueError(f"x.dtype={x.dtype}, weight.dtype={weight.dtype}: expected one float dtype")
    (n, c_in, h, w), (c_out, c_w, kh, kw) = x.shape, weight.shape
    if c_w != c_in or min(n, c_in, h, w, c_out) < 1:
        raise ValueError(f"weight.shape={weight.shape} does not fit x.shape={x.shape}")
    if bias is not None and (not isinstance(bias, np.ndarray) or bias.shape != (c_out,) or bias.dtype != x.dtype):
        raise ValueError(f"bias: expected shape ({c_out},) of {x.dtype}")
    if max(stride, padding) > 2**63 - 1 or kh > h + 2 * padding or kw > w + 2 * padding:
        raise ValueError(f"stride={stride}, padding={padding}: the kernel does not fit the padded input")
    h_out = (h + pads_per_axis * padding - kh) // stride + 1
    w_out = (w + pads_per_axis * padding - kw) // stride + 1
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n, c_out, h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[:, None, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = (patch * weight[None]).sum(axis=(2, 3, 4))
    if bias is not None:
        out += bias[:, None, None]
    return out


TEXTBOOK_DECLARATION = {"square_strides": True, "int_padding": True, "dilations": (1,), "groups": False}


def textbook_int_only(x, weight, bias=None, stride=1, padding=0):
    """A correct student conv2d: one int stride and padding, no dilation and no groups parameter (declared)."""
    return textbook(x, weight, bias, stride, padding)


textbook_int_only.capabilities = TEXTBOOK_DECLARATION

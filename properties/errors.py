"""The error model: how far a correct implementation may be from the exact result, element by element.

Elementwise (``exact-summation``). An output is ``b + sum of K products`` (K = C_in/groups * kH * kW). Each product
is rounded once and the K+1 terms are added in some order; whatever the order (recursive, pairwise, blocked, FMA),
every term passes through at most K additions, so (Higham, *Accuracy and Stability*, 2nd ed., eq. 3.4 and 4.3)

    |y - y_exact| <= gamma_{K+1} * (|x| * |w| + |b|),    gamma_m = m*u / (1 - m*u),

with u the unit roundoff (2**-24 for float32, 2**-53 for float64) and ``|x| * |w|`` the convolution of absolute
values. We use ``c * (K+1) * u`` with **c = 2**: 2*m*u >= gamma_m whenever m*u <= 1/2, which holds for every
shape this suite draws (m = K+1 <= 25089, VGG's fc6 as a 7x7 convolution: m*u < 0.0015 in float32), and it also
covers a final rounding of a wider accumulator. A float16 accumulator (u = 2**-11), a dropped term or a wrong tap
is orders of magnitude outside it. The reference's own error (float64 or long double: the same bound in its unit
roundoff) is added to the bound, and an absolute term ``(K+1) * tiny`` covers products that underflow into the
subnormal range.

Normwise (``normwise``: FFT, Winograd). Transform methods spread rounding over a whole plane, so an output near zero
may carry error proportional to the plane's size rather than its own terms. For each output plane (n, c_out) we add

    C_NORMWISE * u * (log2(P) + 1) * sum_ci ||x_padded[n, ci]||_2 * ||w[c_out, ci]||_2

to the elementwise bound, with P the padded plane's size: an FFT of size P has normwise error growing with
log2(P) (Higham, ch. 24); Winograd's transforms add constant factors of the same kind. C_NORMWISE = 8 covers the
radix-2 and real-input transforms' constants. These implementations are exempt from bitwise exactness.
"""

from __future__ import annotations

import math

import numpy as np
from convcheck.properties.oracle import accumulator_dtype, explicit_padding, pair, reference_conv2d

C_ELEMENTWISE = 2
C_NORMWISE = 8


def unit_roundoff(dtype) -> float:
    return float(np.finfo(dtype).eps) / 2


def terms_per_output(weight: np.ndarray) -> int:
    """K = C_in/groups * kH * kW: the products summed into one output."""
    return int(np.prod(weight.shape[1:]))


def elementwise_bound(x, weight, bias=None, groups=1, reference_dtype=None, **geometry) -> np.ndarray:
    """c*(K+1)*u*(|x| * |w| + |b|) plus the error of a reference computed in ``reference_dtype`` (default: the
    oracle's, :func:`accumulator_dtype`) and an underflow term, per output element."""
    k = terms_per_output(weight)
    reference_dtype = accumulator_dtype(x.dtype) if reference_dtype is None else np.dtype(reference_dtype)
    magnitude = reference_conv2d(
        np.abs(x), np.abs(weight), None if bias is None else np.abs(bias), groups=groups, dtype=reference_dtype,
        **geometry,
    ).astype(np.float64)  # fmt: skip
    return sum_bound(magnitude, k, x.dtype, reference_dtype)


def sum_bound(magnitude: np.ndarray, terms: int, dtype, reference_dtype) -> np.ndarray:
    """c*(terms+1)*(u + u_reference)*magnitude plus the underflow term: the bound of a sum of ``terms`` products and
    a bias whose absolute values sum to ``magnitude``, computed in ``dtype`` and referenced in ``reference_dtype``."""
    u, u_reference = unit_roundoff(dtype), unit_roundoff(reference_dtype)
    tiny = float(np.finfo(dtype).smallest_subnormal)
    return (C_ELEMENTWISE * (terms + 1) * (u + u_reference)) * magnitude + (terms + 1) * tiny


def normwise_term(x, weight, groups=1, padding=0, dilation=1, **_) -> np.ndarray:
    """C_NORMWISE * u * (log2(P) + 1) * sum_ci ||x_padded[n, ci]|| ||w[o, ci]||, shaped (N, C_out, 1, 1)."""
    top, bottom, left, right = explicit_padding(padding, weight.shape[2:], pair(dilation))
    plane = (x.shape[2] + top + bottom) * (x.shape[3] + left + right)
    x_norms = np.sqrt(np.sum(np.square(x, dtype=np.float64), axis=(2, 3)))  # (N, C_in)
    w_norms = np.sqrt(np.sum(np.square(weight, dtype=np.float64), axis=(2, 3)))  # (C_out, C_in/groups)
    c_out, c_group = w_norms.shape
    x_norms = x_norms.reshape(x.shape[0], groups, 1, c_group)
    per_plane = np.sum(x_norms * w_norms.reshape(1, groups, c_out // groups, c_group), axis=-1)
    scale = C_NORMWISE * unit_roundoff(x.dtype) * (math.log2(plane) + 1)  # plane may exceed int64
    return (scale * per_plane).reshape(x.shape[0], c_out, 1, 1)


def error_bound(error_model: str, x, weight, bias=None, reference_dtype=None, **geometry) -> np.ndarray:
    """The allowed difference from a reference computed in ``reference_dtype`` (default: the oracle's) per output
    element under the named error model."""
    bound = elementwise_bound(x, weight, bias, reference_dtype=reference_dtype, **geometry)
    if error_model == "normwise":
        bound = bound + normwise_term(x, weight, **geometry)
    return bound


def reference_and_bound(error_model: str, x, weight, bias=None, reference_dtype=None, **geometry):
    """The oracle's result (in ``reference_dtype``, default the oracle's) and :func:`error_bound`, from one pass of
    the reference: x and |x| side by side as twice the groups, with kernels w and |w|, so that a result and its
    magnitude share the reference's work."""
    groups = geometry.pop("groups", 1)
    dtype = accumulator_dtype(x.dtype) if reference_dtype is None else np.dtype(reference_dtype)
    both = reference_conv2d(
        np.concatenate([x, np.abs(x)], axis=1), np.concatenate([weight, np.abs(weight)]),
        None if bias is None else np.concatenate([bias, np.abs(bias)]), groups=2 * groups, dtype=dtype, **geometry,
    )  # fmt: skip
    c_out = weight.shape[0]
    bound = sum_bound(both[:, c_out:].astype(np.float64), terms_per_output(weight), x.dtype, dtype)
    if error_model == "normwise":
        bound = bound + normwise_term(x, weight, groups=groups, **geometry)
    return np.ascontiguousarray(both[:, :c_out]), bound


def is_exact_data(x, weight, bias=None) -> bool:
    """Small integers: every product and partial sum is representable, so exact summation is bitwise exact."""
    k = terms_per_output(weight)
    arrays = [a for a in (x, weight, bias) if a is not None]
    if not all(np.all(np.isfinite(a)) and np.all(a == np.round(a)) for a in arrays):
        return False
    largest = float(np.max(np.abs(x))) * float(np.max(np.abs(weight))) * k
    largest += 0.0 if bias is None else float(np.max(np.abs(bias)))
    return largest < 2 ** (np.finfo(x.dtype).nmant + 1)

"""The reference that scales to layers of real networks: float64 with BLAS, and a bound that includes its own rounding.

The extended-precision oracle (:mod:`convcheck.properties.oracle`, long double for float64 data) judges the small drawn
cases; a real layer (hundreds of channels, planes of 224x224, batches of 64) needs BLAS. The same tap-by-tap code in
float64 makes each tap's channel contraction one matrix product, and:

- **small-integer data** (``|x|, |w| <= 3``): every partial sum is an integer far below 2**53, so the float64 result
  is exact at any size this suite runs (K = C_in/groups * kH * kW up to 25088 gives sums below 2**18); an
  exact-summation entry, whose own float32 partial sums stay below 2**24, must match it bitwise;
- **float data**, and normwise entries on any data: the error model's bound (:mod:`convcheck.properties.errors`) with
  the reference's own rounding, ``gamma_{K+1}`` in float64, added to the implementation's.

The GEMM rows of the benchmarks are checked the same way (:func:`product_reference`), and so are the transposed
convolution and conv2d's gradients (:func:`transposed_reference`, :func:`gradient_reference`): the references of
:mod:`convcheck.properties.backward_oracle` in float64, the bounds of :mod:`convcheck.properties.backward_errors` with
the float64 reference's rounding.
"""

from __future__ import annotations

import numpy as np
from convcheck.properties.backward_errors import GRADIENT_BOUNDS, transposed_bound
from convcheck.properties.backward_oracle import (
    reference_bias_gradient,
    reference_conv_transpose2d,
    reference_input_gradient,
    reference_weight_gradient,
)
from convcheck.properties.errors import is_exact_data, reference_and_bound, sum_bound
from convcheck.properties.oracle import reference_conv2d

REFERENCE_DTYPE = np.dtype(np.float64)


def reference(error_model: str, x, weight, bias=None, **geometry) -> tuple[np.ndarray, np.ndarray | float]:
    """The float64 result of the call and the allowed difference from it: 0 (bitwise) for an exact-summation entry
    on small-integer data, else the entry's error bound plus the reference's rounding."""
    if error_model == "exact-summation" and is_exact_data(x, weight, bias):
        return reference_conv2d(x, weight, bias, dtype=REFERENCE_DTYPE, **geometry), 0.0
    return reference_and_bound(error_model, x, weight, bias, reference_dtype=REFERENCE_DTYPE, **geometry)


def check_name(bound) -> str:
    """How a result was checked: bitwise, or within the bound."""
    return "bitwise" if np.isscalar(bound) and bound == 0 else "within the error bound"


def product_reference(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a @ b`` in float64 and the allowed difference of a product computed in ``a``'s dtype (each output is a sum
    of K = ``a.shape[-1]`` products: the exact-summation bound, with the reference's rounding)."""
    wide_a, wide_b = a.astype(REFERENCE_DTYPE), b.astype(REFERENCE_DTYPE)
    magnitude = np.abs(wide_a) @ np.abs(wide_b)
    return wide_a @ wide_b, sum_bound(magnitude, a.shape[-1], a.dtype, REFERENCE_DTYPE)


def transposed_reference(x, weight, bias=None, **geometry) -> tuple[np.ndarray, np.ndarray]:
    """conv_transpose2d in float64 and the allowed difference from it (zero on exact data: bitwise)."""
    expected = reference_conv_transpose2d(x, weight, bias, dtype=REFERENCE_DTYPE, **geometry)
    return expected, transposed_bound(x, weight, bias, reference_dtype=REFERENCE_DTYPE, **geometry)


GRADIENTS = ("grad_x", "grad_weight", "grad_bias")  # conv2d_backward's results, in order


def gradient_reference(gradient: str, grad_out, x, weight, **geometry) -> tuple[np.ndarray, np.ndarray]:
    """One of conv2d's gradients (a name of ``GRADIENTS``) in float64 and the allowed difference from it."""
    if gradient == "grad_x":
        expected = reference_input_gradient(grad_out, weight, x.shape[2:], dtype=REFERENCE_DTYPE, **geometry)
    elif gradient == "grad_weight":
        expected = reference_weight_gradient(grad_out, x, weight.shape[2:], dtype=REFERENCE_DTYPE, **geometry)
    elif gradient == "grad_bias":
        expected = reference_bias_gradient(grad_out, dtype=REFERENCE_DTYPE)
    else:
        raise ValueError(f"gradient={gradient!r}: expected one of {GRADIENTS}")
    bound = GRADIENT_BOUNDS[GRADIENTS.index(gradient)](grad_out, x, weight, reference_dtype=REFERENCE_DTYPE, **geometry)
    return expected, bound

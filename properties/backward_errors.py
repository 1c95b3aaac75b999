"""The error model of the transposed convolution and of conv2d's gradients: the forward's elementwise bound
(:func:`convcheck.properties.errors.sum_bound`) applied to the number of products each output really sums.

Every output of these calls is a sum of products (and, for the transposed convolution, a bias):

- an output of the transposed convolution (and of the input gradient) sums ``x[n, c, i, j] * w[c, o, u, v]`` over
  the input channels of its group and the (pixel, tap) pairs that land on it, ``i*stride + u*dilation - padding``:
  fewer than ``C_in/groups * kH * kW`` where the stride skips taps;
- an output of the weight gradient sums ``grad_out * x`` over the batch and the windows whose tap reads the input,
  not the padding;
- an output of the bias gradient sums ``N * H_out * W_out`` values of ``grad_out``.

Any implementation forms those m products (each rounded once) and adds them in some order, whatever else it adds: a
product with a stuffed or padded zero, or a column col2im never reads, is an exact zero and adds exactly. So Higham's
bound holds with m = that count (plus one for a bias): ``|y - y_exact| <= c*(m + 1)*u*(|a| * |b| + |bias|)``, the
forward's constant c = 2, plus the reference's own rounding in its unit roundoff. The count of each output is its
reference evaluated on ones (an exact small integer), the magnitude its reference on absolute values. On small-integer
data whose partial sums stay below 2**(mantissa + 1) every order is exact: the bound is 0 (bitwise).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from convcheck.impls.backward import transposed_output_size
from convcheck.properties.backward_oracle import (
    reference_bias_gradient,
    reference_conv_transpose2d,
    reference_input_gradient,
    reference_weight_gradient,
)
from convcheck.properties.errors import sum_bound
from convcheck.properties.oracle import accumulator_dtype


def is_exact(arrays, largest_sum: float, dtype) -> bool:
    """Integer-valued, finite ``arrays`` whose every partial sum, at most ``largest_sum``, is representable."""
    integral = all(np.all(np.isfinite(a)) and np.all(a == np.round(a)) for a in arrays)
    return bool(integral and largest_sum < 2 ** (np.finfo(dtype).nmant + 1))


def products_bound(
    reference: Callable, shape: tuple[int, ...], a: np.ndarray, b: np.ndarray, bias=None, reference_dtype=None
) -> np.ndarray:
    """The bound of each output of ``reference(a, b, bias, dtype=...)`` (of ``shape``), a sum of products of ``a``
    and ``b`` values (plus ``bias``): zero where the data are exact, else c*(m+1)*(u + u_reference)*magnitude (m: its
    products), for a reference computed in ``reference_dtype`` (default: the oracle's accumulator)."""
    dtype = a.dtype
    reference_dtype = accumulator_dtype(dtype) if reference_dtype is None else np.dtype(reference_dtype)
    arrays = [v for v in (a, b, bias) if v is not None]
    largest = float(np.max(np.abs(a))) * float(np.max(np.abs(b)))
    largest_bias = 0.0 if bias is None else float(np.max(np.abs(bias)))
    # An output pairs each value of ``a`` with one value of ``b`` at most, so it sums at most a.size products: where
    # that is exact already, each output's count (a pass of the reference) is not needed.
    if is_exact(arrays, largest * a.size + largest_bias, dtype):
        return np.zeros(shape)
    terms = reference(np.ones(a.shape), np.ones(b.shape), None, dtype=np.float64)
    if is_exact(arrays, largest * float(np.max(terms, initial=0)) + largest_bias, dtype):
        return np.zeros(shape)
    absolute = None if bias is None else np.abs(bias)
    magnitude = reference(np.abs(a), np.abs(b), absolute, dtype=reference_dtype).astype(np.float64)
    return sum_bound(magnitude, terms, dtype, reference_dtype)


def transposed_shape(x, weight, geometry) -> tuple[int, ...]:
    """The contract's output shape of conv_transpose2d(x, weight, **geometry)."""
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "output_padding": 0}
    pairs = (np.broadcast_to(geometry.get(key, default), 2) for key, default in defaults.items())
    sizes = [int(transposed_output_size(*axis)) for axis in zip(x.shape[2:], weight.shape[2:], *pairs, strict=True)]
    return (x.shape[0], weight.shape[1] * geometry.get("groups", 1), *sizes)


def transposed_bound(x, weight, bias=None, reference_dtype=None, **geometry) -> np.ndarray:
    """The allowed difference of each output of conv_transpose2d from a reference in ``reference_dtype``."""

    def reference(a, b, c, dtype):
        return reference_conv_transpose2d(a, b, c, dtype=dtype, **geometry)

    return products_bound(reference, transposed_shape(x, weight, geometry), x, weight, bias, reference_dtype)


def input_gradient_bound(grad_out, x, weight, reference_dtype=None, **geometry) -> np.ndarray:
    """The allowed difference of each value of grad_x from a reference in ``reference_dtype``."""

    def reference(a, b, _, dtype):
        return reference_input_gradient(a, b, x.shape[2:], dtype=dtype, **geometry)

    return products_bound(reference, x.shape, grad_out, weight, None, reference_dtype)


def weight_gradient_bound(grad_out, x, weight, reference_dtype=None, **geometry) -> np.ndarray:
    """The allowed difference of each value of grad_weight from a reference in ``reference_dtype``."""

    def reference(a, b, _, dtype):
        return reference_weight_gradient(a, b, weight.shape[2:], dtype=dtype, **geometry)

    return products_bound(reference, weight.shape, grad_out, x, None, reference_dtype)


def bias_gradient_bound(grad_out, x, weight, reference_dtype=None, **geometry) -> np.ndarray:
    """The allowed difference of each value of grad_bias (a sum of grad_out's values, products by one) from a
    reference in ``reference_dtype``."""

    def reference(a, _b, _c, dtype):
        return reference_bias_gradient(a, dtype=dtype)

    ones = np.ones(1, dtype=grad_out.dtype)
    return products_bound(reference, weight.shape[:1], grad_out, ones, None, reference_dtype)


GRADIENT_BOUNDS = (input_gradient_bound, weight_gradient_bound, bias_gradient_bound)  # of conv2d_backward's results


def backward_bounds(grad_out, x, weight, **geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The allowed differences of (grad_x, grad_weight, grad_bias) from the exact gradients."""
    return tuple(bound(grad_out, x, weight, **geometry) for bound in GRADIENT_BOUNDS)

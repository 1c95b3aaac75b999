"""Central differences of ``L = <conv2d(x, w, b), g>`` with the float64 forward oracle, and their rounding bound: a
cross-check of the gradients that uses neither the backward references nor the entry's forward.

``L`` is affine in each of x, w and b, so the central difference ``D = (L(p + h v) - L(p - h v)) / (2h)`` along a
direction ``v`` of the arguments ``p = (x, w, b)`` has no truncation error at any step h: in exact arithmetic it is
the directional derivative, ``<conv2d(v_x, w) + conv2d(x, v_w) + v_b, g>`` for a direction in one argument. What is
left is rounding. With u = 2**-53, c = 2 (the forward model's constant, ``errors.C_ELEMENTWISE``: 2*m*u bounds
gamma_m and absorbs the second-order terms), K the products of one forward output, M the forward outputs and

    P = <conv2d(|x| + h|v_x|, |w| + h|v_w|) + |b| + h|v_b|, |g|>,

each step of the computed ``D`` adds at most (Higham, *Accuracy and Stability*, 2nd ed., 3.1 and 3.5):

- rounding the perturbed arguments, ``fl(p +- h v)``: relative u of each, through the forward and the inner product
  at most u*P for each sign;
- the float64 forward: c*(K+1)*u of its magnitude per output, so c*(K+1)*u*P for each sign;
- the inner product with g, M products: c*M*u*P for each sign;
- the difference of the two sides, u*|D|; the division by 2h is exact (h a power of two).

Together: ``|D - D_exact| <= (u + c*(K+1+M)*u) * P / h + u*|D|``: the bound grows as the step shrinks (the
cancellation in the difference), so the step is drawn as a power of two 2**-k to test the model where it is tight and
where it is loose. The other side, ``<gradient, v>`` in float64 from the entry's gradient, is within ``<bound, |v|>``
(the gradient's own error bound) plus c*M_v*u*<|gradient|, |v|> of the exact value.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from convcheck.properties.errors import C_ELEMENTWISE, unit_roundoff
from convcheck.properties.oracle import reference_conv2d
from hypothesis import strategies as st

U = unit_roundoff(np.float64)
STEP_EXPONENTS = st.integers(0, 10)  # the step 2**-k of a central difference (its bound grows as 2**k)


class Estimate(NamedTuple):
    """A number computed in floating point and how far it may be from the exact value."""

    value: float
    bound: float


def inner_product(a: np.ndarray, b: np.ndarray, error_of_a=0.0) -> Estimate:
    """``<a, b>`` in float64, where each element of ``a`` is within ``error_of_a`` of its exact value."""
    error = np.broadcast_to(np.asarray(error_of_a, dtype=np.float64), np.shape(a)).ravel()
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    magnitude = float(np.dot(np.abs(a), np.abs(b)))
    return Estimate(float(np.dot(a, b)), float(np.dot(error, np.abs(b))) + C_ELEMENTWISE * a.size * U * magnitude)


def shifted(arrays, direction, step: float):
    """``arrays + step * direction`` in float64, element by element (None stays None: no bias)."""
    return [None if a is None else a.astype(np.float64) + step * d for a, d in zip(arrays, direction, strict=True)]


def central_difference(arrays, direction, grad_out, step: float, **geometry) -> Estimate:
    """The central difference of ``<conv2d(x, w, b), grad_out>`` at ``arrays`` = (x, w, b) along ``direction`` (an
    array, or zeros, for each) with the float64 oracle, and its rounding bound (the module's error model)."""
    g = np.asarray(grad_out, dtype=np.float64).ravel()
    ends = [
        np.dot(reference_conv2d(*shifted(arrays, direction, s), **geometry, dtype=np.float64).ravel(), g)
        for s in (step, -step)
    ]
    value = float(ends[0] - ends[1]) / (2 * step)
    magnitudes = [
        None if a is None else np.abs(a.astype(np.float64)) + step * np.abs(d)
        for a, d in zip(arrays, direction, strict=True)
    ]
    reached = reference_conv2d(*magnitudes, **geometry, dtype=np.float64)
    size = float(np.dot(reached.ravel(), np.abs(g)))
    terms = int(np.prod(arrays[1].shape[1:])) + 1 + reached.size  # K + 1 (a forward output) + M (the outputs)
    return Estimate(value, (U + C_ELEMENTWISE * terms * U) * size / step + U * abs(value))


def disagreement(left: Estimate, right: Estimate) -> str | None:
    """None when the two estimates of one number can be equal, else what differs and by how much."""
    gap, allowed = abs(left.value - right.value), left.bound + right.bound
    return None if gap <= allowed else f"differ by {gap:.6g} > {allowed:.6g} (the two rounding bounds)"

"""Where IEEE arithmetic sends NaN and infinity through a sum of products, whatever the summation order.

A sum of products ``p * q`` is NaN if one product is NaN (a NaN times a nonzero) or if +inf and -inf products meet,
and otherwise the infinity of its infinite products' sign. A NaN or an infinity times zero is NaN if it is computed
and nothing if it is skipped (as BLAS kernels and sparse loops do): callers allow NaN there.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def propagation_classes(reaches: Callable, p: np.ndarray, q: np.ndarray):
    """(must be NaN, must be +inf, must be -inf) for each output of a sum of products of ``p`` and ``q`` values, where
    ``reaches(a, b)`` marks the outputs that sum a product of a marked ``p`` value and a marked ``q`` value (called
    only where both are marked somewhere)."""

    def reaches_any(a, b):
        return reaches(a, b) if a.any() and b.any() else np.False_

    gets_nan = reaches_any(np.isnan(p), q != 0) | reaches_any(p != 0, np.isnan(q))  # NaN != 0: NaN meets NaN too
    gets_pinf = reaches_any(np.isposinf(p), q > 0) | reaches_any(np.isneginf(p), q < 0)
    gets_pinf |= reaches_any(p > 0, np.isposinf(q)) | reaches_any(p < 0, np.isneginf(q))
    gets_ninf = reaches_any(np.isposinf(p), q < 0) | reaches_any(np.isneginf(p), q > 0)
    gets_ninf |= reaches_any(p > 0, np.isneginf(q)) | reaches_any(p < 0, np.isposinf(q))
    must_nan = gets_nan | (gets_pinf & gets_ninf)
    return must_nan, gets_pinf & ~must_nan, gets_ninf & ~must_nan


def expected_with_non_finite(finite_expected: np.ndarray, classes) -> np.ndarray:
    """The finite data's expected result with the outputs of ``classes`` (must be NaN, +inf, -inf) set to them."""
    must_nan, must_pinf, must_ninf = classes
    return np.where(must_nan, np.nan, np.where(must_pinf, np.inf, np.where(must_ninf, -np.inf, finite_expected)))


def finite_part(array: np.ndarray) -> np.ndarray:
    """``array`` with its NaN and infinities set to zero."""
    return np.where(np.isfinite(array), array, 0).astype(array.dtype)

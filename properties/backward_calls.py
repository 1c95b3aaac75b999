"""The two calls as the laws that hold for both see them: a case's operands, the entry's checked results, the
references and their bounds, written once per call (:data:`TRANSPOSED_CALL`, :data:`BACKWARD_CALL`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from convcheck.impls.backward import BACKWARD, TRANSPOSED
from convcheck.properties.backward_cases import GRADIENTS, GradientCase, called, checked_gradients, failure
from convcheck.properties.backward_errors import backward_bounds, transposed_bound, transposed_shape
from convcheck.properties.backward_oracle import (
    reference_bias_gradient,
    reference_conv_transpose2d,
    reference_input_gradient,
    reference_weight_gradient,
)


def transposed_output(entry, case: GradientCase, arguments, geometry) -> np.ndarray:
    """The entry's conv_transpose2d of ``arguments`` = (x, weight, bias), checked to be an array of the contract's
    shape (so that no law trips over a wrong one)."""
    __tracebackhide__ = True
    out, wanted = called(entry, case, arguments, geometry), transposed_shape(*arguments[:2], geometry)
    if np.shape(out) != wanted:
        raise failure(entry, case, "conv_transpose2d: output shape", f"out.shape={np.shape(out)}, not {wanted}")
    return out


def transposed(entry, case: GradientCase, arguments, geometry) -> tuple[np.ndarray, np.ndarray]:
    """The entry's checked conv_transpose2d of ``arguments`` = (x, weight, bias) and its error bound."""
    __tracebackhide__ = True
    return transposed_output(entry, case, arguments, geometry), transposed_bound(*arguments, **geometry)


def backward_references(arrays, geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The oracle's (grad_x, grad_weight, grad_bias) of ``arrays`` = (grad_out, x, weight)."""
    grad_out, x, weight = arrays
    return (
        reference_input_gradient(grad_out, weight, x.shape[2:], **geometry),
        reference_weight_gradient(grad_out, x, weight.shape[2:], **geometry),
        reference_bias_gradient(grad_out),
    )


@dataclass(frozen=True)
class GradientCall:
    """One call as a law sees it: the names of its operands and results, and, all as tuples in those orders, a
    case's fresh operands with the geometry keywords, the entry's results (checked to be arrays of the right shapes),
    the references and their error bounds."""

    operation: str
    operand_names: tuple[str, ...]
    result_names: tuple[str, ...]
    operands: Callable[[GradientCase], tuple[tuple, dict]]
    results: Callable[..., tuple[np.ndarray, ...]]  # (entry, case, arrays, geometry)
    references: Callable[[tuple, dict], tuple[np.ndarray, ...]]
    bounds: Callable[[tuple, dict], tuple[np.ndarray, ...]]


TRANSPOSED_CALL = GradientCall(
    TRANSPOSED, ("x", "weight", "bias"), ("out",), GradientCase.transposed_call,
    lambda entry, case, arrays, geometry: (transposed_output(entry, case, arrays, geometry),),
    lambda arrays, geometry: (reference_conv_transpose2d(*arrays, **geometry),),
    lambda arrays, geometry: (transposed_bound(*arrays, **geometry),),
)  # fmt: skip
BACKWARD_CALL = GradientCall(
    BACKWARD, ("grad_out", "x", "weight"), GRADIENTS, GradientCase.backward_call, checked_gradients,
    backward_references, lambda arrays, geometry: backward_bounds(*arrays, **geometry),
)  # fmt: skip

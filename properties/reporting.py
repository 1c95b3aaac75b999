"""Assertions whose failure messages find the bug: which implementation, which configuration, which output index,
both values, the bound, and a copy-pasteable reproduction."""

from __future__ import annotations

import numpy as np
from hypothesis import event

from properties.strategies import ConvCase


def implementation_lines(impl) -> list[str]:
    """Python lines that obtain ``impl`` as ``conv2d`` in a fresh interpreter."""
    if ":" in impl.origin:
        return ["from impls.registry import load_spec", f'conv2d = load_spec("{impl.name}={impl.origin}")']
    if impl.origin.startswith("impls."):
        return ["from impls import REGISTRY", f'conv2d = REGISTRY["{impl.name}"]']
    return [f"conv2d = ...  # the callable checked as {impl.name!r} ({impl.origin})"]


def reproduction(impl, case: ConvCase) -> str:
    lines = [
        *implementation_lines(impl),
        "from properties.strategies import ConvCase",
        f"case = {case.code()}",
        "x, weight, bias = case.arrays()",
        "out = conv2d(x, weight, bias, **case.geometry())",
    ]
    return "\n".join("    " + line for line in lines)


def failure(what: str, detail: str, impl, case: ConvCase | None, call: str | None = None) -> AssertionError:
    text = f"{what}: {detail} [{impl.name}]"
    if case is not None:
        text += f"\n  case: {case.descriptor()}\n  reproduce:\n{reproduction(impl, case)}"
    if call:
        text += f"\n  the check compares with: {call}"
    return AssertionError(text)


def assert_shape(actual: np.ndarray, expected_shape, what: str, impl, case: ConvCase) -> None:
    __tracebackhide__ = True
    if not isinstance(actual, np.ndarray):
        raise failure(what, f"returned {type(actual).__name__}, but should return numpy.ndarray", impl, case)
    if tuple(actual.shape) != tuple(expected_shape):
        raise failure(what, f"out.shape={tuple(actual.shape)}, but should be {tuple(expected_shape)}", impl, case)


def assert_close(actual, expected, bound, what: str, impl, case: ConvCase, compared_with: str | None = None) -> None:
    """|actual - expected| <= bound elementwise (bound 0: bitwise equal); NaN must meet NaN, inf the same inf."""
    __tracebackhide__ = True
    assert_shape(actual, np.shape(expected), what, impl, case)
    expected = np.asarray(expected)
    wide = np.result_type(expected.dtype, np.float64)
    got = actual.astype(wide)
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs(got - expected.astype(wide))
    same_special = (np.isnan(got) & np.isnan(expected)) | (np.isinf(got) & (got == expected))
    difference = np.where(same_special, 0, np.where(np.isnan(difference), np.inf, difference))
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), difference.shape)
    outside = difference > bound
    if not outside.any():
        return
    excess = np.where(outside, difference / np.maximum(bound, np.finfo(np.float64).tiny), -np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    detail = (
        f"out[{', '.join(map(str, worst))}] = {actual[worst]!r}, but should be {expected[worst]!r} "
        f"(|difference| {float(difference[worst]):.3g} > bound {float(bound[worst]):.3g}; "
        f"{int(outside.sum())} of {outside.size} outputs outside the bound)"
    )
    raise failure(what, detail, impl, case, compared_with)


def evidence(expected: np.ndarray) -> str:
    """How much an example's expected output can show: weak when mostly zero or all equal."""
    values = np.asarray(expected)
    if values.size > 1 and np.all(values == values.flat[0]):
        return "weak evidence: every output equal"
    if np.mean(values == 0) > 0.5:
        return "weak evidence: most outputs zero"
    return "evidence: varied outputs"


def record_evidence(expected: np.ndarray) -> None:
    """Tag the example for ``--hypothesis-show-statistics``."""
    event(evidence(expected))

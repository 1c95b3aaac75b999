"""Assertions of the property checks: the result's kind and shape, and closeness within an error bound (bitwise
where the bound is zero), each raising a :class:`PropertyFailure` that names the worst output."""

from __future__ import annotations

import functools

import numpy as np
from convcheck.properties.cases import ConvCase
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.hints import likely_cause
from convcheck.properties.watching import watching
from hypothesis import currently_in_test_context, event


def assert_shape(actual, expected_shape, what: str, impl, case: ConvCase | None) -> None:
    __tracebackhide__ = True
    if not isinstance(actual, np.ndarray):
        raise PropertyFailure(what, f"returned {type(actual).__name__}, but should return numpy.ndarray", impl, case)
    if actual.dtype.kind != "f":
        raise PropertyFailure(what, f"out.dtype={actual.dtype}, but should be a float dtype (the input's)", impl, case)
    if tuple(actual.shape) != tuple(expected_shape):
        failure = PropertyFailure(
            what, f"out.shape={tuple(actual.shape)}, but should be {tuple(expected_shape)}", impl, case
        )
        failure.wrong_shape = tuple(actual.shape)
        raise failure


def bound_text(bound: float, dtype) -> str:
    """A bound below the smallest normal number only covers underflow: for a person, that is 'exact'."""
    return "exact" if bound < np.finfo(dtype).tiny else f"bound {bound:.3g}"


def assert_close(actual, expected, bound, what: str, impl, case: ConvCase | None, compared_with: str | None = None):
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
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        excess = np.where(outside, difference / np.maximum(bound, np.finfo(np.float64).tiny), -np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    dtype = actual.dtype if actual.dtype.kind == "f" else np.float64
    allowed = bound_text(float(bound[worst]), dtype)
    comparison = "" if allowed == "exact" else f"|difference| {float(difference[worst]):.3g} > "
    lines = [f"worst: out[{', '.join(map(str, worst))}] = {actual[worst]}, expected {expected[worst]} "
             f"({comparison}{allowed})"]  # fmt: skip
    if compared_with:
        lines.append(f"expected: {compared_with}")
    hint = None
    if isinstance(case, ConvCase):
        hint = functools.partial(_watched_likely_cause, impl, case)
    detail = f"{int(outside.sum())} of {outside.size} outputs outside the bound"
    raise PropertyFailure(what, detail, impl, case, lines, hint)


def _watched_likely_cause(impl, case: ConvCase) -> str | None:
    """The hint of a failure (computed once, when the report is first printed, in the test's process): its calls of
    the implementation are watched like the check's own, so a crash or a hang in them is reported as such."""
    with watching(impl.name, f"the likely-cause comparison of {case.descriptor()}"):
        return likely_cause(impl, case)


def evidence(expected: np.ndarray) -> str:
    """How much an example's expected output can show: weak when mostly zero or all equal."""
    values = np.asarray(expected)
    if values.size > 1 and np.all(values == values.flat[0]):
        return "weak evidence: every output equal"
    if np.mean(values == 0) > 0.5:
        return "weak evidence: most outputs zero"
    return "evidence: varied outputs"


def record_evidence(expected: np.ndarray) -> None:
    """Tag the example for ``--hypothesis-show-statistics`` (nothing when a check is replayed outside Hypothesis)."""
    if currently_in_test_context():
        event(evidence(expected))

"""Failures that find the bug on one screen: what was checked, the worst output with both values and the bound, how
many outputs are outside it, the case in one line, its data when small, a likely cause, and code that reproduces it.

Every failure is a :class:`PropertyFailure`; its attributes ``law``, ``case``, ``reproduce`` and ``invalid`` are also
what machine-readable reports record. Property checks are plain functions decorated with :func:`reproducible`, so a
failure's reproduction is one call of the same check, which fails the same way in a fresh interpreter.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import numpy as np
from hypothesis import currently_in_test_context, event
from hypothesis.control import current_build_context

from impls.signature import where
from properties.hints import explain_command, likely_cause, shape_cause
from properties.invalid_calls import InvalidCall
from properties.simplify import simplest
from properties.strategies import ConvCase

DATA_SIZE = 32  # small-integer arrays up to this many elements are shown in the report


class PropertyFailure(AssertionError):
    """A broken property of one implementation.

    ``law``: what was checked; ``case``: the call's one-line descriptor (or None); ``reproduce``: code that fails the
    same way (or None); ``invalid``: the invalid-argument class, for a call that should have been refused (or None).
    """

    def __init__(self, law: str, detail: str, impl, subject=None, lines=(), hint=None):
        super().__init__(law)
        self.law, self.detail, self.implementation = law, detail, impl.name
        self.lines = list(lines)
        self.subject = subject  # the ConvCase or InvalidCall the check called with, if any
        self.drawn: ConvCase | None = None  # the case Hypothesis found, where ``subject`` is its simplification
        self.reproduce: str | None = None
        self._hint = hint  # a callable giving the likely cause (or None), evaluated only when printed
        self.wrong_shape: tuple[int, ...] | None = None  # the result's shape, where it is not the contract's
        self.arguments: str | None = None  # the check's arguments in one line, for a check called without a case

    @property
    def case(self) -> str | None:
        return self.arguments if self.subject is None else self.subject.descriptor()

    @property
    def invalid(self) -> str | None:
        return self.subject.kind if isinstance(self.subject, InvalidCall) else None

    @functools.cached_property
    def hint(self) -> str | None:
        try:
            if self.wrong_shape is not None and isinstance(self.subject, ConvCase):
                return shape_cause(self.subject, self.wrong_shape)
            return self._hint() if self._hint else None
        except Exception:  # a hint is a courtesy: it never hides the failure
            return None

    def __str__(self) -> str:
        text = [f"{self.law} [{self.implementation}]: {self.detail}", *(f"  {line}" for line in self.lines)]
        if self.case:
            text.append(f"  case: {self.case}")
        if self.drawn is not None:
            text.append(f"  simplified from the drawn case: {self.drawn.descriptor()}")
        if isinstance(self.subject, ConvCase) and data_shown(self.subject):
            text.append(f"  data: {data_shown(self.subject)}")
        if self.hint:
            text.append(f"  hint: {self.hint}")
        if self.wrong_shape is not None and isinstance(self.subject, ConvCase):
            text.append(f"  the arithmetic: {explain_command(self.subject)}")
        if self.reproduce:
            text += ["  reproduce:", *(f"    {line}" for line in self.reproduce.splitlines())]
        return "\n".join(text)


def data_shown(case: ConvCase) -> str:
    """The values of a small small-integer case, e.g. ``x=[[[[2]]]], weight=[[[[0, 1]]]]``; empty otherwise."""
    if case.values != "int" or any(shape and np.prod(shape) > DATA_SIZE for shape in case.shapes()):
        return ""
    arrays = zip(("x", "weight", "bias"), case.arrays(), strict=True)
    return ", ".join(f"{name}={array.astype(int).tolist()}" for name, array in arrays if array is not None)


# --- reproductions ------------------------------------------------------------------------------------------------


def implementation_lines(impl, variable: str = "conv2d") -> list[str]:
    """Python lines that obtain ``impl`` as ``variable`` in a fresh interpreter."""
    if ":" in impl.origin:
        root = import_root(impl.origin.partition(":")[0])
        path = f", path={root!r}" if root else ""
        return ["from impls.registry import load_spec", f'{variable} = load_spec("{impl.name}={impl.origin}"{path})']
    if impl.origin.startswith("impls."):
        return ["from impls import REGISTRY", f'{variable} = REGISTRY["{impl.name}"]']
    return [f"{variable} = ...  # the callable checked as {impl.name!r} ({impl.origin})"]


def import_root(module_name: str) -> str | None:
    """The folder that module ``module_name`` (already imported) was imported from, so that a reproduction imports
    it from any working directory; None for a module of an installed package."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if file is None or "site-packages" in Path(file).parts:
        return None
    root = Path(file).resolve().parent
    if Path(file).name == "__init__.py":
        root = root.parent
    for _ in range(module_name.count(".")):
        root = root.parent
    return str(root)


def code_of(value) -> str:
    """Python source for a check's argument: cases and calls as their code, NaN and infinities spelled out."""
    if isinstance(value, (ConvCase, InvalidCall)):
        return value.code()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return f'float("{value}")'
    if isinstance(value, (tuple, list)):
        items = ", ".join(code_of(v) for v in value) + ("," if isinstance(value, tuple) and len(value) == 1 else "")
        return f"({items})" if isinstance(value, tuple) else f"[{items}]"
    return repr(value)


def reproduction(check, impl, arguments: dict) -> str:
    """``check(conv2d, **arguments)`` as code to paste into Python, from any folder."""
    lines = implementation_lines(impl)
    sources = {name: code_of(value) for name, value in arguments.items() if not hasattr(value, "capabilities")}
    for name, module in (("ConvCase", "properties.strategies"), ("InvalidCall", "properties.invalid_calls")):
        if any(f"{name}(" in code or f"{name}." in code for code in sources.values()):
            lines.append(f"from {module} import {name}")
    lines.append(f"from {check.__module__} import {check.__name__}")
    passed = []
    for name, value in arguments.items():
        if hasattr(value, "capabilities"):  # another registry entry
            lines += implementation_lines(value, name)
            passed.append(f"{name}={name}")
        elif isinstance(value, (ConvCase, InvalidCall)):
            lines.append(f"{name} = {sources[name]}")
            passed.append(f"{name}={name}")
        else:
            passed.append(f"{name}={sources[name]}")
    lines.append(f"{check.__name__}({', '.join(['conv2d', *passed])})")
    return "\n".join(dict.fromkeys(lines))  # each import once


def reproducible(check):
    """Make ``check(impl, **arguments)`` give its failures a reproduction: the same call of the same check.

    A failure raised without a case (a crash inside a helper) gets the check's case here. On Hypothesis's final
    replay of a falsifying example, the case is first simplified further (:mod:`properties.simplify`).
    """

    def attempt(impl, **arguments):
        __tracebackhide__ = True
        try:
            return check(impl, **arguments)
        except PropertyFailure as failure:
            if failure.subject is None:
                failure.subject = next((a for a in arguments.values() if isinstance(a, (ConvCase, InvalidCall))), None)
            if failure.subject is None:  # a lab, a stack of layers: the check's own arguments are the case
                failure.arguments = ", ".join(f"{key}={code_of(value)}" for key, value in arguments.items())
            raise

    @functools.wraps(check)
    def run(impl, **arguments):
        __tracebackhide__ = True
        try:
            return attempt(impl, **arguments)
        except PropertyFailure as failure:
            if final_replay():
                drawn = failure.subject
                arguments, failure = simplest(attempt, impl, arguments, failure, PropertyFailure)
                if failure.subject != drawn and isinstance(drawn, ConvCase):
                    failure.drawn = drawn
            failure.reproduce = reproduction(run, impl, arguments)
            raise failure from None

    return run


def final_replay() -> bool:
    """Whether Hypothesis is replaying the falsifying example it will report (not while it searches or shrinks)."""
    if not currently_in_test_context():
        return False
    return bool(getattr(current_build_context(), "is_final", False))


# --- assertions ---------------------------------------------------------------------------------------------------


def crashed(impl, error: Exception) -> PropertyFailure:
    """An exception from ``impl`` on a call inside the contract."""
    return PropertyFailure("valid calls return a result", f"raised {error!r} on a valid call (at {where(error)})", impl)


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
        hint = functools.partial(likely_cause, impl, case)
    detail = f"{int(outside.sum())} of {outside.size} outputs outside the bound"
    raise PropertyFailure(what, detail, impl, case, lines, hint)


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

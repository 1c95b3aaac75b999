"""Reproductions: a failure's code to paste into Python, from any folder, which fails the same way.

Property checks are plain functions decorated with :func:`reproducible`, so a failure's reproduction is one call of
the same check; on Hypothesis's final replay the case is first simplified further
(:mod:`convcheck.properties.simplify`).
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import numpy as np
from convcheck.properties.cases import ConvCase
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.invalid_calls import InvalidCall
from convcheck.properties.simplify import simplest
from hypothesis import currently_in_test_context
from hypothesis.control import current_build_context


def implementation_lines(impl, variable: str = "conv2d") -> list[str]:
    """Python lines that obtain ``impl`` as ``variable`` in a fresh interpreter."""
    if ":" in impl.origin:
        root = import_root(impl.origin.partition(":")[0])
        path = f", path={root!r}" if root else ""
        return [
            "from convcheck.impls.registry import load_spec",
            f'{variable} = load_spec("{impl.name}={impl.origin}"{path})',
        ]
    if impl.origin.startswith("impls."):
        return ["from convcheck.impls import REGISTRY", f'{variable} = REGISTRY["{impl.name}"]']
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
    for name, module in (
        ("ConvCase", "convcheck.properties.cases"),
        ("InvalidCall", "convcheck.properties.invalid_calls"),
    ):
        if any(f"{name}(" in code or f"{name}." in code for code in sources.values()):
            lines.append(f"from {module} import {name}")
    module = check.__module__  # in a checkout pytest imports the suite's modules as properties.*
    lines.append(f"from {'convcheck.' if module.startswith('properties.') else ''}{module} import {check.__name__}")
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
    replay of a falsifying example, the case is first simplified further (:mod:`convcheck.properties.simplify`).
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

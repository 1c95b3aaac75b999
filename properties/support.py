"""Calling implementations from properties: declared capabilities, example budgets, and the allowed difference."""

from __future__ import annotations

import pytest
from convcheck.impls import UnsupportedConfiguration, normalize
from convcheck.properties.assertions import assert_shape
from convcheck.properties.errors import error_bound, is_exact_data
from convcheck.properties.failures import PropertyFailure, crashed
from convcheck.properties.watching import describe_call, watching


def examples(factor: float) -> pytest.MarkDecorator:
    """Run ``factor`` times the run's profile's example count (so every profile scales together); the plug-in
    applies it when the test runs, from the profile of that run."""
    return pytest.mark.examples(factor)


def call_or_skip(impl, x, weight, bias=None, **geometry):
    """Call ``impl``, skipping (with the reason) a configuration outside its declared capabilities.

    Any exception from a call inside the contract is a failure of the implementation (the check that called gives
    it its case and reproduction); refusing a declared capability is one too, not a skip; so is a result that is not
    a float array of the contract's shape (checked here, so that no property trips over it).
    """
    __tracebackhide__ = True
    problem = normalize(x, weight, bias, **geometry)
    reason = impl.capabilities.why_unsupported(problem, geometry)
    if reason:
        pytest.skip(f"{impl.name}: {reason} (declared)")
    try:
        with watching(impl.name, describe_call(x, weight, bias, geometry)):
            out = impl(x, weight, bias, **geometry)
    except UnsupportedConfiguration as error:
        raise PropertyFailure("declared capabilities", f"refused a configuration it declares: {error}", impl) from None
    except Exception as error:
        raise crashed(impl, error) from None
    assert_shape(out, problem.output_shape, "output shape", impl, None)  # so that no check trips on a wrong result
    return out


def require(impl, condition: bool, reason: str) -> None:
    """Skip a property whose configurations ``impl`` does not declare (decided before any example is drawn)."""
    if not condition:
        pytest.skip(f"{impl.name}: {reason} (declared)")


def allowed_difference(entries, x, weight, bias=None, **geometry):
    """How far results of ``entries`` on these inputs may differ from the exact one, or from each other.

    Zero (bitwise) when the data are small integers and every entry is ``exact-summation``; otherwise the sum of
    the entries' error bounds (each is within its bound of the exact result, so two are within the sum).
    """
    models = [entry.error_model for entry in entries]
    if is_exact_data(x, weight, bias) and all(model.exact_on_integers for model in models):
        return 0.0
    return sum(error_bound(model, x, weight, bias, **geometry) for model in models)


def supports_value(values: tuple[int, ...] | None, wanted) -> bool:
    return values is None or any(wanted(v) for v in values)

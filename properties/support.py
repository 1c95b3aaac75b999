"""Calling an implementation from a property: skip visibly what it does not declare, never what it does."""

import pytest

from impls import UnsupportedConfiguration, normalize


def call_or_skip(impl, x, weight, bias=None, **geometry):
    """Call ``impl``, skipping (with the reason) a configuration outside its declared capabilities."""
    reason = impl.capabilities.why_unsupported(normalize(x, weight, bias, **geometry))
    if reason:
        pytest.skip(f"{impl.name}: {reason} (declared)")
    try:
        return impl(x, weight, bias, **geometry)
    except UnsupportedConfiguration as error:  # refusing a declared capability is a failure, not a skip
        pytest.fail(f"{impl.name} refused a configuration it declares: {error}")

"""Which entry a collected property test checks, and the key that tells entries of different calls apart."""

from __future__ import annotations

from convcheck.impls.signature import CONV2D


def call_of(entry) -> str:
    """The call an entry implements: a ``GradientEntry``'s operation, else conv2d."""
    return getattr(entry, "operation", CONV2D)


def tested_value(item):
    """The item's ``impl`` or ``entry`` parameter (whatever it is), or None."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return params.get("impl", params.get("entry"))


def entry_under_test(item):
    """The entry a property test checks (its ``impl``, or its ``entry`` of another call), or None."""
    from convcheck.impls import Entry
    from convcheck.impls.backward import GradientEntry

    value = tested_value(item)
    return value if isinstance(value, (Entry, GradientEntry)) else None


def entry_key(item) -> tuple[str, str] | None:
    """The item's entry as (call, name): the forward's and another call's entries may share a name (torch, jax)."""
    value = tested_value(item)
    name = getattr(value, "name", None)
    return None if name is None else (call_of(value), name)

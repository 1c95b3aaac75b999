"""A broken property, as a person reads it: what was checked, the worst output with both values and the bound, the
case in one line, its data when small, a likely cause, and code that reproduces it (on one screen).

Every failure is a :class:`PropertyFailure`; its attributes ``law``, ``case``, ``reproduce`` and ``invalid`` are also
what machine-readable reports record.
"""

from __future__ import annotations

import functools

import numpy as np
from convcheck.impls.signature import where
from convcheck.properties.cases import ConvCase
from convcheck.properties.hints import explain_command, shape_cause
from convcheck.properties.invalid_calls import InvalidCall

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


def crashed(impl, error: Exception) -> PropertyFailure:
    """An exception from ``impl`` on a call inside the contract."""
    return PropertyFailure("valid calls return a result", f"raised {error!r} on a valid call (at {where(error)})", impl)

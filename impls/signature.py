"""Whether a callable can take the contract's call, and which of the contract's parameters it may leave out.

An entry is called as ``function(x, weight, bias, stride=..., padding=..., dilation=..., groups=...)``. A function
that declares it covers only the default of a parameter (no bias, dilation 1, one group) may leave that parameter out
of its signature; any other parameter it cannot take is a mistake, reported in one line before anything runs.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from pathlib import Path

POSITIONAL = ("x", "weight", "bias")
KEYWORDS = ("stride", "padding", "dilation", "groups")
CONTRACT_CALL = "conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)"


class SignatureError(TypeError):
    """A callable that cannot take the contract's call; the message names the parameter."""


def omitted_parameters(function: Callable, optional: frozenset[str]) -> frozenset[str]:
    """The contract parameters ``function`` does not take, all among ``optional`` (those whose default alone it
    declares); raises :class:`SignatureError` naming the first parameter it cannot take otherwise."""
    try:
        signature = inspect.signature(function, follow_wrapped=False)  # what is called, not what it wraps
    except (TypeError, ValueError):  # not introspectable (a builtin): called with every parameter
        return frozenset()
    omitted = set()
    positional: list[str] = []
    for name in POSITIONAL:
        try:
            signature.bind_partial(*(None for _ in [*positional, name]))
            positional.append(name)
        except TypeError:
            if name not in optional:
                raise SignatureError(_cannot(function, signature, f"the positional argument {name!r}")) from None
            omitted.add(name)
    for name in KEYWORDS:
        try:
            signature.bind_partial(*(None for _ in positional), **{name: None})
        except TypeError:
            if name not in optional:
                raise SignatureError(_cannot(function, signature, f"the keyword argument {name!r}")) from None
            omitted.add(name)
    taken = {name: None for name in KEYWORDS if name not in omitted}
    try:
        signature.bind(*(None for _ in positional), **taken)
    except TypeError as error:  # e.g. a required parameter the contract does not have
        raise SignatureError(_cannot(function, signature, f"the contract's call alone ({error})")) from None
    return frozenset(omitted)


def _cannot(function: Callable, signature: inspect.Signature, what: str) -> str:
    name = getattr(function, "__qualname__", type(function).__name__)
    return f"{name}{signature} cannot take {what}; the contract calls {CONTRACT_CALL}"


def where(error: BaseException) -> str:
    """Where ``error`` was raised: the innermost frame's file name and line, and function."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"

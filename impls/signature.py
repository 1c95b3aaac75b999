"""Which call a callable implements, whether it can take that call, and which parameters it may leave out.

A conv2d entry is called as ``function(x, weight, bias, stride=..., padding=..., dilation=..., groups=...)``; a
conv_transpose2d entry as ``function(x, weight, bias, stride=..., padding=..., output_padding=..., groups=...,
dilation=...)``; a conv2d_backward entry as ``function(grad_out, x, weight, stride=..., padding=..., dilation=...,
groups=...)``. Which one an outside callable implements is read from its ``convcheck_call`` attribute, or else from
its parameters: ``output_padding`` is conv_transpose2d's, ``grad_out`` conv2d_backward's, neither conv2d's. A conv2d
written in a framework declares ``convcheck_call = "conv2d_autograd"`` to have its gradients, as the framework derives
them, checked as a conv2d_backward (:mod:`convcheck.impls.backward.autograd`); it takes conv2d's call. A function
that declares it covers only the default of a parameter (no bias, dilation 1, one group) may leave that parameter out
of its signature; any other parameter it cannot take is a mistake, reported in one line before anything runs.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CONV2D = "conv2d"
TRANSPOSED = "conv_transpose2d"
BACKWARD = "conv2d_backward"
AUTOGRAD = "conv2d_autograd"  # a framework's conv2d whose gradients its autograd derives: checked as a conv2d_backward


@dataclass(frozen=True)
class CallSignature:
    """How a call's entries are called: positional arguments, then keywords; ``text`` as the contract writes it."""

    positional: tuple[str, ...]
    keywords: tuple[str, ...]
    text: str


SIGNATURES = {
    CONV2D: CallSignature(
        ("x", "weight", "bias"), ("stride", "padding", "dilation", "groups"),
        "conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)",
    ),
    TRANSPOSED: CallSignature(
        ("x", "weight", "bias"), ("stride", "padding", "output_padding", "groups", "dilation"),
        "conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1)",
    ),
    BACKWARD: CallSignature(
        ("grad_out", "x", "weight"), ("stride", "padding", "dilation", "groups"),
        "conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1)",
    ),
}  # fmt: skip
SIGNATURES[AUTOGRAD] = SIGNATURES[CONV2D]
MARKS = {TRANSPOSED: "output_padding", BACKWARD: "grad_out"}  # the parameter that names each call but conv2d


class SignatureError(TypeError):
    """A callable that cannot take the contract's call; the message names the parameter."""


def implemented_call(function: Callable) -> str:
    """The call ``function`` implements (:data:`CONV2D`, :data:`TRANSPOSED`, :data:`BACKWARD`, or :data:`AUTOGRAD`
    as declared): its ``convcheck_call`` attribute, or else the one whose parameter it has (``output_padding``,
    ``grad_out``), conv2d when it has neither or its signature cannot be read. Raises :class:`SignatureError` when
    it cannot tell."""
    name = getattr(function, "__qualname__", type(function).__name__)
    declared = declared_choice(function, "convcheck_call", tuple(SIGNATURES))
    if declared is not None:
        return declared
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return CONV2D
    marked = [call for call, mark in MARKS.items() if mark in parameters]
    if len(marked) > 1:
        raise SignatureError(
            f"{name}{inspect.signature(function)} cannot tell its call: it has both 'output_padding' "
            f"(conv_transpose2d) and 'grad_out' (conv2d_backward); set {name}.convcheck_call to the one it implements"
        )
    return marked[0] if marked else CONV2D


def declared_choice(function: Callable, attribute: str, choices: tuple[str, ...]) -> str | None:
    """``function``'s ``attribute``, one of ``choices``, or None when it has none; :class:`SignatureError` names any
    other value."""
    declared = getattr(function, attribute, None)
    if declared is not None and declared not in choices:
        name = getattr(function, "__qualname__", type(function).__name__)
        raise SignatureError(f"{name}.{attribute} = {declared!r}: expected one of {', '.join(choices)}")
    return declared


def omitted_parameters(function: Callable, optional: frozenset[str], call: str = CONV2D) -> frozenset[str]:
    """The parameters of ``call`` that ``function`` does not take, all among ``optional`` (those whose default alone
    it declares); raises :class:`SignatureError` naming the first parameter it cannot take otherwise."""
    expected = SIGNATURES[call]
    try:
        signature = inspect.signature(function, follow_wrapped=False)  # what is called, not what it wraps
    except (TypeError, ValueError):  # not introspectable (a builtin): called with every parameter
        return frozenset()
    omitted = set()
    positional: list[str] = []
    for name in expected.positional:
        try:
            signature.bind_partial(*(None for _ in [*positional, name]))
            positional.append(name)
        except TypeError:
            if name not in optional:
                raise SignatureError(_cannot(function, signature, f"the positional argument {name!r}", call)) from None
            omitted.add(name)
    for name in expected.keywords:
        try:
            signature.bind_partial(*(None for _ in positional), **{name: None})
        except TypeError:
            if name not in optional:
                raise SignatureError(_cannot(function, signature, f"the keyword argument {name!r}", call)) from None
            omitted.add(name)
    taken = {name: None for name in expected.keywords if name not in omitted}
    try:
        signature.bind(*(None for _ in positional), **taken)
    except TypeError as error:  # e.g. a required parameter the contract does not have
        raise SignatureError(_cannot(function, signature, f"the contract's call alone ({error})", call)) from None
    return frozenset(omitted)


def _cannot(function: Callable, signature: inspect.Signature, what: str, call: str) -> str:
    name = getattr(function, "__qualname__", type(function).__name__)
    return f"{name}{signature} cannot take {what}; the contract calls {SIGNATURES[call].text}"


def where(error: BaseException) -> str:
    """Where ``error`` was raised: the innermost frame's file name and line, and function."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"

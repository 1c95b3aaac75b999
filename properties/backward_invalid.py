"""The invalid calls of conv_transpose2d and conv2d_backward, as data, and the check that each is refused.

conv2d_backward validates everything the forward validates: its catalogue is the forward's
(:data:`convcheck.properties.invalid_calls.CATALOGUE`, but the bias, which it does not take) with a ``grad_out`` of the
valid forward output's shape, plus the ways ``grad_out`` itself can be wrong. conv_transpose2d shares the forward's
classes that mean the same for it and adds its own (the weight's first axis, padding strings, output padding, an
empty output). Each class is an :class:`convcheck.properties.invalid_calls.InvalidClass`, applied to a small valid
case drawn like the forward's invalid calls, inside the entry's capabilities (its dtypes, kernel sizes and argument
forms; a class that needs an argument the entry does not declare, groups or dilation, is not asked of it).
"""

from __future__ import annotations

import numpy as np
from convcheck.impls import Capabilities, ConvArgumentError
from convcheck.impls.signature import where
from convcheck.properties.backward_cases import GradientCase
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.invalid_calls import BY_NAME, CATALOGUE, InvalidClass, small_cases, takes_groups
from convcheck.properties.strategies import built_once
from convcheck.properties.watching import watching
from hypothesis import strategies as st

SHARED = (
    "x with 3 dimensions", "weight with 5 dimensions", "groups < 1", "stride < 1", "stride not an integer",
    "dilation < 1", "negative padding", "mixed dtypes", "integer arrays", "complex arrays", "a Python list",
)  # fmt: skip
TRANSPOSED_CATALOGUE = (
    *(BY_NAME[name] for name in SHARED),
    InvalidClass(
        "weight not (C_in, ...)", "weight", "weight with twice the input channels",
        lambda x, w, b, v: (x, np.concatenate([w, w]), b),
    ),
    InvalidClass(
        "groups not dividing C_in", "groups", "3 input channels",
        lambda x, w, b, v: (x[:, :1].repeat(3, axis=1), w[:1].repeat(3, axis=0), None), keywords={"groups": 2},
        needs=takes_groups,
    ),
    InvalidClass("padding string", "padding", keyword="padding", values=("same", "valid")),
    InvalidClass("output_padding >= stride and dilation", "output_padding", keyword="output_padding",
                 values=(1, (0, 1), (2, 0))),
    InvalidClass("negative output_padding", "output_padding", keyword="output_padding", values=(-1, (0, -1))),
    InvalidClass(
        "no output row", "padding", "padding past the full output",
        keywords={"padding": lambda case: case.h + case.kh + case.w + case.kw},
    ),
    InvalidClass(
        "bias of the wrong shape", "bias", "bias of shape (C_out + 1,)",
        lambda x, w, b, v: (x, w, np.zeros(w.shape[1] + 1, x.dtype)),
    ),
)  # fmt: skip
BACKWARD_CATALOGUE = (
    *(invalid for invalid in CATALOGUE if invalid.argument != "bias"),
    InvalidClass("grad_out of another shape", "grad_out", "grad_out one row taller", values=("one row taller",)),
    InvalidClass("grad_out with 3 dimensions", "grad_out", "grad_out[0]", values=("3-D",)),
    InvalidClass("grad_out in the other dtype", "grad_out", "grad_out in the other float dtype", values=("other",)),
)  # fmt: skip


def wrong_grad_out(grad_out: np.ndarray, how: str) -> np.ndarray:
    """``grad_out`` broken the named way."""
    if how == "one row taller":
        return np.zeros((*grad_out.shape[:2], grad_out.shape[2] + 1, grad_out.shape[3]), grad_out.dtype)
    if how == "3-D":
        return grad_out[0]
    return grad_out.astype(np.float64 if grad_out.dtype == np.float32 else np.float32)


def _keywords(invalid: InvalidClass, case, value) -> dict:
    """The keywords ``invalid`` sets on a call made from ``case`` with the drawn ``value``."""
    keywords = {key: v(case) if callable(v) else v for key, v in invalid.keywords.items()}
    if invalid.keyword is not None:
        keywords[invalid.keyword] = value
    return keywords


def _shown(invalid: InvalidClass, case, value) -> str:
    """The call in one line: the class, what changed, the valid case it is made from."""
    changes = [invalid.shown.format(value=value)] if invalid.shown else []
    changes += [f"{key}={v!r}" for key, v in _keywords(invalid, case, value).items()]
    return f"{invalid.name}: {', '.join(changes)} (from {case.descriptor()})"


@built_once
@st.composite
def _small_cases(draw, invalid: InvalidClass, capabilities: Capabilities):
    """A small valid case inside ``capabilities`` (as the forward's invalid calls draw it: one group, stride and
    dilation 1) and a value of ``invalid`` in the forms they declare."""
    return draw(small_cases(capabilities)), draw(st.sampled_from(invalid.values_for(capabilities)))


@built_once
@st.composite
def invalid_transposed_calls(draw, invalid: InvalidClass, capabilities: Capabilities):
    """``(arguments, keywords, shown)`` of a conv_transpose2d call broken the way ``invalid`` says, made from a case
    inside ``capabilities`` (a class it does not ask: :meth:`InvalidClass.asked_of`)."""
    case, value = draw(_small_cases(invalid, capabilities))
    (x, weight, bias), geometry = GradientCase(case, (0, 0)).transposed_call()  # stride 1: no unused rows
    geometry.update(_keywords(invalid, case, value))
    return invalid.arrays(x, weight, bias, value), geometry, _shown(invalid, case, value)


@built_once
@st.composite
def invalid_backward_calls(draw, invalid: InvalidClass, capabilities: Capabilities):
    """``(arguments, keywords, shown)`` of a conv2d_backward call broken the way ``invalid`` says, made from a case
    inside ``capabilities``."""
    case, value = draw(_small_cases(invalid, capabilities))
    (grad_out, x, weight), geometry = GradientCase(case).backward_call()
    if invalid.argument == "grad_out":
        grad_out = wrong_grad_out(grad_out, value)
    else:
        x, weight, _ = invalid.arrays(x, weight, None, value)
        geometry.update(_keywords(invalid, case, value))
    return (grad_out, x, weight), geometry, _shown(invalid, case, value)


def check_refuses(entry, arguments, keywords, shown: str, argument: str, law: str = "invalid arguments are refused"):
    """The call raises the entry's argument error (a ValueError); the contract's own (``ConvArgumentError``, the
    entries of this package) with a message that starts with ``argument=``. An outside callable's message is shown,
    not matched, as in the forward's invalid-argument family."""
    __tracebackhide__ = True
    law, expected = f"{entry.operation}: {law}", entry.argument_error
    naming = issubclass(expected, ConvArgumentError)
    try:
        with watching(entry.name, shown):
            out = entry(*arguments, **keywords)
    except ValueError as error:
        if isinstance(error, expected) and (str(error).startswith(f"{argument}=") or not naming):
            return
        detail = f"raised {error!r}, not a {expected.__name__}{f' naming {argument}' if naming else ''}"
    except Exception as error:
        detail = f"raised {error!r} (at {where(error)}), not {expected.__name__}"
    else:
        detail = f"returned {type(out).__name__} instead of raising {expected.__name__}"
    found = PropertyFailure(law, detail, entry)
    found.arguments = shown
    raise found

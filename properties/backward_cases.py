"""The cases of the transposed convolution and of conv2d's gradients, drawn from the forward's configurations.

A :class:`GradientCase` is a forward :class:`convcheck.properties.cases.ConvCase` (drawn by the forward strategies,
with their corners, edges and budget) and an output padding. Its conv2d_backward call takes the forward's ``x`` and
``weight`` and a ``grad_out`` of the forward output's shape; its conv_transpose2d call is the adjoint of the forward
convolution: the input of the forward output's shape, the forward kernel read as ``(C_in, C_out/groups, kH, kW)``,
the forward's stride, dilation, groups and (symmetric) padding, and an output padding that is the forward's unused
rows (so the output has the forward input's size) or any other that torch allows and leaves an output.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pytest
from convcheck.impls import output_size
from convcheck.properties.assertions import assert_close
from convcheck.properties.cases import ConvCase, one_int_where_equal
from convcheck.properties.failures import PropertyFailure, crashed
from convcheck.properties.oracle import explicit_padding
from convcheck.properties.reproductions import final_replay, implementation_lines
from convcheck.properties.simplify import Simplification, simplest
from convcheck.properties.simplify_gradients import gradient_work, simpler_gradient_cases
from convcheck.properties.strategies import built_once, conv_cases
from convcheck.properties.watching import watching
from hypothesis import strategies as st

GRADIENTS = ("grad_x", "grad_weight", "grad_bias")
COEFFICIENTS = st.integers(-3, 3)  # of linear combinations of small-integer data: every sum stays exact


@dataclass(frozen=True)
class GradientCase:
    """A forward configuration and the transposed call's output padding; prints as its code."""

    forward: ConvCase
    output_padding: tuple[int, int] = (0, 0)

    def __repr__(self) -> str:
        return f"GradientCase({self.forward.code()}, output_padding={self.output_padding})"

    def descriptor(self) -> str:
        """One line: the forward configuration (and the output padding, if any)."""
        extra = f" output_padding={self.output_padding}" if self.output_padding != (0, 0) else ""
        return f"conv2d {self.forward.descriptor()}{extra}"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.descriptor())

    def forward_output(self) -> tuple[int, int, int, int]:
        """(N, C_out, H_out, W_out) of the forward convolution."""
        case = self.forward
        top, bottom, left, right = explicit_padding(case.padding, (case.kh, case.kw), case.dilation)
        rows = output_size(case.h, case.kh, case.stride[0], top + bottom, case.dilation[0])
        cols = output_size(case.w, case.kw, case.stride[1], left + right, case.dilation[1])
        return (case.n, case.c_out, rows, cols)

    def backward_call(self) -> tuple[tuple[np.ndarray, ...], dict]:
        """``(grad_out, x, weight)`` and the geometry keywords of the conv2d_backward call."""
        grad_out_shape, x_shape, weight_shape = self.backward_shapes()
        x, weight, grad_out = self.forward.arrays((x_shape, weight_shape, grad_out_shape))
        return (grad_out, x, weight), self.forward.geometry()

    def backward_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The shapes of the conv2d_backward call's ``(grad_out, x, weight)``."""
        return (self.forward_output(), *self.forward.shapes()[:2])

    def transposed_call(self) -> tuple[tuple[np.ndarray | None, ...], dict]:
        """``(x, weight, bias)`` and the geometry keywords of the conv_transpose2d call."""
        return self.forward.arrays(self.transposed_shapes()), self.transposed_geometry()

    def transposed_shapes(self) -> tuple[tuple[int, ...] | None, ...]:
        """The shapes of the conv_transpose2d call's ``(x, weight, bias)`` (None: no bias)."""
        case = self.forward
        return (self.forward_output(), case.shapes()[1], (case.c_in,) if case.bias else None)

    def transposed_geometry(self) -> dict:
        """The geometry keywords of the conv_transpose2d call."""
        case = self.forward
        geometry = dict(case.geometry(), padding=self.padding(), output_padding=self.output_padding)
        if case.ints:
            geometry["output_padding"] = one_int_where_equal(self.output_padding)
        return geometry

    def padding(self):
        """The forward's padding as the transposed call's: a pair, or one int where the case spells it so."""
        padding = (0, 0) if self.forward.padding == "valid" else self.forward.padding
        return one_int_where_equal(padding) if self.forward.ints else padding

    def unused_rows(self) -> tuple[int, int]:
        """Per axis, the forward input's rows (columns) past its last window: the adjoint's output padding."""
        case, (_, _, rows, cols) = self.forward, self.forward_output()
        pads = (0, 0) if case.padding == "valid" else case.padding
        spans = (case.dilation[0] * (case.kh - 1) + 1, case.dilation[1] * (case.kw - 1) + 1)
        return tuple(
            size + 2 * p - span - (out - 1) * s
            for size, p, span, out, s in zip((case.h, case.w), pads, spans, (rows, cols), case.stride, strict=True)
        )


GRADIENT_CASES = Simplification(GradientCase, simpler_gradient_cases, gradient_work)  # how a failing case is simplified


def backward_cases(entry, values=("int", "normal", "positive", "wide"), dtypes=None, min_groups: int = 1):
    """Cases of conv2d_backward inside ``entry``'s capabilities (of its dtypes, those in ``dtypes``, if given): any
    forward configuration (padding strings included) with at least ``min_groups`` groups, grad_out drawn with it."""
    capabilities = replace(entry.capabilities, dtypes=declared(entry, dtypes))
    return conv_cases(capabilities, values=values, bias=True, min_groups=min_groups).map(GradientCase)


def declared(entry, dtypes=None) -> tuple[str, ...]:
    """The dtypes of ``dtypes`` (default: all) that ``entry`` declares; skips the test when there are none."""
    common = tuple(d for d in entry.dtypes if dtypes is None or d in dtypes)
    if not common:
        pytest.skip(f"{entry.name}: no dtype of {', '.join(dtypes)} (declared)")
    return common


@built_once
@st.composite
def transposed_cases(
    draw,
    entry,
    values=("int", "normal", "positive", "wide"),
    adjoint_only: bool = False,
    dtypes=None,
    min_groups: int = 1,
):
    """Cases of conv_transpose2d inside ``entry``'s capabilities (and ``dtypes``, if given): a forward configuration
    with symmetric integer padding and at least ``min_groups`` groups, and an output padding: half the cases (all, if
    ``adjoint_only``) the forward's unused rows, the others any allowed one."""
    capabilities = replace(entry.capabilities, dtypes=declared(entry, dtypes), padding_strings=("valid",))
    forward = draw(conv_cases(capabilities, values=values, padding_modes=("pair", "valid"), min_groups=min_groups))
    natural = GradientCase(forward).unused_rows()
    if adjoint_only or draw(st.booleans()):
        return GradientCase(forward, natural)
    extra = []
    for axis, size in enumerate((forward.h, forward.w)):
        extra.append(draw(st.integers(max(0, natural[axis] - size + 1), largest_output_padding(entry, forward, axis))))
    return GradientCase(forward, tuple(extra))  # each extra leaves at least one output row


def largest_output_padding(entry, forward: ConvCase, axis: int) -> int:
    """The largest output padding of ``axis`` that torch allows (below the stride or the dilation) and ``entry``
    declares (below the stride only, if it says so)."""
    top = forward.stride[axis] - 1
    return top if entry.output_padding_below_stride else max(top, forward.dilation[axis] - 1)


def called(entry, case: GradientCase, arguments, geometry):
    """``entry(*arguments, **geometry)``; any exception from this valid call of ``case`` is the entry's failure."""
    __tracebackhide__ = True
    try:
        with watching(entry.name, f"{entry.operation} of {case.descriptor()}"):
            return entry(*arguments, **geometry)
    except Exception as error:
        found = crashed(entry, error)
        found.arguments = case.descriptor()
        raise found from None


def failure(entry, case: GradientCase, law: str, detail: str) -> PropertyFailure:
    """A broken law of ``entry`` on ``case``, the case printed as its code."""
    found = PropertyFailure(law, detail, entry)
    found.arguments = case.descriptor()
    return found


def assert_within(
    entry, case: GradientCase, actual, expected, bound, law: str, relation: str = "the oracle, within the error bound"
) -> None:
    """:func:`convcheck.properties.assertions.assert_close`, its failure naming ``case``."""
    __tracebackhide__ = True
    try:
        assert_close(actual, expected, bound, law, entry, None, relation)
    except PropertyFailure as found:
        found.arguments = case.descriptor()
        raise


def checked_gradients(entry, case: GradientCase, arguments, geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entry's (grad_x, grad_weight, grad_bias) for ``arguments`` = (grad_out, x, weight), checked to be three
    arrays shaped like x, weight and (C_out,), of x's dtype (so that no check trips over a wrong result)."""
    __tracebackhide__ = True
    result = called(entry, case, arguments, geometry)
    if not (isinstance(result, tuple) and len(result) == 3 and all(isinstance(r, np.ndarray) for r in result)):
        raise failure(entry, case, "conv2d_backward: shapes", f"returned {type(result).__name__}, not three arrays")
    _, x, weight = arguments
    for name, out, wanted in zip(GRADIENTS, result, (x.shape, weight.shape, weight.shape[:1]), strict=True):
        if out.shape != wanted or out.dtype != x.dtype:
            detail = f"{name}: shape {out.shape}, dtype {out.dtype}, but should be {wanted}, {x.dtype}"
            raise failure(entry, case, "conv2d_backward: shapes", detail)
    return result


def backward_gradients(entry, case: GradientCase):
    """The conv2d_backward call's arrays, geometry and the entry's checked (grad_x, grad_weight, grad_bias)."""
    __tracebackhide__ = True
    arguments, geometry = case.backward_call()
    return arguments, geometry, checked_gradients(entry, case, arguments, geometry)


def group_part(array: np.ndarray, axis: int, groups: int, index: int) -> np.ndarray:
    """The ``index``-th of ``groups`` equal blocks of ``array`` along ``axis`` (a group's channels)."""
    size = array.shape[axis] // groups
    return np.take(array, range(index * size, (index + 1) * size), axis=axis)


def check_hygiene(entry, case: GradientCase, names, arguments, geometry) -> None:
    """The call leaves its arrays (named ``names``) bitwise unchanged and returns fresh, writeable, C-contiguous
    arrays of the input dtype that share no memory with them."""
    __tracebackhide__ = True
    before = [None if a is None else a.copy() for a in arguments]
    result = called(entry, case, arguments, geometry)
    problems = [
        f"{name} was modified in place"
        for name, array, copy in zip(names, arguments, before, strict=True)
        if array is not None and not np.array_equal(array, copy, equal_nan=True)
    ]
    dtype = next(a.dtype for a in arguments if a is not None)
    for index, out in enumerate(result if isinstance(result, tuple) else (result,)):
        if not isinstance(out, np.ndarray) or out.dtype != dtype:
            problems.append(f"result {index}: {type(out).__name__} of dtype {getattr(out, 'dtype', None)}, not {dtype}")
            continue
        if not (out.flags.c_contiguous and out.flags.writeable):
            problems.append(f"result {index} is not a writeable C-contiguous array")
        shared = [name for name, a in zip(names, arguments, strict=True) if a is not None and np.shares_memory(out, a)]
        problems += [f"result {index} shares memory with {', '.join(shared)}"] if shared else []
    if problems:
        raise failure(entry, case, f"{entry.operation}: inputs unchanged, fresh results", "; ".join(problems))


@pytest.fixture(autouse=True)
def tagged_with_its_call(request):
    """Tag a test of an entry with the entry's call (``operation``): the conv2d conformance table leaves it out."""
    entry = getattr(getattr(request.node, "callspec", None), "params", {}).get("entry")
    if entry is not None:
        request.node.user_properties.append(("operation", entry.operation))


def replayable(check):
    """Give the failures of ``check(entry, case, **drawn)`` their case and the code that replays them: the same call
    of the same check, to paste into Python (``drawn``: the check's other arguments, numbers that print as code). On
    Hypothesis's final replay of a falsifying example, the case is first simplified further
    (:mod:`convcheck.properties.simplify_gradients`)."""

    @functools.wraps(check)
    def run(entry, case: GradientCase, **drawn):
        __tracebackhide__ = True
        try:
            return check(entry, case, **drawn)
        except PropertyFailure as found:
            if final_replay():
                arguments = {"case": case, **drawn}
                arguments, found = simplest(check, entry, arguments, found, PropertyFailure, GRADIENT_CASES)
                found.drawn = case if arguments["case"] != case else None
                case = arguments["case"]
            found.arguments = case.descriptor() + "".join(f" {name}={value!r}" for name, value in drawn.items())
            found.reproduce = replay_code(run, entry, case, drawn)
            raise found from None

    return run


def replay_code(check, entry, case: GradientCase, drawn=None) -> str:
    """Python lines that call ``check`` on ``entry``, ``case`` and the keywords ``drawn`` in a fresh interpreter."""
    module = check.__module__  # in a checkout pytest imports the suite's modules as properties.*
    module = f"convcheck.{module}" if module.startswith("properties.") else module
    if ":" in entry.origin:  # an outside callable, NAME=MODULE:ATTR
        obtain = implementation_lines(entry, "entry")
    else:
        obtain = [f"from {entry.origin} import {entry.algorithm.__name__} as entry"]
    return "\n".join(
        [
            *obtain,
            "from convcheck.properties.cases import ConvCase",
            "from convcheck.properties.backward_cases import GradientCase",
            f"from {module} import {check.__name__}",
            f"{check.__name__}(entry, {case!r}{''.join(f', {k}={v!r}' for k, v in (drawn or {}).items())})",
        ]
    )

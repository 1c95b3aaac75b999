"""Simplify a failing case further than Hypothesis's shrinker can: one field at a time toward its simplest value.

Hypothesis shrinks the choices behind a case, and a case drawn from a corner of the catalogue (a depthwise layer, a
7x7 stem) can stop in a local minimum there: leaving the corner changes which draws follow. Once the falsifying
example is known, :func:`simplest` tries the case with one image, one channel per group, fewer groups, no bias,
stride and dilation 1, no padding, a 1-tap kernel and the smallest input (each change that moves the drawn values
also with seeded values), keeping each change under which the check still fails by the same law, until no change
does. The reported case is the simplest found; its reproduction fails the same way when run on its own. The tries
are bounded in number and in the multiply-adds they cost together, so that simplifying a real layer's failure costs
a few calls of its size (:mod:`convcheck.properties.layer_cases`), not a hundred. Another kind of case (the backward
calls', :mod:`convcheck.properties.simplify_gradients`) is simplified by the same loop, given its
:class:`Simplification`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pytest
from convcheck.impls.contract import normalize, output_size
from convcheck.properties.cases import ConvCase
from convcheck.properties.strategies import Budget

MAX_TRIES = 100  # check calls one simplification may spend
MAX_WORK = 2**28  # multiply-adds those calls may cost together (a hundred of the largest drawn cases)
BUDGET = Budget()  # what a simpler case may cost, beyond what the current one does


@contextmanager
def disabled() -> Iterator[None]:
    """No simplification inside: a failure reports the case Hypothesis found."""
    global MAX_TRIES
    tries, MAX_TRIES = MAX_TRIES, 0
    try:
        yield
    finally:
        MAX_TRIES = tries


def smallest_extent(kernel: int, dilation: int, pads: int) -> int:
    """The smallest input extent with at least one output under ``pads`` total padding."""
    return max(1, dilation * (kernel - 1) + 1 - pads)


def simpler(case: ConvCase) -> Iterator[ConvCase]:
    """Cases one step simpler than ``case``, the largest steps first (some may be invalid calls). A step that
    changes a shape moves the drawn values too; each such step is also offered with seeded values instead."""
    for step in steps(case):
        yield step
        if case.data is not None and step.shapes() != case.shapes():
            yield replace(step, data=None)


def steps(case: ConvCase) -> Iterator[ConvCase]:
    """Each field (or group of fields) one step toward its simplest value."""
    g, in_group, out_group = case.groups, case.c_in // case.groups, case.c_out // case.groups
    yield replace(case, n=1)
    yield replace(case, groups=1, c_in=1, c_out=1)
    for fewer in (1, 2):  # fewer groups of the same size
        if fewer < g:
            yield replace(case, groups=fewer, c_in=fewer * in_group, c_out=fewer * out_group)
    yield replace(case, c_in=g, c_out=g)
    yield replace(case, c_out=g)
    yield replace(case, c_in=g)
    yield replace(case, bias=False)
    yield replace(case, layout=("contiguous", "contiguous"), ints=False)
    yield replace(case, stride=(1, 1))
    yield replace(case, dilation=(1, 1))
    yield replace(case, padding=(0, 0))
    yield replace(case, kh=1)
    yield replace(case, kw=1)
    pads = (0, 0) if isinstance(case.padding, str) else (2 * case.padding[0], 2 * case.padding[1])
    if case.padding == "same":
        pads = (case.dilation[0] * (case.kh - 1), case.dilation[1] * (case.kw - 1))
    for axis, (size, kernel, dilation) in enumerate(
        ((case.h, case.kh, case.dilation[0]), (case.w, case.kw, case.dilation[1]))
    ):
        low = smallest_extent(kernel, dilation, pads[axis])
        for extent in (low, (low + size) // 2):
            if extent < size:
                yield replace(case, **{"hw"[axis]: extent})


def work(problem) -> tuple[int, int]:
    """(multiply-adds, input and output elements) of a normalized call."""
    n, _, height, width = problem.x.shape
    c_out, c_group, kh, kw = problem.weight.shape
    top, bottom, left, right = problem.padding
    h_out = output_size(height, kh, problem.stride[0], top + bottom, problem.dilation[0])
    w_out = output_size(width, kw, problem.stride[1], left + right, problem.dilation[1])
    outputs = n * c_out * h_out * w_out
    return outputs * c_group * kh * kw, outputs + problem.x.size


def normalized(case: ConvCase):
    """The normalized call of ``case`` (its shapes and dtype: the arrays are zeros that take no memory), or None
    where it is not a valid call."""
    zero = np.zeros((), case.dtype)
    x, weight, bias = (None if shape is None else np.broadcast_to(zero, shape) for shape in case.shapes())
    try:
        return normalize(x, weight, bias, **case.geometry())
    except ValueError:
        return None


def forward_work(case: ConvCase, impl) -> tuple[int, int] | None:
    """The work of ``case``'s call (:func:`work`), or None where it is not a valid call inside ``impl``'s declared
    capabilities."""
    problem = normalized(case)
    if problem is None:
        return None
    geometry = case.geometry()
    supported = impl.supports(problem, {key: geometry[key] for key in ("stride", "padding", "dilation")})
    return work(problem) if supported else None


@dataclass(frozen=True)
class Simplification:
    """How the cases of one kind are simplified: the type of a check's case argument, the cases one step simpler
    than a case (for an entry), and the work of a case's call (None: not a valid call inside the entry's
    capabilities)."""

    kind: type
    simpler: Callable[..., Iterator]  # (case, entry)
    work: Callable[..., tuple[int, int] | None]  # (case, entry)


FORWARD = Simplification(ConvCase, lambda case, impl: simpler(case), forward_work)


def within(candidate_work, bound: tuple[int, int]) -> bool:
    """Whether a candidate's work (None: no valid call) costs no more than ``bound`` or a drawn case's budget,
    whichever is larger (a stride of 1 under a huge padding is not simpler)."""
    limits = (max(bound[0], BUDGET.macs), max(bound[1], BUDGET.elements))
    return candidate_work is not None and all(have <= limit for have, limit in zip(candidate_work, limits, strict=True))


def simplest(
    check: Callable, impl, arguments: dict, failure: Exception, failure_type: type, how: Simplification = FORWARD
) -> tuple[dict, Exception]:
    """The simplest arguments found under which ``check(impl, **arguments)`` still fails by ``failure``'s law,
    with that failure. Only a check called with exactly one case of ``how``'s kind is simplified."""
    __tracebackhide__ = True
    names = [name for name, value in arguments.items() if isinstance(value, how.kind)]
    if len(names) != 1:
        return arguments, failure
    name, tries, spent, improved = names[0], 0, 0, True
    while improved and tries < MAX_TRIES and spent < MAX_WORK:
        improved, current = False, how.work(arguments[name], impl)
        if current is None:
            break
        for candidate in how.simpler(arguments[name], impl):
            if candidate == arguments[name] or not within(cost := how.work(candidate, impl), current):
                continue
            if tries >= MAX_TRIES or spent >= MAX_WORK:
                break
            tries += 1
            spent += cost[0]
            trial = {**arguments, name: candidate}
            try:
                check(impl, **trial)
            except failure_type as found:
                if found.law == failure.law:
                    arguments, failure, improved = trial, found, True
                    break
            except (Exception, pytest.skip.Exception):  # another error, a skipped call: not the same failure
                continue
    return arguments, failure

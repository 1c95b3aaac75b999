"""The simplification of the backward calls' failing cases, past Hypothesis's shrinking: a
:class:`convcheck.properties.backward_cases.GradientCase` is a forward configuration, simplified field by field as the
forward's (:func:`convcheck.properties.simplify.simpler`), and the transposed call's output padding. An output padding
that is the forward's unused rows (the adjoint's) stays the unused rows of the simpler configuration; any other stays
below its stride or dilation (torch's rule, or the stride alone for an entry that declares so) and is offered at zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
from convcheck.impls.backward import TRANSPOSED
from convcheck.impls.backward.registry import OPERATIONS
from convcheck.properties.simplify import normalized, simpler, work


def fitted(output_padding, forward) -> Iterator[tuple[int, int]]:
    """``output_padding`` per axis at most what torch allows under ``forward``'s stride and dilation, then at most
    the stride's (for an entry that takes only those); each once."""
    below = [min(e, max(s, d) - 1) for e, s, d in zip(output_padding, forward.stride, forward.dilation, strict=True)]
    below_stride = [min(e, s - 1) for e, s in zip(output_padding, forward.stride, strict=True)]
    yield from dict.fromkeys((tuple(below), tuple(below_stride)))


def simpler_gradient_cases(case, entry) -> Iterator:
    """Cases one step simpler than ``case`` (some may be invalid calls): its forward configuration one field at a
    time, then, for a transposed call, its output padding at zero."""
    transposed = entry.operation == TRANSPOSED
    adjoint = transposed and case.output_padding == case.unused_rows()
    for forward in simpler(case.forward):
        step = replace(case, forward=forward)
        if adjoint:
            yield replace(step, output_padding=step.unused_rows())
        elif transposed:
            yield from (replace(step, output_padding=extra) for extra in fitted(case.output_padding, forward))
        else:  # conv2d_backward: the output padding means nothing
            yield step
    if transposed and not adjoint and case.output_padding != (0, 0):
        yield replace(case, output_padding=(0, 0))


def gradient_work(case, entry) -> tuple[int, int] | None:
    """The work of ``case``'s forward convolution (:func:`convcheck.properties.simplify.work`: the transposed call
    and each gradient cost as much), or None where ``case`` is not a valid call of ``entry``'s inside its declared
    capabilities."""
    problem = normalized(case.forward)
    if problem is None:
        return None
    forms = {key: case.forward.geometry()[key] for key in ("stride", "padding", "dilation")}
    if entry.capabilities.why_unsupported(problem, forms) is not None:
        return None
    if entry.operation == TRANSPOSED:
        shapes, geometry = case.transposed_shapes(), case.transposed_geometry()
    else:
        shapes, geometry = case.backward_shapes(), case.forward.geometry()
    zero = np.zeros((), case.forward.dtype)
    arrays = (None if shape is None else np.broadcast_to(zero, shape) for shape in shapes)
    try:
        call = OPERATIONS[entry.operation](*arrays, **geometry)
    except ValueError:
        return None
    return None if entry.why_unsupported(call) else work(problem)

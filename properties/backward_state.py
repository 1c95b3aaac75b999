"""State between calls of the transposed convolution and of conv2d's gradients: each call gets its own answer, whatever
came before and after it (the forward's :mod:`convcheck.properties.test_state`, for both calls).

The law fails where state kept between calls leaks into a result: an earlier result overwritten by a later call (an
output or a workspace kept per shape and returned), a result computed before its inputs were updated in place (a cache
keyed by ``id()``), or the answer of other values, another dtype or another shape (a plan or a cache keyed by too
little).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from convcheck.properties.backward_cases import GradientCase, assert_within
from convcheck.properties.strategies import call_sequences


def assert_answers(call, entry, case, results, arrays, geometry, law: str) -> None:
    """``results`` of ``call`` on ``arrays`` are within their bounds of the references (bitwise on small integers)."""
    __tracebackhide__ = True
    answers = zip(
        call.result_names, results, call.references(arrays, geometry), call.bounds(arrays, geometry), strict=True
    )
    for name, out, wanted, bound in answers:
        assert_within(entry, case, out, wanted, bound, f"{call.operation}: {name} {law}")


def check_calls_keep_no_state(call, entry, case: GradientCase, others=()) -> None:
    """``call`` (:class:`convcheck.properties.backward_calls.GradientCall`) of ``case``, then of each of ``others``,
    then of ``case``'s arrays with new values (the next seed's) written into them in place: each result is bitwise
    what it was right after its call, and its own call's answer once all have run."""
    __tracebackhide__ = True
    results, kept = [], []

    def result_of(c, arrays, geometry) -> None:
        results.append(call.results(entry, c, arrays, geometry))
        kept.append([np.array(out, copy=True) for out in results[-1]])

    arrays, geometry = call.operands(case)
    result_of(case, arrays, geometry)
    for other in others:
        result_of(other, *call.operands(other))
    new = call.operands(replace(case, forward=case.forward.reseeded()))[0]
    for array, values in zip(arrays, new, strict=True):
        if array is not None:  # the same array objects as the first call's
            array[...] = values
    result_of(case, arrays, geometry)
    written = ", ".join(name for name, array in zip(call.operand_names, arrays, strict=True) if array is not None)
    calls = [*(call.operands(c) for c in (case, *others)), (arrays, geometry)]
    for index, ((operands, keywords), result, copies) in enumerate(zip(calls, results, kept, strict=True)):
        which = f"of call {index + 1} of {len(calls)}"
        for name, out, copy in zip(call.result_names, result, copies, strict=True):
            law = f"{call.operation}: {name} {which} unchanged by the later calls"
            assert_within(entry, case, out, copy, 0.0, law, "a copy taken right after the call")
        if index == len(calls) - 1:
            which += f" (the first call's arrays, new values written into {written} in place)"
        assert_answers(call, entry, case, result, operands, keywords, f"{which}, checked after all of them")


def state_arguments(entry, cases):
    """The keywords of :func:`check_calls_keep_no_state`: a case of ``cases`` and another to call after it, the same
    shapes with other values (what a buffer or a cache kept per shape answers wrongly), the case in another dtype,
    or a new draw (:func:`convcheck.properties.strategies.call_sequences`)."""

    def varied(case: GradientCase, **fields) -> GradientCase:
        return replace(case, forward=replace(case.forward, **fields))

    return call_sequences(entry.capabilities, length=2, cases=cases, varied=varied).map(
        lambda sequence: {"case": sequence[0], "others": tuple(sequence[1:])}
    )

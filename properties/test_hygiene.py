"""Hygiene: inputs untouched, any memory layout, the input dtype, a fresh C-contiguous result, repeatable calls."""

import numpy as np
import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import conv_cases
from convcheck.properties.support import allowed_difference, call_or_skip, examples
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("hygiene")


def draw_case(impl, data):
    return data.draw(conv_cases(impl.capabilities), label="case")


@reproducible
def check_inputs_are_not_modified(impl, case) -> None:
    __tracebackhide__ = True
    arrays = case.arrays()
    before = [None if a is None else a.copy() for a in arrays]
    call_or_skip(impl, *arrays, **case.geometry())
    for name, array, copy in zip(("x", "weight", "bias"), arrays, before, strict=True):
        if array is not None and not np.array_equal(array, copy, equal_nan=True):
            changed = int(np.sum(array != copy))
            raise PropertyFailure("inputs unchanged", f"{name} was modified in place ({changed} elements)", impl)


@reproducible
def check_layout_independence(impl, case) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    reference = call_or_skip(impl, *case.contiguous().arrays(), **case.geometry())
    tolerance = 2 * allowed_difference([impl], x, weight, bias, **case.geometry())
    assert_close(out, reference, tolerance, "layout independence", impl, case, "the same call on C-contiguous copies")


@reproducible
def check_fresh_result(impl, case) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    problems = []
    if not isinstance(out, np.ndarray):
        problems.append(f"type {type(out).__name__}, not numpy.ndarray")
    else:
        if out.dtype != x.dtype:
            problems.append(f"out.dtype={out.dtype}, but should be {x.dtype}")
        if not out.flags.c_contiguous:
            problems.append(f"out is not C-contiguous (strides {out.strides})")
        if not out.flags.writeable:
            problems.append("out is read-only")
        inputs = {"x": x, "weight": weight, "bias": bias}
        shared = [name for name, a in inputs.items() if a is not None and np.shares_memory(out, a)]
        if shared:
            problems.append(f"out shares memory with {', '.join(shared)}")
    if problems:
        raise PropertyFailure("fresh result", "; ".join(problems), impl)


@reproducible
def check_determinism(impl, case) -> None:
    __tracebackhide__ = True
    first = call_or_skip(impl, *case.arrays(), **case.geometry())
    second = call_or_skip(impl, *case.arrays(), **case.geometry())
    assert_close(second, first, 0.0, "determinism", impl, case, "a first identical call")


@examples(0.5)
@given(data=st.data())
def test_inputs_are_not_modified(impl, data):
    """x, weight and bias are bitwise the same after the call, in the same layout."""
    __tracebackhide__ = True
    check_inputs_are_not_modified(impl, case=draw_case(impl, data))


@examples(0.5)
@given(data=st.data())
def test_memory_layout_does_not_change_the_result(impl, data):
    """Transposed, sliced, reversed and channels-last views give the result of C-contiguous copies."""
    __tracebackhide__ = True
    check_layout_independence(impl, case=draw_case(impl, data))


@examples(0.5)
@given(data=st.data())
def test_result_is_a_fresh_c_contiguous_array_of_the_input_dtype(impl, data):
    """numpy.ndarray, dtype of x, C-contiguous, writeable, sharing no memory with the inputs."""
    __tracebackhide__ = True
    check_fresh_result(impl, case=draw_case(impl, data))


@examples(0.5)
@given(data=st.data())
def test_repeated_calls_agree_bitwise(impl, data):
    """The same call twice gives the same bits (no uninitialized memory, no order-dependent state)."""
    __tracebackhide__ = True
    check_determinism(impl, case=draw_case(impl, data))

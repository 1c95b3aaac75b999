"""State between calls: every call gets its own answer, whatever came before and after it.

An implementation may keep plans, workspaces or caches between calls; these properties fail when one leaks into a
result: an earlier result overwritten by a later call (a shared output buffer), a result computed before its inputs
were updated in place (a cache keyed by ``id()``, which also answers stale when a new array reuses a freed id), or the
answer of another dtype, shape or geometry (a plan keyed by too little).
"""

from dataclasses import replace

import numpy as np
import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.errors import error_bound
from convcheck.properties.oracle import reference_conv2d
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import call_sequences, conv_cases
from convcheck.properties.support import call_or_skip, examples
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("state")


INPUTS = ("x", "weight", "bias")


def assert_matches_oracle(out, impl, case, what: str) -> None:
    x, weight, bias = case.arrays()
    expected = reference_conv2d(x, weight, bias, **case.geometry())
    bound = error_bound(impl.error_model, x, weight, bias, **case.geometry())
    assert_close(out, expected, bound, what, impl, case)


@reproducible
def check_earlier_result_unchanged(impl, first, others) -> None:
    """The result of ``first`` is bitwise what it was right after its call, once ``others`` have run."""
    __tracebackhide__ = True
    kept = call_or_skip(impl, *first.arrays(), **first.geometry())
    copy = np.array(kept, copy=True)
    for case in [first, *others]:  # the same call first: its values must not be what is left in a shared buffer
        call_or_skip(impl, *case.arrays(), **case.geometry())
    assert_close(kept, copy, 0.0, "an earlier result unchanged", impl, first, "a copy taken right after the call")


@reproducible
def check_updated_inputs(impl, case, seed: int, changed) -> None:
    """After a first call, the values of ``seed`` written into the arrays named in ``changed`` (in place) give the
    next call's result."""
    __tracebackhide__ = True
    arrays = case.arrays()
    call_or_skip(impl, *arrays, **case.geometry())
    for name, array, new in zip(INPUTS, arrays, replace(case, seed=seed).arrays(), strict=True):
        if name in changed and array is not None:  # (a simplified case may have no bias)
            array[...] = new
    out = call_or_skip(impl, *arrays, **case.geometry())
    expected = reference_conv2d(*arrays, **case.geometry())
    bound = error_bound(impl.error_model, *arrays, **case.geometry())
    what = f"after writing the values of seed {seed} into {', '.join(changed)} in place"
    assert_close(out, expected, bound, what, impl, case)


@reproducible
def check_interleaved_calls(impl, cases) -> None:
    """Each of ``cases``, called one after another, returns its own result, checked once all have run."""
    __tracebackhide__ = True
    results = [call_or_skip(impl, *case.arrays(), **case.geometry()) for case in cases]
    for index, (case, out) in enumerate(zip(cases, results, strict=True)):
        assert_matches_oracle(out, impl, case, f"call {index + 1} of {len(cases)}, checked after all of them")


@examples(0.5)
@given(data=st.data())
def test_an_earlier_result_is_unchanged_by_later_calls(impl, data):
    """A result kept from a first call is bitwise what it was right after that call, once other calls (of other
    values, dtypes and shapes, and the same call again) have run."""
    __tracebackhide__ = True
    first, *others = data.draw(call_sequences(impl.capabilities), label="calls")
    check_earlier_result_unchanged(impl, first=first, others=others)


@examples(0.5)
@given(data=st.data())
def test_updating_inputs_in_place_changes_the_next_result(impl, data):
    """Calling, then writing new values into x, weight and/or bias (the same array objects, so the same ids), then
    calling again gives the new values' result."""
    __tracebackhide__ = True
    case = data.draw(conv_cases(impl.capabilities), label="case")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed of the new values")
    names = [name for name, shape in zip(INPUTS, case.shapes(), strict=True) if shape is not None]
    changed = data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True), label="updated in place")
    check_updated_inputs(impl, case=case, seed=seed, changed=tuple(changed))


@examples(0.5)
@given(data=st.data())
def test_interleaved_calls_each_get_their_own_answer(impl, data):
    """Calls of other values, dtypes and shapes, one after another with their inputs freed in between (so that new
    arrays may reuse their ids), each return their own result, checked once all have run."""
    __tracebackhide__ = True
    check_interleaved_calls(impl, cases=data.draw(call_sequences(impl.capabilities, length=4), label="calls"))

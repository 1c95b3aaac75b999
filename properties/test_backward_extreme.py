"""Extreme arguments of conv_transpose2d and conv2d_backward: strides, paddings and dilations far beyond a small input
(:mod:`convcheck.properties.backward_extreme_cases`), as the forward's family checks conv2d.

Every entry returns the oracle's values within the backward error bound; one that declares ``memory_follows_output``
(every entry of this package does) with at most 64 MiB of extra memory beyond its results, also under paddings and
strides of 2**61: work and memory follow the results, not the stride, the padding or the dilation. A number past what
an index holds (an argument, a strided input extent, a padded input extent or a dilated kernel span past 2**63 - 1) is
refused with the entry's ValueError (``ConvArgumentError`` naming the argument for this package's entries).
"""

import pytest
from convcheck.impls.backward import BACKWARD, TRANSPOSED
from convcheck.properties.backward_cases import (
    GradientCase,
    called,
    checked_gradients,
    failure,
    replayable,
    tagged_with_its_call,  # noqa: F401 (an autouse fixture)
)
from convcheck.properties.backward_extreme_cases import (
    extreme_backward_cases,
    extreme_transposed_cases,
    past_the_limit_backward_calls,
    past_the_limit_transposed_calls,
)
from convcheck.properties.backward_invalid import check_refuses
from convcheck.properties.memory import measured_call, nbytes
from convcheck.properties.support import examples
from convcheck.properties.test_backward import assert_gradients_match_oracle
from convcheck.properties.test_transposed import assert_matches_oracle
from hypothesis import given
from hypothesis import strategies as st

FAMILIES = {TRANSPOSED: "transposed_extreme_arguments", BACKWARD: "backward_extreme_arguments"}


def of_call(operation: str):
    """Mark a test as taking ``operation``'s entries, in that call's extreme-arguments family: a row of its own in the
    conformance table, since the calls' entries share names with the forward's (torch, jax, loop, scipy)."""

    def mark(test):
        return pytest.mark.operation(operation)(pytest.mark.family(FAMILIES[operation])(test))

    return mark


def measured_if_bounded(entry, case: GradientCase, call):
    """``call()``, measured where the entry declares ``memory_follows_output``: its result and a function that raises
    the memory law's failure, to call once the values are checked."""
    if not entry.capabilities.memory_follows_output:
        return call(), lambda: None
    result, usage = measured_call(call, nbytes)

    def check_memory() -> None:
        __tracebackhide__ = True
        over = usage.over(nbytes(result))
        if over:
            found = failure(entry, case, f"{entry.operation}: memory follows the output", over)
            found.lines = [usage.describe(nbytes(result))]
            raise found

    return result, check_memory


@replayable
def check_extreme_transposed(entry, case: GradientCase) -> None:
    """The oracle's values within the error bound, and at most 64 MiB of extra memory."""
    __tracebackhide__ = True
    arguments, geometry = case.transposed_call()
    out, check_memory = measured_if_bounded(entry, case, lambda: called(entry, case, arguments, geometry))
    assert_matches_oracle(entry, case, arguments, geometry, out)
    check_memory()


@replayable
def check_extreme_gradients(entry, case: GradientCase) -> None:
    """The oracle's gradients within the error bound, and at most 64 MiB of extra memory."""
    __tracebackhide__ = True
    arguments, geometry = case.backward_call()
    result, check_memory = measured_if_bounded(entry, case, lambda: checked_gradients(entry, case, arguments, geometry))
    assert_gradients_match_oracle(entry, case, arguments, geometry, result)
    check_memory()


def check_refused(entry, drawn) -> None:
    """A drawn call with a number past 2**63 - 1 raises the entry's argument error (naming the argument)."""
    __tracebackhide__ = True
    case, arguments, geometry, name = drawn
    shown = f"{case.descriptor()} with {name} {geometry[name]}"
    check_refuses(entry, arguments, geometry, shown, name, law=f"{name} past 2**63 - 1 is refused")


@of_call(TRANSPOSED)
@examples(0.5)
@given(data=st.data())
def test_transposed_extreme_arguments_match_the_oracle_within_the_memory_bound(entry, data):
    """conv_transpose2d: the oracle's values within the error bound, and at most 64 MiB of extra memory."""
    check_extreme_transposed(entry, data.draw(extreme_transposed_cases(entry), label="case"))


@of_call(BACKWARD)
@examples(0.5)
@given(data=st.data())
def test_gradient_extreme_arguments_match_the_oracle_within_the_memory_bound(entry, data):
    """conv2d_backward: the oracle's gradients within the error bound, and at most 64 MiB of extra memory."""
    check_extreme_gradients(entry, data.draw(extreme_backward_cases(entry), label="case"))


@of_call(TRANSPOSED)
@examples(0.1)
@given(data=st.data())
def test_transposed_numbers_past_an_index_are_rejected_naming_the_argument(entry, data):
    """A stride, padding, output padding or dilation past 2**63 - 1, or one that makes the strided input or the
    dilated kernel exceed it, raises the entry's ValueError (not an overflow or a huge allocation)."""
    check_refused(entry, data.draw(past_the_limit_transposed_calls(entry), label="call"))


@of_call(BACKWARD)
@examples(0.1)
@given(data=st.data())
def test_gradient_numbers_past_an_index_are_rejected_naming_the_argument(entry, data):
    """The forward's numbers past 2**63 - 1 (an argument, a padded extent, a dilated span), as conv2d_backward's,
    raise the entry's ValueError."""
    check_refused(entry, data.draw(past_the_limit_backward_calls(entry), label="call"))

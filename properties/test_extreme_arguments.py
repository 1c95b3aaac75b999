"""Extreme arguments: strides, paddings and dilations far beyond a small input.

Every implementation returns the contract's shape and the oracle's values within its error bound, with extra memory
at most 64 MiB beyond the output: work and memory follow the output, not the stride, the padding or the dilation.
A number past what an index holds (2**63 - 1, for an argument, a padded input extent or a dilated kernel span) is
rejected with a ValueError (``ConvArgumentError`` for registered entries) naming the argument.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties.errors import error_bound
from properties.memory import LIMIT_BYTES, measured
from properties.oracle import reference_conv2d
from properties.reporting import assert_close, failure
from properties.strategies import extreme_cases, past_the_limit_cases
from properties.support import call_or_skip, examples

pytestmark = pytest.mark.family("extreme_arguments")


@examples(1)
@given(data=st.data())
def test_extreme_arguments_match_the_oracle_within_the_memory_bound(impl, data):
    """The oracle's shape and values within the error bound, and at most 64 MiB of extra memory."""
    case = data.draw(extreme_cases(impl.capabilities), label="case")
    x, weight, bias = case.arrays()
    with measured() as usage:
        out = call_or_skip(impl, x, weight, bias, **case.geometry())
    expected = reference_conv2d(x, weight, bias, **case.geometry())
    bound = error_bound(impl.error_model, x, weight, bias, **case.geometry())
    assert_close(out, expected, bound, "extreme arguments", impl, case)
    if usage.extra(out.nbytes) > LIMIT_BYTES:
        raise failure("memory follows the output", f"the call took {usage.describe(out.nbytes)}", impl, case)


@examples(0.25)
@given(data=st.data())
def test_numbers_past_an_index_are_rejected_naming_the_argument(impl, data):
    """A stride, padding or dilation past 2**63 - 1, or one that makes the padded extent or the dilated span exceed
    it, raises the entry's ValueError (not an overflow, a TypeError or a huge allocation). As for every invalid
    argument, the type is checked and the message shown (the project's own messages are tested in tests/)."""
    case, name = data.draw(past_the_limit_cases(impl.capabilities), label="case")
    expected = impl.argument_error
    what = f"{name} past 2**63 - 1"
    try:
        out = impl(*case.arrays(), **case.geometry())
    except ValueError as error:
        if not isinstance(error, expected):
            raise failure(what, f"raised {error!r}, not a {expected.__name__}", impl, case) from error
        return
    except Exception as error:
        raise failure(what, f"raised {error!r}, not a {expected.__name__} naming {name}", impl, case) from error
    raise failure(what, f"returned a result of shape {getattr(out, 'shape', None)} instead of raising", impl, case)

"""Extreme arguments: strides, paddings and dilations far beyond a small input.

Every implementation returns the contract's shape and the oracle's values within its error bound; one that declares
``memory_follows_output`` (every entry of this package does) with extra memory at most 64 MiB beyond the output, also
under paddings of 2**61: work and memory follow the output, not the stride, the padding or the dilation.
A number past what an index holds (2**63 - 1, for an argument, a padded input extent or a dilated kernel span) is
rejected with a ValueError (``ConvArgumentError`` for registered entries) naming the argument.
"""

import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.errors import reference_and_bound
from convcheck.properties.extreme_cases import extreme_cases, past_the_limit_cases
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.memory import measured_call, nbytes
from convcheck.properties.reproductions import reproducible
from convcheck.properties.support import call_or_skip, examples
from convcheck.properties.watching import watching
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("extreme_arguments")


@reproducible
def check_extreme_arguments(impl, case) -> None:
    """``case`` gives the oracle's values within the error bound, with at most 64 MiB of extra memory (measured as
    :func:`convcheck.properties.memory.measured_call` says)."""
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    bounded = impl.capabilities.memory_follows_output
    if bounded:
        out, usage = measured_call(lambda: call_or_skip(impl, x, weight, bias, **case.geometry()), nbytes)
    else:
        out = call_or_skip(impl, x, weight, bias, **case.geometry())
    expected, bound = reference_and_bound(impl.error_model, x, weight, bias, **case.geometry())
    assert_close(out, expected, bound, "extreme arguments", impl, case, "the oracle, within the error bound")
    if bounded and (over := usage.over(out.nbytes)):
        # The first line says only what holds in every process; the measured peaks (the resident one depends on what
        # the process touched before) follow.
        raise PropertyFailure("memory follows the output", over, impl, case, lines=[usage.describe(out.nbytes)])


@reproducible
def check_rejected_past_the_limit(impl, case, name: str) -> None:
    """``case``, with ``name`` past what an index holds, raises the entry's argument error."""
    __tracebackhide__ = True
    expected = impl.argument_error
    law = f"{name} past 2**63 - 1 is refused"
    try:
        with watching(impl.name, case.descriptor()):
            out = impl(*case.arrays(), **case.geometry())
    except ValueError as error:
        if not isinstance(error, expected):
            raise PropertyFailure(law, f"raised {error!r}, not a {expected.__name__}", impl, case) from None
        return
    except Exception as error:
        raise PropertyFailure(law, f"raised {error!r}, not a {expected.__name__}", impl, case) from None
    shape = getattr(out, "shape", None)
    raise PropertyFailure(law, f"returned a result of shape {shape} instead of raising", impl, case)


@examples(1)
@given(data=st.data())
def test_extreme_arguments_match_the_oracle_within_the_memory_bound(impl, data):
    """The oracle's shape and values within the error bound, and at most 64 MiB of extra memory."""
    __tracebackhide__ = True
    check_extreme_arguments(impl, case=data.draw(extreme_cases(impl.capabilities), label="case"))


@examples(0.25)
@given(data=st.data())
def test_numbers_past_an_index_are_rejected_naming_the_argument(impl, data):
    """A stride, padding or dilation past 2**63 - 1, or one that makes the padded extent or the dilated span exceed
    it, raises the entry's ValueError (not an overflow, a TypeError or a huge allocation). As for every invalid
    argument, the type is checked and the message shown (the project's own messages are tested in tests/)."""
    __tracebackhide__ = True
    case, name = data.draw(past_the_limit_cases(impl.capabilities), label="case")
    check_rejected_past_the_limit(impl, case=case, name=name)

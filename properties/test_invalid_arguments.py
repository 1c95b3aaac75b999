"""Invalid arguments: every class of contract violation is rejected with a ValueError, by every implementation.

The check matches the exception type only and shows the message; registered implementations additionally raise
the project's :class:`impls.ConvArgumentError`, whose messages the project's own tests check.
"""

import pytest
from convcheck.impls.signature import where
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.invalid_calls import BY_NAME, INVALID_CLASSES, InvalidCall, invalid_calls
from convcheck.properties.reproductions import reproducible
from convcheck.properties.support import examples, require
from convcheck.properties.watching import watching
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("invalid_arguments")


@reproducible
def check_refuses(impl, call: InvalidCall) -> None:
    """The invalid ``call`` raises the implementation's argument error (a ValueError)."""
    __tracebackhide__ = True
    x, weight, bias = call.arrays()
    expected = impl.argument_error
    law = "invalid arguments are refused"
    try:
        with watching(impl.name, f"{call}"):
            out = impl(x, weight, bias, **call.geometry())
    except ValueError as error:
        if not isinstance(error, expected):
            raise PropertyFailure(law, f"raised {error!r}, not {expected.__name__}", impl, call) from None
        return
    except Exception as error:
        detail = f"raised {error!r} (at {where(error)}), not {expected.__name__}"
        raise PropertyFailure(law, detail, impl, call) from None
    shape = getattr(out, "shape", type(out).__name__)
    raise PropertyFailure(law, f"returned a result of shape {shape} instead of raising {expected.__name__}", impl, call)


@pytest.mark.parametrize("kind", INVALID_CLASSES)
@examples(0.25)
@given(data=st.data())
def test_invalid_arguments_raise_value_error(impl, kind, data):
    """A call that breaks the contract raises ValueError (not a crash, not a silent result)."""
    __tracebackhide__ = True
    require(impl, BY_NAME[kind].asked_of(impl.capabilities), f"'{kind}' needs an argument it does not declare")
    check_refuses(impl, call=data.draw(invalid_calls(kind, impl.capabilities), label="call"))

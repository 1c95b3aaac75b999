"""Invalid arguments: every class of contract violation is rejected with a ValueError, by every implementation.

The check matches the exception type only and shows the message; an entry may require a subclass (the project's
:class:`impls.ConvArgumentError` for the entries of ``impls``, whose messages the project's own tests check).
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties import isolation
from properties.reporting import failure
from properties.strategies import INVALID_CLASSES, invalid_calls
from properties.support import examples, require


def declares_the_form_of(impl, kind: str) -> bool:
    """Whether the invalid call of ``kind`` is spelled in argument forms ``impl`` declares (a 'same' string, a bias)."""
    capabilities = impl.capabilities
    if kind == "'same' with stride > 1":
        return "same" in capabilities.padding_strings and not capabilities.int_padding
    return kind != "bias of the wrong shape" or capabilities.bias


pytestmark = pytest.mark.family("invalid_arguments")


@pytest.mark.parametrize("kind", INVALID_CLASSES)
@examples(0.25)
@given(data=st.data())
def test_invalid_arguments_raise_value_error(impl, kind, data):
    """A call that breaks the contract raises ValueError (not a crash, not a silent result)."""
    require(impl, declares_the_form_of(impl, kind), f"no argument of the form '{kind}' declared")
    case, x, weight, bias, geometry = data.draw(invalid_calls(kind, impl.capabilities), label="call")
    call = f"conv2d(x, weight, bias, **{geometry!r})"
    try:
        with isolation.watching(impl.name, f"{kind}: {isolation.describe_call(x, weight, bias, geometry)}"):
            out = impl(x, weight, bias, **geometry)
    except ValueError as error:
        expected = impl.argument_error
        if not isinstance(error, expected):
            raise failure(
                f"invalid arguments ({kind})", f"raised {error!r}, not {expected.__name__}", impl, case, call
            ) from error
        return
    except Exception as error:
        raise failure(f"invalid arguments ({kind})", f"raised {error!r}, not ValueError", impl, case, call) from error
    shape = getattr(out, "shape", type(out).__name__)
    raise failure(
        f"invalid arguments ({kind})", f"returned a result of shape {shape} instead of raising", impl, case, call
    )

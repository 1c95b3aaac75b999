"""Agreement: with the extended-precision oracle within the error model, and with the referee implementations."""

import pytest
from convcheck.impls import normalize
from convcheck.properties.assertions import assert_close, record_evidence
from convcheck.properties.errors import reference_and_bound
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import LARGE, conv_cases
from convcheck.properties.support import allowed_difference, call_or_skip, examples, require
from convcheck.properties.watching import watching
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("agreement")
# The implementations every entry is compared with, besides the oracle: independent of the oracle's code and of each
# other (a framework's kernel; NumPy's GEMM on im2col columns), and fast. Agreement of every pair follows from each
# entry's agreement with the oracle; the referees guard against a blind spot of the oracle itself.
REFEREES = ("torch", "im2col")


@reproducible
def check_matches_oracle(impl, case, what: str = "agreement with the oracle") -> None:
    """One call of ``impl`` on ``case`` against the oracle, within the implementation's declared error bound."""
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    expected, bound = reference_and_bound(impl.error_model, x, weight, bias, **case.geometry())
    record_evidence(expected)
    assert_close(out, expected, bound, what, impl, case, "the oracle, within the error bound")


@reproducible
def check_agrees_with(impl, case, other) -> None:
    """``impl`` and ``other`` on ``case`` differ by at most the sum of their bounds (bitwise on small integers).

    Where they do not, the oracle decides which is wrong: ``impl`` fails only if it is outside its own bound of the
    oracle's result; a wrong result of ``other`` is ``other``'s failure, found by its own checks, never ``impl``'s.
    """
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    tolerance = allowed_difference([impl, other], x, weight, bias, **case.geometry())
    try:
        with watching(other.name, case.descriptor()):
            theirs = other(x, weight, bias, **case.geometry())
        assert_close(out, theirs, tolerance, f"agreement with {other.name}", impl, case)
    except Exception:  # a disagreement, or no result from the other: the oracle judges this entry's result
        expected, bound = reference_and_bound(impl.error_model, x, weight, bias, **case.geometry())
        what = f"agreement with the oracle where {other.name} disagrees"
        assert_close(out, expected, bound, what, impl, case, "the oracle, within the error bound")


@examples(2.5)
@given(data=st.data())
def test_matches_oracle_within_error_bound(impl, data):
    """|conv2d - exact| <= the declared error model's bound, element by element."""
    __tracebackhide__ = True
    check_matches_oracle(impl, case=data.draw(conv_cases(impl.capabilities), label="case"))


@examples(0.25)
@given(data=st.data())
def test_matches_oracle_on_larger_layers(impl, data):
    """The same bound past the small cases: up to 24 channels and 48x48 planes, where blocked or tiled code has
    remainders and chunk boundaries that small cases never reach."""
    __tracebackhide__ = True
    cost = LARGE.max_gflop()
    require(impl, impl.max_gflop is None or impl.max_gflop >= cost, f"cost hint max_gflop below {cost:.2g} GFLOP")
    case = data.draw(conv_cases(impl.capabilities, limits=LARGE), label="case")
    check_matches_oracle(impl, case=case, what="agreement with the oracle on a larger layer")


@examples(1)
@given(data=st.data())
def test_agrees_with_the_referees(impl, registry, data):
    """``impl`` and each referee (:data:`REFEREES`) differ by at most the sum of their bounds (bitwise on
    small-integer data)."""
    __tracebackhide__ = True
    referees = [registry[name] for name in REFEREES if name in registry and name != impl.name]
    referees = [referee for referee in referees if referee.unavailable is None]
    require(impl, bool(referees), f"no referee ({', '.join(REFEREES)}) can run here")
    case = data.draw(conv_cases(impl.capabilities), label="case")
    x, weight, bias = case.arrays()
    problem = normalize(x, weight, bias, **case.geometry())
    for referee in referees:
        if referee.supports(problem, case.geometry()):
            check_agrees_with(impl, case=case, other=referee)

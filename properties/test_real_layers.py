"""Real layers: every entry on the layers of real networks, against the float64 reference that scales to them.

Each layer of the catalogue (:mod:`convcheck.properties.catalogue`) is a test of its own for each entry, so every layer
runs in every run (or is skipped with the reason: a capability the entry does not declare, or a cost over its hint); the
case's batch, dtype, layouts, values and seed are drawn (:mod:`convcheck.properties.layer_cases`). Small-integer data
are checked bitwise for exact-summation entries, everything else within the error bound including the reference's own
rounding (:mod:`convcheck.properties.scalable`).
"""

import pytest
from convcheck.properties.assertions import assert_close, record_evidence
from convcheck.properties.catalogue import LAYERS
from convcheck.properties.layer_cases import layer_cases, why_not
from convcheck.properties.reproductions import reproducible
from convcheck.properties.scalable import check_name, reference
from convcheck.properties.support import call_or_skip, examples, require
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("real_layers")


@reproducible
def check_real_layer(impl, case, layer: str) -> None:
    """One call of ``impl`` on ``case`` (a real layer, named by ``layer``) against the float64 reference."""
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    out = call_or_skip(impl, x, weight, bias, **case.geometry())
    expected, bound = reference(impl.error_model, x, weight, bias, **case.geometry())
    record_evidence(expected)
    what = f"agreement with the float64 reference on {layer}"
    assert_close(out, expected, bound, what, impl, case, f"the float64 reference, {check_name(bound)}")


@pytest.mark.parametrize("layer", LAYERS, ids=[layer.ident for layer in LAYERS])
@examples(0.04)  # 2 in the default profile: the simplest case, and one drawn at random
@given(data=st.data())
def test_real_layer_matches_the_float64_reference(impl, layer, data):
    """The entry is right on the layer at real sizes: bitwise on small integers (exact-summation), within the bound
    otherwise."""
    __tracebackhide__ = True
    reason = why_not(layer, impl)
    require(impl, reason is None, f"{layer.ident}: {reason}")
    case, note = data.draw(layer_cases(layer, impl), label="case")
    check_real_layer(impl, case=case, layer=note)

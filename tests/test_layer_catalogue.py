"""The real-layer family's machinery: the catalogue reaches every size class, crops fit what a case may cost, and the
float64 reference is exact on small integers and agrees with the extended-precision oracle."""

import math

import numpy as np
import pytest
from convcheck.impls import REGISTRY, Entry
from convcheck.properties.catalogue import LAYERS
from convcheck.properties.layer_cases import BATCHES, MAX_ELEMENTS, Size, allowance, crop, layer_cases, why_not
from convcheck.properties.oracle import reference_conv2d, tap_reads
from convcheck.properties.scalable import product_reference, reference
from convcheck.properties.simplify import normalized
from convcheck.properties.strategies import conv_cases, exact_cases
from hypothesis import Phase, given, seed, settings


def unhinted() -> Entry:
    """An entry with no cost hint (a user's callable): the reference's allowance alone."""
    return Entry.from_callable("unhinted", REGISTRY["torch"].function)


def drawn_cases(entry, count: int) -> list:
    """``count`` draws of every layer the entry runs, as in a run (a seed of its own for each layer, the same in every
    run of this test)."""
    cases = []
    for index, layer in enumerate(LAYERS):
        if why_not(layer, entry) is None:

            @seed(index)
            @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate])
            @given(layer_cases(layer, entry))
            def draw(drawn):
                cases.append(drawn[0])

            draw()
    return cases


def outputs(case) -> int:
    """The output elements of a case."""
    return math.prod(normalized(case).output_shape)


# The size classes the gallery's size-class bugs need (tests/gallery/buggy.py), each reached by drawn cases.
SIZE_CLASSES = {
    "batch past 16, with a tail": lambda case: case.n > 16 and case.n % 16,
    "batch past 32, with a tail": lambda case: case.n > 32 and case.n % 32,
    "output channels a group past 64, with a tail": lambda case: (q := case.c_out // case.groups) > 64 and q % 64,
    "output channels a group past 128, with a tail": lambda case: (q := case.c_out // case.groups) > 128 and q % 128,
    "input channels a group past 64, with a tail": lambda case: (q := case.c_in // case.groups) > 64 and q % 64,
    "input channels a group past 128, with a tail": lambda case: (q := case.c_in // case.groups) > 128 and q % 128,
    "output past 2**16 elements": lambda case: outputs(case) > 2**16,
    "output past 2**18 elements": lambda case: outputs(case) > 2**18,
    "kernel past 11 taps": lambda case: max(case.kh, case.kw) > 11,
    "dilation past 3": lambda case: max(case.dilation) > 3,
    "groups past 8": lambda case: case.groups > 8,
    "whole-input window": lambda case: (
        (case.kh, case.kw) == (case.h, case.w) and case.padding == (0, 0) and case.groups == 1 and case.h * case.w > 1
    ),
}


def test_every_size_class_is_reached_by_several_layers_in_every_run():
    """An entry without a cost hint meets each size class on at least three cases of two draws a layer (one default
    run), and its drawn batch sizes reach 64."""
    cases = drawn_cases(unhinted(), 2)
    counts = {name: sum(bool(test(case)) for case in cases) for name, test in SIZE_CLASSES.items()}
    assert {name: count for name, count in counts.items() if count < 3} == {}
    assert max(case.n for case in cases) == 64


@pytest.mark.parametrize("name", ["unhinted", *REGISTRY])
def test_crops_fit_the_allowance_and_keep_each_sum_and_every_tap(name):
    """At every batch size, a cropped layer fits what a case may cost the entry, keeps the length of each sum
    (K = C_in/groups * kH * kW) and its geometry, and every kernel tap still reads the input."""
    entry = unhinted() if name == "unhinted" else REGISTRY[name]
    for layer in LAYERS:
        for n in BATCHES:
            for dtype in entry.capabilities.dtypes:
                size = crop(layer, n, allowance(entry, dtype))
                if size is None:
                    continue
                assert size.fits(allowance(entry, dtype)), (layer.ident, n)
                assert size.depth == Size.of(layer).depth
                assert size.n <= n
                assert size.c_out <= layer.c_out
                assert size.groups <= layer.groups
                out_h, out_w = size.output
                for extent, outs, kernel, before in ((size.h, out_h, layer.kernel[0], layer.pads[0] // 2),
                                                     (size.w, out_w, layer.kernel[1], layer.pads[1] // 2)):  # fmt: skip
                    for tap in range(kernel):
                        assert tap_reads(extent, outs, layer.stride, tap * layer.dilation - before), layer.ident


def test_an_uncropped_layer_is_the_network_s_and_a_whole_input_window_stays_whole():
    entry = unhinted()
    head = next(layer for layer in LAYERS if layer.ident == "efficientnet-b0-squeeze-excite-1x1")
    assert crop(head, 64, allowance(entry)) == Size.of(head, 64)
    fc6 = next(layer for layer in LAYERS if layer.ident == "vgg-16-fc6-as-7x7")
    size = crop(fc6, 1, allowance(entry))
    assert (size.h, size.w, size.output) == (7, 7, (1, 1))
    assert size.c_out * size.depth <= MAX_ELEMENTS < fc6.c_out * size.depth  # cut by the weight's size only


@settings(max_examples=40, deadline=None)
@given(exact_cases())
def test_the_float64_reference_is_exact_on_small_integers(case):
    """Bitwise equal to the long-double oracle, and allowed no difference for an exact-summation entry."""
    x, weight, bias = case.arrays()
    expected, bound = reference("exact-summation", x, weight, bias, **case.geometry())
    assert bound == 0.0
    assert np.array_equal(expected, reference_conv2d(x, weight, bias, **case.geometry()))


@settings(max_examples=40, deadline=None)
@given(conv_cases(values=("normal", "wide")))
def test_the_float64_reference_is_within_its_own_share_of_the_bound(case):
    """On float data the float64 reference differs from the long-double oracle by less than its bound, which is at
    least the oracle's bound."""
    x, weight, bias = case.arrays()
    expected, bound = reference("exact-summation", x, weight, bias, **case.geometry())
    oracle = reference_conv2d(x, weight, bias, **case.geometry())
    assert np.all(np.abs(expected - oracle.astype(np.float64)) <= bound)


def test_a_product_s_reference_bounds_a_float32_matmul_and_not_a_float16_one():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 64, 576), np.float32), rng.standard_normal((2, 576, 300), np.float32)
    expected, bound = product_reference(a, b)
    assert np.all(np.abs(a @ b - expected) <= bound)
    assert np.any(np.abs((a.astype(np.float16) @ b.astype(np.float16)) - expected) > bound)

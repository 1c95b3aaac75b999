"""The property suite's own machinery: strategies, oracle, error model and reports are tested like any code."""

import functools

import numpy as np
import pytest
import torch
from convcheck.impls import REGISTRY, Capabilities, normalize
from convcheck.properties.assertions import evidence
from convcheck.properties.cases import ConvCase, with_layout
from convcheck.properties.corners import CORNERS
from convcheck.properties.errors import error_bound, is_exact_data
from convcheck.properties.oracle import reference_conv2d
from convcheck.properties.strategies import LARGE, SMALL, conv_cases, exact_cases
from hypothesis import Phase, given, settings

FEW = settings(max_examples=30, deadline=None)


@FEW
@given(conv_cases())
def test_drawn_cases_are_valid_by_construction(case):
    x, weight, bias = case.arrays()
    problem = normalize(x, weight, bias, **case.geometry())
    assert problem.x.shape == (case.n, case.c_in, case.h, case.w)
    assert np.all(np.isfinite(x))
    assert np.all(np.isfinite(weight))


@pytest.mark.parametrize("layout", ["fortran", "channels_last", "strided", "reversed"])
def test_layouts_keep_values_and_change_memory_order(layout):
    array = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    view = with_layout(array, layout)
    assert np.array_equal(view, array)
    assert not view.flags.c_contiguous


@settings(max_examples=200, deadline=None)
@given(conv_cases(values=("normal", "wide")))
def test_oracle_agrees_with_torch_in_float64(case):
    """The oracle is written independently; torch in float64 is an outside witness of it."""
    x, weight, bias = case.arrays()
    x, weight = x.astype(np.float64), weight.astype(np.float64)
    bias = None if bias is None else bias.astype(np.float64)
    problem = normalize(x, weight, bias, **case.geometry())
    top, bottom, left, right = problem.padding
    padded = torch.nn.functional.pad(torch.from_numpy(np.ascontiguousarray(x)), (left, right, top, bottom))
    witness = torch.nn.functional.conv2d(
        padded,
        torch.from_numpy(np.ascontiguousarray(weight)),
        None if bias is None else torch.from_numpy(bias),
        stride=problem.stride,
        dilation=problem.dilation,
        groups=problem.groups,
    ).numpy()
    expected = reference_conv2d(x, weight, bias, **case.geometry())
    assert witness.shape == expected.shape
    assert np.all(np.abs(witness - expected) <= error_bound("exact-summation", x, weight, bias, **case.geometry()))


def derandomized_sample(strategy, count: int = 200) -> list:
    """What ``strategy`` draws in ``count`` examples, the same every run."""
    drawn = []

    @settings(max_examples=count, deadline=None, database=None, derandomize=True, phases=[Phase.generate])
    @given(strategy)
    def draw(case):
        drawn.append(case)

    draw()
    return drawn


@pytest.mark.parametrize(
    "strategy", [conv_cases(), exact_cases(), conv_cases(limits=LARGE)], ids=["cases", "exact_cases", "large_cases"]
)
def test_weak_evidence_is_a_small_minority(strategy):
    """Examples whose outputs are mostly zero or all equal prove little: at most 15% of what the strategies draw."""
    kinds = []
    for case in derandomized_sample(strategy):
        x, weight, bias = case.arrays()
        kinds.append(evidence(reference_conv2d(x, weight, bias, **case.geometry())))
    weak = sum(kind.startswith("weak") for kind in kinds) / len(kinds)
    assert len(kinds) >= 150
    assert weak <= 0.15, f"{weak:.0%} of {len(kinds)} drawn cases are weak evidence"


def output_extents(case) -> tuple[int, int]:
    return normalize(*case.arrays(), **case.geometry()).output_shape[2:]


def is_corner(corner, case) -> bool:
    """Whether ``case`` has the geometry and grouping of ``corner``."""
    depthwise = case.groups == case.c_in >= 2 and case.c_out == corner.multiplier * case.c_in
    grouping = {"any": True, "grouped": case.groups >= 2, "depthwise": depthwise}[corner.groups]
    return (
        (case.kh, case.kw) in corner.kernels
        and case.stride[0] == case.stride[1] in corner.strides
        and case.dilation == (corner.dilation, corner.dilation)
        and grouping
    )


# The classes where blocked and tiled kernels break, each drawn in every run: the catalogue's corners, and these.
SIZE_CLASSES = {
    "odd W_out": lambda case, out: out[1] % 2 == 1,
    "even W_out > 1": lambda case, out: out[1] % 2 == 0,
    "W_out past 32": lambda case, out: out[1] > 32 and out[1] % 32,
    "W_out past 64": lambda case, out: out[1] > 64,
    "H_out past 64": lambda case, out: out[0] > 64,
    "N with a tail after 2 and 4": lambda case, out: case.n in (5, 7),
    "N with a tail after 8": lambda case, out: case.n == 9,
    "C_in per group past 16, with a remainder": lambda case, out: case.c_in // case.groups > 16 and case.c_in % 16,
    "C_out past 32": lambda case, out: case.c_out > 32,
    "kernel past 11 taps": lambda case, out: max(case.kh, case.kw) > 11,
    "dilation past 3": lambda case, out: max(case.dilation) > 3 and max(case.kh, case.kw) > 1,
}


@functools.cache
def default_draws() -> tuple:
    """1000 derandomized draws of the default case strategy (a few default runs' worth for one implementation)."""
    return tuple(derandomized_sample(conv_cases(), 1000))


def test_every_corner_and_size_class_is_drawn_often():
    """Each corner of the catalogue and each size class is at least 1% of the draws (the rarest is about 1.7%, so
    that one default run, about 300 draws for the agreement and exactness of one implementation, meets each a few
    times)."""
    cases = default_draws()
    counts = {corner.name: sum(is_corner(corner, case) for case in cases) for corner in CORNERS}
    extents = [output_extents(case) for case in cases]
    counts.update({name: sum(map(test, cases, extents)) for name, test in SIZE_CLASSES.items()})
    assert {name: count for name, count in counts.items() if count < len(cases) // 100} == {}


def test_drawn_sizes_stay_within_the_budget_and_reach_real_extents():
    """Every case costs at most the budget's multiply-adds, positions, planes and elements; together they reach
    130 outputs along an axis, 9 images and 64 channels."""
    cases = default_draws()
    budget = SMALL.budget
    for case in cases:
        h_out, w_out = output_extents(case)
        planes = case.n * case.c_out * (case.c_in // case.groups)
        assert planes * h_out * w_out * case.kh * case.kw <= budget.macs, case.descriptor()
        assert h_out * w_out <= budget.positions, case.descriptor()
        assert planes <= budget.planes, case.descriptor()
        assert max(case.n * case.c_in * case.h * case.w, case.n * case.c_out * h_out * w_out) <= budget.elements
    assert max(max(output_extents(case)) for case in cases) >= 130
    assert max(case.n for case in cases) == 9
    assert max(max(case.c_in, case.c_out) for case in cases) == 64


PARTIAL = {
    "square arguments, one padding int": Capabilities(
        square_strides=True, square_dilations=True, int_padding=True, padding_strings=(), groups=False
    ),
    "symmetric padding, odd kernels, no bias": Capabilities(symmetric_padding=True, odd_kernels=True, bias=False),
    "'valid' only, stride 1 and 2": Capabilities(padding_strings=("valid",), strides=(1, 2), dilations=(1,)),
    "3x3 stride 1": Capabilities(kernel_sizes=((3, 3),), strides=(1,), dilations=(1,), dtypes=("float32",)),
}


@pytest.mark.parametrize("capabilities", PARTIAL.values(), ids=PARTIAL.keys())
def test_cases_stay_inside_declared_capabilities_by_construction(capabilities):
    """Every draw is inside the declaration, arguments spelled as declared, without a filter (no health check can
    fail) and still with corners."""
    cases = derandomized_sample(conv_cases(capabilities), 150)
    for case in cases:
        problem = normalize(*case.arrays(), **case.geometry())
        assert capabilities.why_unsupported(problem, case.geometry()) is None, case.descriptor()
    assert any(is_corner(corner, case) for case in cases for corner in CORNERS)


def test_a_corner_only_failure_shrinks_to_a_small_case():
    """A property failing only for 3x3 stride-1 layers with an odd output width shrinks to one small such layer."""
    seen = []

    # Every setting a profile of the suite changes is fixed here: the search path is the same in any run.
    @settings(max_examples=300, deadline=None, database=None, derandomize=True, report_multiple_bugs=True,
              suppress_health_check=(), phases=tuple(Phase))  # fmt: skip
    @given(conv_cases())
    def fast_path_bug(case):
        seen.append(case)
        w_out = output_extents(case)[1]
        assert not ((case.kh, case.kw, case.stride, case.dilation) == (3, 3, (1, 1), (1, 1)) and w_out % 2)

    with pytest.raises(AssertionError):
        fast_path_bug()
    shrunk = seen[-1]  # the minimal failing example is replayed last
    assert shrunk.n == 1, shrunk.descriptor()
    # the fewest channels of the corner it lands in: one, or a depthwise corner's two groups (times its multiplier)
    assert shrunk.c_in <= 2, shrunk.descriptor()
    assert shrunk.c_out <= 2 * (shrunk.c_out // shrunk.c_in), shrunk.descriptor()
    assert output_extents(shrunk)[1] == 1, shrunk.descriptor()
    assert shrunk.h * shrunk.w <= 9, shrunk.descriptor()


def _float16_accumulation(case):
    x, weight, _bias = case.arrays()
    return reference_conv2d(x.astype(np.float16), weight.astype(np.float16), None, dtype=np.float16, **case.geometry())


def test_error_bound_rejects_float16_accumulation_and_accepts_float32():
    case = ConvCase(n=2, c_in=4, h=9, w=9, c_out=3, kh=3, kw=3, values="normal", seed=7)
    x, weight, bias = case.arrays()
    exact = reference_conv2d(x, weight, bias, **case.geometry())
    bound = error_bound("exact-summation", x, weight, bias, **case.geometry())
    assert np.all(np.abs(REGISTRY["torch"](x, weight, bias, **case.geometry()) - exact) <= bound)
    assert np.any(np.abs(_float16_accumulation(case) - exact) > bound)


def test_exact_data_are_recognized():
    x, weight, bias = ConvCase(values="int", bias=True).arrays()
    assert is_exact_data(x, weight, bias)
    assert not is_exact_data(x + 0.5, weight, bias)
    assert not is_exact_data(x * 2.0**30, weight * 2.0**30, bias)  # partial sums no longer representable

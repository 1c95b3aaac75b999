"""The Hypothesis strategies of valid configurations (:class:`convcheck.properties.cases.ConvCase`), valid by
construction.

Drawn within a budget, inside an entry's declared capabilities: uniform geometries or the corners libraries
special-case, output extents and channel counts at blocking edges. Hypothesis shrinks the configuration (sizes,
stride, padding, ...) towards the smallest that still fails. The invalid calls are in
:mod:`convcheck.properties.invalid_calls`, the extreme arguments in :mod:`convcheck.properties.extreme_cases`.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
from convcheck.impls import Capabilities, output_size
from convcheck.properties.cases import DRAWN, LAYOUTS, VALUE_KINDS, ConvCase, leading_values
from convcheck.properties.corners import CORNERS, Corner, allowed_values, corner_options, takes_padding_string
from hypothesis import strategies as st


@dataclass(frozen=True)
class Budget:
    """What one drawn case may cost, so that real extents come thin where they are wide: multiply-adds, elements of
    any one array, output positions (what a loop over windows iterates) and (image, output channel, input channel)
    triples (what a loop over single-plane correlations iterates)."""

    macs: int = 2**18
    elements: int = 2**16
    positions: int = 2**11
    planes: int = 2**9


@dataclass(frozen=True)
class Limits:
    """The range a strategy draws from: the uniform part up to these values (from 1, padding from 0; C_in and H, W
    from a floor), the real sizes of the catalogue up to its edges, all under the budget."""

    batch: int
    channels: int  # per group, C_in and C_out
    size: int  # H and W, unless the kernel needs a larger input
    kernel: int
    stride: int
    dilation: int
    padding: int
    min_channels: int = 1  # C_in
    min_size: int = 1  # H and W
    budget: Budget = Budget()
    # A quarter of the uniform geometries reach further, one of the two: kernels up to 31 (RepLKNet's), or dilations
    # up to 24 (DeepLab's atrous rates); the budget makes them thin (few channels, small outputs).
    far_kernel: int = 31
    far_dilation: int = 24

    def max_gflop(self) -> float:
        """An upper bound of the cost of one drawn case, ``2 * N * C_out * H_out * W_out * C_in/G * kH * kW``."""
        return 2 * self.budget.macs / 1e9


SMALL = Limits(batch=4, channels=8, size=24, kernel=7, stride=4, dilation=3, padding=4)
# Past the small cases: uniform channel counts beyond a blocking factor of 8 or 16, planes beyond tiles of 16 or 32.
LARGE = Limits(
    batch=2, channels=24, size=48, kernel=5, stride=3, dilation=2, padding=3, min_channels=9, min_size=25,
    budget=Budget(macs=2**21, elements=2**17, positions=2**12, planes=2**11),
)  # fmt: skip

# Real sizes, where blocked and tiled code has its edges: output extents at tiles of 2 to 128, +-1 (odd and even);
# channel counts at blocking factors 8 to 64, +-1; batch sizes with a tail after blocks of 2, 4 and 8.
OUTPUT_EDGES = (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 130)
CHANNEL_EDGES = (7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64)
BATCH_EDGES = (3, 5, 7, 9)


def built_once(composite):
    """``composite`` (an ``st.composite`` function) giving one strategy object per arguments, as Hypothesis's own
    strategies do: Hypothesis analyses each new strategy object (validation, emptiness, labels) at its first draw,
    about a tenth of what drawing a case costs when a test builds its strategy anew for each example. Arguments that
    cannot be hashed build a new one."""
    cached = functools.cache(composite)

    @functools.wraps(composite)
    def strategy(*arguments, **keywords):
        try:
            return cached(*arguments, **keywords)
        except TypeError:  # an unhashable argument (building the strategy itself draws nothing)
            return composite(*arguments, **keywords)

    return strategy


@functools.cache
def _one_of(options: tuple) -> st.SearchStrategy:
    """``sampled_from(options)``, built once per tuple of options: Hypothesis analyses each new strategy object (its
    emptiness, labels, validation) at its first draw, which cost more than the draws themselves when built anew."""
    return st.sampled_from(options)


@functools.cache
def _count_strategy(low: int, high: int, edges: tuple[int, ...]) -> st.SearchStrategy[int]:
    uniform = st.integers(low, high)
    return st.one_of(uniform, _one_of(edges)) if edges else uniform


def _drawn_pair(draw, values, square: bool) -> tuple[int, int]:
    """Two draws from ``values``, or one used for both axes when ``square``."""
    first = draw(values)
    return (first, first) if square else (first, draw(values))


def _count(draw, low: int, uniform_high: int, edges: tuple[int, ...], cap: int) -> int:
    """A count from ``low``: half the draws uniform up to ``uniform_high``, half at the edges; never above ``cap``
    (unless ``low`` is)."""
    cap = max(cap, low)
    at_edges = tuple(v for v in edges if low <= v <= cap)
    return draw(_count_strategy(low, max(low, min(uniform_high, cap)), at_edges))


@dataclass(frozen=True)
class _Geometry:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: object  # (ph, pw), 'same' or 'valid'
    grouping: str = "any"
    multiplier: int = 1


def _same_dilations(capabilities: Capabilities, kernel, values: list[int]) -> list[tuple[int, int]]:
    """The dilations for which 'same' padding is declared for this kernel (even totals, if padding is symmetric)."""
    pairs = [(dh, dw) for dh in values for dw in values if dh == dw or not capabilities.square_dilations]
    if capabilities.symmetric_padding:
        pairs = [(dh, dw) for dh, dw in pairs if dh * (kernel[0] - 1) % 2 == 0 and dw * (kernel[1] - 1) % 2 == 0]
    return pairs


@functools.cache
@st.composite
def _uniform_geometry(draw, capabilities: Capabilities, padding_modes, limits: Limits, ints: bool) -> _Geometry:
    """Kernel, padding mode, stride, dilation and padding, each uniform in its range (or the far one, see
    :class:`Limits`) and inside the capabilities."""
    reach = draw(st.integers(0, 7))  # 6: kernels up to far_kernel, 7: dilations up to far_dilation
    if capabilities.kernel_sizes is not None:
        kernels = [k for k in capabilities.kernel_sizes if not capabilities.odd_kernels or k[0] % 2 * k[1] % 2]
        kh, kw = draw(_one_of(tuple(kernels)))
    else:
        largest = limits.far_kernel if reach == 6 else limits.kernel
        sizes = [k for k in range(1, largest + 1) if not capabilities.odd_kernels or k % 2]
        kh, kw = _drawn_pair(draw, _one_of(tuple(sizes)), square=False)
    strides = allowed_values(capabilities.strides, 1, limits.stride)
    dilations = allowed_values(capabilities.dilations, 1, limits.far_dilation if reach == 7 else limits.dilation)
    same_dilations = _same_dilations(capabilities, (kh, kw), dilations) if 1 in strides else []
    modes = [m for m in padding_modes if m in ("pair", "none") or takes_padding_string(m, capabilities, padding_modes)]
    mode = draw(_one_of(tuple(m for m in modes if m != "same" or same_dilations)))
    if mode == "same":  # 'same' is defined for stride 1 only
        return _Geometry((kh, kw), (1, 1), draw(_one_of(tuple(same_dilations))), "same")
    stride = _drawn_pair(draw, _one_of(tuple(strides)), ints or capabilities.square_strides)
    dilation = _drawn_pair(draw, _one_of(tuple(dilations)), ints or capabilities.square_dilations)
    if mode == "pair":
        padding = _drawn_pair(draw, st.integers(0, limits.padding), ints or capabilities.int_padding)
    else:
        padding = (0, 0) if mode == "none" else mode
    return _Geometry((kh, kw), stride, dilation, padding)


@functools.cache
def _weighted_corners(capabilities: Capabilities, padding_modes: tuple, min_groups: int) -> tuple:
    """The corners inside the capabilities with their (kernel, stride, padding) options, each repeated by its
    weight: what a corner case draws from."""
    corners = [(c, tuple(o)) for c in CORNERS if (o := corner_options(c, capabilities, padding_modes, min_groups))]
    return tuple(choice for choice in corners for _ in range(choice[0].weight))


@functools.cache
@st.composite
def _corner_geometry(draw, corner: Corner, options) -> _Geometry:
    kernel, stride, padding = draw(_one_of(tuple(options)))
    return _Geometry(kernel, (stride, stride), (corner.dilation,) * 2, padding, corner.groups, corner.multiplier)


def _input_extent(draw, out: int, kernel: int, stride: int, dilation: int, pads: int, floor: int) -> int:
    """An input extent that gives ``out`` outputs (plus up to stride - 1 unused rows), or the floor's output."""
    extra = draw(st.integers(0, stride - 1))
    return max(floor, (out - 1) * stride + dilation * (kernel - 1) + 1 - pads + extra)


@built_once
@st.composite
def conv_cases(
    draw,
    capabilities: Capabilities = Capabilities(),
    values=VALUE_KINDS,
    layouts: bool = True,
    min_groups: int = 1,
    padding_modes=("pair", "same", "valid"),
    bias=None,
    limits: Limits = SMALL,
) -> ConvCase:
    """Configurations inside ``capabilities``, by construction: the geometry (uniform, or one of the ``CORNERS``),
    then the output extents (uniform inputs, or outputs at ``OUTPUT_EDGES``), then groups, channels and batch
    (uniform, or at ``CHANNEL_EDGES`` and ``BATCH_EDGES``), each within what ``limits.budget`` leaves.

    ``padding_modes`` may hold "pair", "same", "valid" and "none" (zero padding as a pair). A quarter of the cases
    spell stride, padding and dilation as one int for both axes (the contract's other form); all do when the
    capabilities declare one-int arguments.
    """
    if bias and not capabilities.bias:
        raise ValueError("bias=True asked of an implementation that declares no bias")
    spelled_once = capabilities.square_strides or capabilities.square_dilations or capabilities.int_padding
    ints = spelled_once or draw(st.integers(0, 3)) == 3  # shrinks towards pairs
    weighted = _weighted_corners(capabilities, tuple(padding_modes), min_groups)
    uniform = _uniform_geometry(capabilities, tuple(padding_modes), limits, ints)
    corner = draw(_one_of(weighted)) if weighted and draw(st.integers(0, 2)) else None  # two cases in three
    geometry = draw(uniform if corner is None else _corner_geometry(*corner))
    (kh, kw), stride, dilation = geometry.kernel, geometry.stride, geometry.dilation
    if geometry.padding == "same":
        totals = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
    else:
        totals = (0, 0) if geometry.padding == "valid" else (2 * geometry.padding[0], 2 * geometry.padding[1])
    spans = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    budget = limits.budget
    if geometry.grouping == "depthwise":  # the fewest (input channel, output channel) pairs the grouping leaves
        fewest = max(2, min_groups) * geometry.multiplier
    else:
        fewest = max(min_groups, 2 if geometry.grouping == "grouped" else 1, limits.min_channels)
    # Real extents: the outputs at the edges, within the budget (thin where wide); a kernel spanning more than the
    # uniform inputs (the far reach) takes the smallest input it fits, so that the input stays within the budget.
    if max(spans) <= limits.size and draw(st.booleans()):
        wide = min(budget.positions, budget.macs // (kh * kw * fewest))
        w_out = draw(_one_of(tuple(v for v in OUTPUT_EDGES if v <= wide)))
        h_out = draw(_one_of(tuple(v for v in OUTPUT_EDGES if v <= max(1, wide // w_out))))
        h = _input_extent(draw, h_out, kh, stride[0], dilation[0], totals[0], limits.min_size)
        w = _input_extent(draw, w_out, kw, stride[1], dilation[1], totals[1], limits.min_size)
    else:
        h, w = (
            draw(st.integers(lo, max(lo, limits.size)))
            for lo in (max(limits.min_size, s - t) for s, t in zip(spans, totals, strict=True))
        )
    positions = output_size(h, kh, stride[0], totals[0], dilation[0]) * output_size(w, kw, stride[1], totals[1],
                                                                                      dilation[1])  # fmt: skip

    def room(*drawn: int) -> int:
        """How many times the product of the counts drawn so far fits into the budget (the others counted as 1)."""
        used = int(np.prod(drawn, dtype=np.int64))
        return min(
            budget.macs // (used * positions * kh * kw),
            budget.elements // (used * max(h * w, positions, kh * kw)),
            budget.planes // used,
        )

    n = _count(draw, 1, limits.batch, BATCH_EDGES, room(fewest))  # leaves room for the channels drawn next
    top = CHANNEL_EDGES[-1]
    if geometry.grouping == "depthwise":  # one input channel a group, ``multiplier`` outputs each
        m = geometry.multiplier
        groups = _count(draw, max(2, min_groups), limits.channels, CHANNEL_EDGES, min(top // m, room(n, m)))
        c_group, c_out_group = 1, m
    else:
        low = max(2, min_groups) if geometry.grouping == "grouped" else min_groups
        groups = 1
        if capabilities.groups and (low > 1 or draw(st.booleans())):  # half of the cases keep all channels together
            groups = draw(st.integers(low, max(low, min(limits.channels, room(n)))))
        c_group = _count(draw, -(-limits.min_channels // groups), limits.channels, CHANNEL_EDGES,
                         min(top // groups, room(n, groups)))  # fmt: skip
        c_out_group = _count(draw, 1, limits.channels, CHANNEL_EDGES, min(top // groups, room(n, groups, c_group)))
    kind = draw(_one_of(tuple(values)))
    scale = (draw(st.integers(-12, 12)), draw(st.integers(-12, 12)))  # drawn for every kind: see with_drawn_values
    case = ConvCase(
        n=n,
        c_in=groups * c_group,
        h=h,
        w=w,
        c_out=groups * c_out_group,
        kh=kh,
        kw=kw,
        stride=stride,
        padding=geometry.padding,
        dilation=dilation,
        groups=groups,
        bias=(capabilities.bias and draw(st.booleans())) if bias is None else bias,
        dtype=draw(_one_of(tuple(capabilities.dtypes))),
        values=kind,
        scale=scale if kind != "int" else (0, 0),
        layout=(draw(_one_of(LAYOUTS)), draw(_one_of(LAYOUTS))) if layouts else LAYOUTS[:1] * 2,
        ints=ints,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    return with_drawn_values(draw, case)


def with_drawn_values(draw, case: ConvCase) -> ConvCase:
    """``case`` carrying Hypothesis-drawn leading values for each array.

    The values are one fixed-size draw, whatever the kind and the shapes, so that when Hypothesis shrinks the
    geometry or switches float data to small integers the values stay where they were. An all-zero array shows
    nothing: where the used values of x or of weight are all zero (the draw Hypothesis shrinks to), the first is 1,
    by construction rather than by a filter, which would reject the draw after every other field was drawn.
    """
    used = tuple(
        0 if shape is None else min(math.prod(shape), k) for shape, k in zip(case.shapes(), DRAWN, strict=True)
    )
    pools = _split(draw(_POOLS))
    data = [leading_values(pool, count) for pool, count in zip(pools, used, strict=True)]
    data[:2] = [values or (1,) for values in data[:2]]
    return replace(case, data=tuple(data))


_POOLS = st.binary(min_size=sum(DRAWN), max_size=sum(DRAWN))


def _split(pools: bytes) -> list[bytes]:
    """The drawn bytes as the pools of x, weight and bias."""
    ends = itertools.accumulate(DRAWN)
    return [pools[end - k : end] for end, k in zip(ends, DRAWN, strict=True)]


def exact_cases(capabilities: Capabilities = Capabilities(), **constraints):
    """Small-integer data: exact summation gives the exact result, bitwise."""
    return conv_cases(capabilities, values=("int",), **constraints)


@st.composite
def call_sequences(
    draw, capabilities: Capabilities = Capabilities(), length: int = 3, cases=None, varied=replace
) -> list[ConvCase]:
    """Cases to call one after another: a first one, then each a new draw, the first with other values (same shapes,
    so a cache keyed by shape or by a reused ``id()`` answers stale), or the first in another dtype. ``cases``: the
    strategy of the calls (default: ``conv_cases(capabilities)``); ``varied(case, **fields)``: the case with other
    values of ConvCase's ``fields`` (default: :func:`dataclasses.replace`, for a ConvCase)."""
    cases = conv_cases(capabilities) if cases is None else cases
    first = draw(cases)
    calls = [first]
    for _ in range(length - 1):
        how = draw(st.sampled_from(("other values", "other dtype", "other case")))
        if how == "other values":
            calls.append(varied(first, seed=draw(st.integers(0, 2**32 - 1)), data=None))
        elif how == "other dtype" and len(capabilities.dtypes) > 1:
            dtype = draw(_one_of(tuple(capabilities.dtypes)))
            calls.append(varied(first, dtype=dtype, seed=draw(st.integers(0, 2**32 - 1)), data=None))
        else:
            calls.append(draw(cases))
    return calls

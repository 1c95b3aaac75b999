"""Every Hypothesis strategy of the suite, valid by construction.

A :class:`ConvCase` is a small, printable configuration: geometry, dtype, how values are drawn, memory layouts and a
seed. Hypothesis draws the leading values of each array itself (up to :data:`DRAWN` of them; the rest come from the
seed), and the case carries them, so that a failure shrinks to the fewest and smallest nonzero values: they are the
values of small-integer data, and the zero pattern of float data. A failing case replays from its code alone, and
Hypothesis shrinks the configuration (sizes, stride, padding, ...) towards the smallest that still fails.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, fields, replace

import numpy as np
from hypothesis import strategies as st

from impls import Capabilities, output_size

VALUE_KINDS = ("int", "normal", "positive", "wide")
LAYOUTS = ("contiguous", "fortran", "channels_last", "strided", "reversed")


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


@dataclass(frozen=True)
class Corner:
    """A configuration that libraries special-case: the kernels, strides and paddings it fixes (square, dilation
    ``dilation``) and its grouping; everything else is drawn as usual. A padding is an int for both axes, ``"half"``
    (``dilation * (k - 1) // 2`` per axis) or ``"same"``."""

    name: str
    kernels: tuple[tuple[int, int], ...]
    strides: tuple[int, ...] = (1,)
    paddings: tuple = (0, "half", "same")
    dilation: int = 1
    groups: str = "any"  # "any" (drawn as usual), "grouped" (at least 2) or "depthwise" (one input channel a group)
    multiplier: int = 1  # depthwise: output channels per input channel
    weight: int = 1  # drawn this many times as often as a corner of weight 1 (how common it is in real networks)


CORNERS = (
    Corner("1x1", ((1, 1),), paddings=(0,), weight=2),
    Corner("1x1 stride 2", ((1, 1),), strides=(2,), paddings=(0,)),
    Corner("1x1 grouped", ((1, 1),), paddings=(0,), groups="grouped", weight=2),
    Corner("3x3 stride 1", ((3, 3),), weight=3),
    Corner("3x3 stride 2", ((3, 3),), strides=(2,), paddings=("half", 0)),
    Corner("3x3 dilation 2", ((3, 3),), dilation=2),
    Corner("depthwise 3x3", ((3, 3),), strides=(1, 2), paddings=("half", 0), groups="depthwise"),
    Corner(
        "depthwise 3x3 x2", ((3, 3),), strides=(1, 2), paddings=("half", 0), groups="depthwise", multiplier=2, weight=2
    ),
    Corner("5x5", ((5, 5),)),
    Corner("1xk", ((1, 3), (1, 5), (1, 7))),
    Corner("kx1", ((3, 1), (5, 1), (7, 1))),
    Corner("7x7 stride 2 stem", ((7, 7),), strides=(2,), paddings=("half",), weight=2),
    Corner("11x11 stride 4", ((11, 11),), strides=(4,), paddings=(2, 0)),
)


INT_VALUES = (-3, 3)  # small integers: every product and partial sum of the drawn shapes is exact
DRAWN = (64, 64, 16)  # leading elements of x, weight and bias whose values Hypothesis draws


# Each drawn byte as its value + 3: byte 0 is value 0 and small bytes are small values, as Hypothesis shrinks them.
_SHIFTED_VALUE = bytes((byte + 3) % 7 for byte in range(256))


def leading_values(pool: bytes, count: int) -> tuple[int, ...]:
    """The first ``count`` values (in INT_VALUES) of a drawn pool, without trailing zeros."""
    return tuple(shifted - 3 for shifted in pool[:count].translate(_SHIFTED_VALUE).rstrip(b"\x03"))


@dataclass(frozen=True)
class ConvCase:
    """One conv2d configuration, with its data described (a seed and the drawn leading values) so that it prints
    and replays."""

    n: int = 1
    c_in: int = 1
    h: int = 4
    w: int = 4
    c_out: int = 1
    kh: int = 1
    kw: int = 1
    stride: tuple[int, int] = (1, 1)
    padding: object = (0, 0)  # (ph, pw), 'same' or 'valid'
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = False
    dtype: str = "float32"
    values: str = "int"
    scale: tuple[int, int] = (0, 0)  # powers of two for x and weight (float kinds)
    layout: tuple[str, str] = ("contiguous", "contiguous")  # x, weight
    ints: bool = False  # pass stride, padding and dilation as one int where both axes agree
    seed: int = 0
    # Drawn leading values of (x, weight, bias) in C order, trailing zeros left out (see ``arrays``); None: all seeded
    data: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None

    def __post_init__(self):
        """Drawn values beyond an array's size (a case whose shapes were changed) are dropped."""
        if self.data is not None:
            sizes = [0 if shape is None else math.prod(shape) for shape in self.shapes()]
            kept = tuple(tuple(v[: min(size, k)]) for v, size, k in zip(self.data, sizes, DRAWN, strict=True))
            object.__setattr__(self, "data", kept)

    def shapes(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...] | None]:
        """The shapes of x, weight and bias (None without bias)."""
        weight = (self.c_out, self.c_in // self.groups, self.kh, self.kw)
        return (self.n, self.c_in, self.h, self.w), weight, (self.c_out,) if self.bias else None

    def geometry(self) -> dict:
        """The keyword arguments of the conv2d call."""

        def spelled(pair):
            return one_int_where_equal(pair) if self.ints else pair

        return {
            "stride": spelled(self.stride),
            "padding": spelled(self.padding),
            "dilation": spelled(self.dilation),
            "groups": self.groups,
        }

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Fresh (x, weight, bias) for this case, in the case's memory layouts.

        Values come from the seed; where the case carries drawn values (the first ``DRAWN`` elements of each array),
        small-integer data take them, and float data keep their seeded value only where the drawn one is nonzero.
        Small-integer data with drawn values and seed 0 are zero past the drawn elements: the seed shrinks to 0 when
        the rest of the data does not matter, so that a shrunk case shows only the values that do.
        """
        rng = np.random.default_rng(self.seed)
        exponents = (self.scale[0], self.scale[1], self.scale[0] + self.scale[1])
        arrays = []
        for index, (shape, exponent) in enumerate(zip(self.shapes(), exponents, strict=True)):
            if shape is None:
                arrays.append(None)
                continue
            array = draw_values(rng, shape, self.values, exponent, self.dtype)
            if self.data is not None:
                head = array.reshape(-1)[: DRAWN[index]]
                drawn = np.zeros(head.size)
                drawn[: len(self.data[index])] = self.data[index]
                head[...] = drawn if self.values == "int" else np.where(drawn != 0, head, 0)
                if self.values == "int" and self.seed == 0:
                    array.reshape(-1)[DRAWN[index] :] = 0
            arrays.append(array)
        x, weight, bias = arrays
        return with_layout(x, self.layout[0]), with_layout(weight, self.layout[1]), bias

    def reseeded(self, offset: int = 1) -> ConvCase:
        """The same configuration with other values (from the seed plus ``offset``)."""
        return replace(self, seed=self.seed + offset, data=None)

    def descriptor(self) -> str:
        """One line, e.g. ``n2 ic3 ih7 iw5 oc4 kh3 kw2 sh2 sw1 ph1 pw0 dh1 dw1 g1 bias float32 int``."""
        if isinstance(self.padding, str):
            pad = f"pad={self.padding}"
        else:
            pad = f"ph{self.padding[0]} pw{self.padding[1]}"
        parts = [
            f"n{self.n} ic{self.c_in} ih{self.h} iw{self.w} oc{self.c_out} kh{self.kh} kw{self.kw}",
            f"sh{self.stride[0]} sw{self.stride[1]} {pad} dh{self.dilation[0]} dw{self.dilation[1]} g{self.groups}",
            "bias" if self.bias else "nobias",
            self.dtype,
            self.values if self.values == "int" else f"{self.values}(2^{self.scale[0]}, 2^{self.scale[1]})",
        ]
        if self.layout != ("contiguous", "contiguous"):
            parts.append(f"layout x={self.layout[0]} w={self.layout[1]}")
        if self.ints:
            parts.append("int-args")
        return " ".join(parts)

    def contiguous(self) -> ConvCase:
        return replace(self, layout=("contiguous", "contiguous"))

    def code(self) -> str:
        """A Python expression that rebuilds this case (the fields that differ from their defaults)."""
        changed = ((f.name, getattr(self, f.name)) for f in fields(self))
        return "ConvCase(" + ", ".join(f"{name}={value!r}" for name, value in changed if value != DEFAULT[name]) + ")"

    def _repr_pretty_(self, printer, cycle) -> None:
        """Hypothesis prints a drawn case as its one-line descriptor."""
        printer.text(self.descriptor())


DEFAULT = {f.name: f.default for f in fields(ConvCase)}


def one_int_where_equal(pair):
    """A pair spelled as one int when both axes agree (the contract's other form); strings as they are."""
    return pair[0] if not isinstance(pair, str) and pair[0] == pair[1] else pair


def draw_values(rng: np.random.Generator, shape, kind: str, exponent: int, dtype: str) -> np.ndarray:
    """Small integers (exact arithmetic) or floats of a given magnitude, never NaN, inf or subnormal."""
    if kind == "int":
        values = rng.integers(INT_VALUES[0], INT_VALUES[1] + 1, size=shape)
    elif kind == "normal":
        values = rng.standard_normal(shape)
    elif kind == "positive":
        values = rng.uniform(0.5, 1.0, size=shape)
    else:  # "wide": magnitudes spread over 2**-8 .. 2**8, random signs
        values = rng.choice([-1.0, 1.0], size=shape) * np.exp2(rng.uniform(-8, 8, size=shape))
    return np.ldexp(values, exponent if kind != "int" else 0).astype(dtype)


def with_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout: a view that is not C-contiguous (except 'contiguous')."""
    if layout == "contiguous" or array.ndim < 2:
        return np.ascontiguousarray(array)
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "channels_last":  # memory order N, H, W, C viewed as N, C, H, W
        return np.ascontiguousarray(np.moveaxis(array, 1, -1)).transpose(0, 3, 1, 2)
    if layout == "strided":  # every other element of a larger buffer
        buffer = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), dtype=array.dtype)
        buffer[..., ::2] = array
        return buffer[..., ::2]
    reversed_copy = np.ascontiguousarray(array[..., ::-1, ::-1])  # "reversed": negative strides
    return reversed_copy[..., ::-1, ::-1]


def allowed_values(values: tuple[int, ...] | None, low: int, high: int) -> list[int]:
    """The values from ``low`` to ``high`` that a capability (None: every value) allows."""
    return [v for v in range(low, high + 1) if values is None or v in values]


def _drawn_pair(draw, values, square: bool) -> tuple[int, int]:
    """Two draws from ``values``, or one used for both axes when ``square``."""
    first = draw(values)
    return (first, first) if square else (first, draw(values))


def _count(draw, low: int, uniform_high: int, edges: tuple[int, ...], cap: int) -> int:
    """A count from ``low``: half the draws uniform up to ``uniform_high``, half at the edges; never above ``cap``
    (unless ``low`` is)."""
    cap = max(cap, low)
    uniform = st.integers(low, max(low, min(uniform_high, cap)))
    at_edges = [v for v in edges if low <= v <= cap]
    return draw(st.one_of(uniform, st.sampled_from(at_edges)) if at_edges else uniform)


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


def _string_padding(mode: str, capabilities: Capabilities, padding_modes) -> bool:
    return mode in padding_modes and mode in capabilities.padding_strings and not capabilities.int_padding


@st.composite
def _uniform_geometry(draw, capabilities: Capabilities, padding_modes, limits: Limits, ints: bool) -> _Geometry:
    """Kernel, padding mode, stride, dilation and padding, each uniform in its range (or the far one, see
    :class:`Limits`) and inside the capabilities."""
    reach = draw(st.integers(0, 7))  # 6: kernels up to far_kernel, 7: dilations up to far_dilation
    if capabilities.kernel_sizes is not None:
        kernels = [k for k in capabilities.kernel_sizes if not capabilities.odd_kernels or k[0] % 2 * k[1] % 2]
        kh, kw = draw(st.sampled_from(kernels))
    else:
        largest = limits.far_kernel if reach == 6 else limits.kernel
        sizes = [k for k in range(1, largest + 1) if not capabilities.odd_kernels or k % 2]
        kh, kw = _drawn_pair(draw, st.sampled_from(sizes), square=False)
    strides = allowed_values(capabilities.strides, 1, limits.stride)
    dilations = allowed_values(capabilities.dilations, 1, limits.far_dilation if reach == 7 else limits.dilation)
    same_dilations = _same_dilations(capabilities, (kh, kw), dilations) if 1 in strides else []
    modes = [m for m in padding_modes if m in ("pair", "none") or _string_padding(m, capabilities, padding_modes)]
    mode = draw(st.sampled_from([m for m in modes if m != "same" or same_dilations]))
    if mode == "same":  # 'same' is defined for stride 1 only
        return _Geometry((kh, kw), (1, 1), draw(st.sampled_from(same_dilations)), "same")
    stride = _drawn_pair(draw, st.sampled_from(strides), ints or capabilities.square_strides)
    dilation = _drawn_pair(draw, st.sampled_from(dilations), ints or capabilities.square_dilations)
    if mode == "pair":
        padding = _drawn_pair(draw, st.integers(0, limits.padding), ints or capabilities.int_padding)
    else:
        padding = (0, 0) if mode == "none" else mode
    return _Geometry((kh, kw), stride, dilation, padding)


def _corner_options(corner: Corner, capabilities: Capabilities, padding_modes, min_groups: int):
    """The (kernel, stride, padding) choices of ``corner`` inside the capabilities and the padding modes."""
    if corner.groups != "any" and not capabilities.groups:
        return []
    if capabilities.dilations is not None and corner.dilation not in capabilities.dilations:
        return []
    options = []
    for kernel in corner.kernels:
        if capabilities.kernel_sizes is not None and kernel not in capabilities.kernel_sizes:
            continue
        if capabilities.odd_kernels and not kernel[0] % 2 * kernel[1] % 2:
            continue
        for stride in allowed_values(capabilities.strides, min(corner.strides), max(corner.strides)):
            if stride not in corner.strides:
                continue
            for padding in corner.paddings:
                spelled = _corner_padding(padding, kernel, corner.dilation)
                if spelled == "same" and not (stride == 1 and _string_padding("same", capabilities, padding_modes)):
                    continue
                if spelled == (0, 0) and not {"pair", "none"} & set(padding_modes):
                    spelled = "valid" if _string_padding("valid", capabilities, padding_modes) else None
                elif isinstance(spelled, tuple) and spelled != (0, 0) and "pair" not in padding_modes:
                    spelled = None
                if isinstance(spelled, tuple) and capabilities.int_padding and spelled[0] != spelled[1]:
                    spelled = None
                if spelled is not None:
                    options.append((kernel, stride, spelled))
    return options


def _corner_padding(padding, kernel, dilation: int):
    if padding == "half":
        return (dilation * (kernel[0] - 1) // 2, dilation * (kernel[1] - 1) // 2)
    return padding if isinstance(padding, str) else (padding, padding)


@st.composite
def _corner_geometry(draw, corner: Corner, options) -> _Geometry:
    kernel, stride, padding = draw(st.sampled_from(options))
    return _Geometry(kernel, (stride, stride), (corner.dilation,) * 2, padding, corner.groups, corner.multiplier)


def _input_extent(draw, out: int, kernel: int, stride: int, dilation: int, pads: int, floor: int) -> int:
    """An input extent that gives ``out`` outputs (plus up to stride - 1 unused rows), or the floor's output."""
    extra = draw(st.integers(0, stride - 1))
    return max(floor, (out - 1) * stride + dilation * (kernel - 1) + 1 - pads + extra)


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
    corners = [(c, o) for c in CORNERS if (o := _corner_options(c, capabilities, padding_modes, min_groups))]
    uniform = _uniform_geometry(capabilities, padding_modes, limits, ints)
    weighted = [choice for choice in corners for _ in range(choice[0].weight)]
    corner = draw(st.sampled_from(weighted)) if corners and draw(st.integers(0, 2)) else None  # two cases in three
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
        w_out = draw(st.sampled_from([v for v in OUTPUT_EDGES if v <= wide]))
        h_out = draw(st.sampled_from([v for v in OUTPUT_EDGES if v <= max(1, wide // w_out)]))
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
    kind = draw(st.sampled_from(values))
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
        dtype=draw(st.sampled_from(capabilities.dtypes)),
        values=kind,
        scale=scale if kind != "int" else (0, 0),
        layout=(draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))) if layouts else LAYOUTS[:1] * 2,
        ints=ints,
        seed=draw(st.integers(0, 2**32 - 1)),
    )
    return with_drawn_values(draw, case)


def with_drawn_values(draw, case: ConvCase) -> ConvCase:
    """``case`` carrying Hypothesis-drawn leading values for each array.

    The values are one fixed-size draw, whatever the kind and the shapes, so that when Hypothesis shrinks the
    geometry or switches float data to small integers the values stay where they were.
    """
    used = tuple(
        0 if shape is None else min(math.prod(shape), k) for shape, k in zip(case.shapes(), DRAWN, strict=True)
    )
    pools = _split(draw(_pools(used)))
    return replace(case, data=tuple(leading_values(pool, count) for pool, count in zip(pools, used, strict=True)))


def _split(pools: bytes) -> list[bytes]:
    """The drawn bytes as the pools of x, weight and bias."""
    ends = itertools.accumulate(DRAWN)
    return [pools[end - k : end] for end, k in zip(ends, DRAWN, strict=True)]


@functools.cache
def _pools(used: tuple[int, int, int]) -> st.SearchStrategy[bytes]:
    """The bytes of all pools, with some nonzero value among the ``used`` ones of x and of weight (an all-zero
    array shows nothing). Cached: a strategy is built and analysed once per shape, not per example."""

    def shows_something(pools: bytes) -> bool:
        return all(leading_values(pool, count) for pool, count in zip(_split(pools)[:2], used[:2], strict=True))

    return st.binary(min_size=sum(DRAWN), max_size=sum(DRAWN)).filter(shows_something)


def exact_cases(capabilities: Capabilities = Capabilities(), **constraints):
    """Small-integer data: exact summation gives the exact result, bitwise."""
    return conv_cases(capabilities, values=("int",), **constraints)


@dataclass(frozen=True)
class InvalidCall:
    """A call that breaks the contract in one named way, as data: it prints as code and replays itself.

    It is made from a valid case: the arrays passed are Python expressions over the case's ``x``, ``weight`` and
    ``bias`` (and ``np``), and ``keywords`` replace the case's geometry. ``argument`` is the argument that the
    ValueError's message must name.
    """

    kind: str  # one of INVALID_CLASSES
    argument: str
    case: ConvCase
    x: str = "x"
    weight: str = "weight"
    bias: str = "bias"
    keywords: tuple[tuple[str, object], ...] = ()

    def arrays(self) -> tuple:
        """Fresh (x, weight, bias) of the invalid call."""
        x, weight, bias = self.case.arrays()
        scope = {"np": np, "x": x, "weight": weight, "bias": bias}
        return tuple(eval(expression, scope) for expression in (self.x, self.weight, self.bias))

    def geometry(self) -> dict:
        """The keyword arguments of the invalid call."""
        return {**self.case.geometry(), **dict(self.keywords)}

    def changes(self) -> list[str]:
        """What differs from the valid call, as ``name=code``."""
        arrays = [f"{name}={value}" for name, value in self._arrays_code() if value != name]
        return arrays + [f"{name}={value!r}" for name, value in self.keywords]

    def _arrays_code(self):
        return (("x", self.x), ("weight", self.weight), ("bias", self.bias))

    def descriptor(self) -> str:
        """One line: the class and what is invalid, e.g. ``stride < 1: stride=0 (from n1 ic1 ...)``."""
        return f"{self.kind}: {', '.join(self.changes())} (from {self.case.descriptor()})"

    def code(self) -> str:
        """A Python expression that rebuilds this call."""
        arrays = [f"{name}={value!r}" for name, value in self._arrays_code() if value != name]
        keywords = [f"keywords={self.keywords!r}"] if self.keywords else []
        return f"InvalidCall({', '.join([repr(self.kind), repr(self.argument), self.case.code(), *arrays, *keywords])})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.descriptor())


def _invalid(kind: str, case: ConvCase, draw) -> InvalidCall:
    """Change one thing about a valid call so that it breaks the contract in the named way."""

    def call(argument, **changes):
        keywords = tuple(
            (key, changes.pop(key)) for key in ("stride", "padding", "dilation", "groups") if key in changes
        )
        return InvalidCall(kind, argument, case, keywords=keywords, **changes)

    other_float = "np.float64" if case.dtype == "float32" else "np.float32"
    choices = {
        "x with 3 dimensions": lambda: call("x", x="x[0]"),
        "weight with 5 dimensions": lambda: call("weight", weight="weight[None]"),
        "channel mismatch": lambda: call("weight", weight="np.concatenate([weight, weight], axis=1)"),
        "groups not dividing C_in": lambda: call(
            "groups",
            x="x[:, :1].repeat(3, axis=1)",
            weight="weight[:2, :1]",
            bias="None if bias is None else bias[:2]",
            groups=2,
        ),
        "groups not dividing C_out": lambda: call(
            "groups", x="x[:, :1].repeat(2, axis=1)", weight="weight[:1, :1].repeat(3, axis=0)", bias="None", groups=2
        ),
        "groups < 1": lambda: call("groups", groups=draw(st.sampled_from([0, -1]))),
        "stride < 1": lambda: call("stride", stride=draw(st.sampled_from([0, -1, (1, 0), (0, 2)]))),
        "stride not an integer": lambda: call("stride", stride=draw(st.sampled_from([1.5, (1, 0.5), "1", (1, 1, 1)]))),
        "dilation < 1": lambda: call("dilation", dilation=draw(st.sampled_from([0, -2, (1, 0)]))),
        "negative padding": lambda: call("padding", padding=draw(st.sampled_from([-1, (0, -1), (-2, 1)]))),
        "unknown padding": lambda: call("padding", padding=draw(st.sampled_from(["full", "SAME", "causal", 1.5]))),
        "'same' with stride > 1": lambda: call(
            "padding", padding="same", stride=draw(st.sampled_from([2, (1, 2), (3, 1)]))
        ),
        "kernel larger than the padded input": lambda: call(
            "weight", weight="np.zeros((*weight.shape[:2], x.shape[2] + 1, 1), weight.dtype)", padding=0, dilation=1
        ),
        "dilated kernel larger than the padded input": lambda: call(
            "weight", weight="np.ones((*weight.shape[:2], 2, 1), weight.dtype)", padding=0, dilation=(case.h, 1)
        ),
        "bias of the wrong shape": lambda: call(
            "bias",
            bias=draw(st.sampled_from(["np.zeros(len(weight) + 1, x.dtype)", "np.zeros((len(weight), 1), x.dtype)"])),
        ),
        "mixed dtypes": lambda: call("weight", weight=f"weight.astype({other_float})"),
        "integer arrays": lambda: call("x", x="x.astype(np.int64)", weight="weight.astype(np.int64)", bias="None"),
        "complex arrays": lambda: call(
            "x", x="x.astype(np.complex128)", weight="weight.astype(np.complex128)", bias="None"
        ),
        "a Python list": lambda: call("x", x="x.tolist()"),
    }
    return choices[kind]()


INVALID_CLASSES = (
    "x with 3 dimensions",
    "weight with 5 dimensions",
    "channel mismatch",
    "groups not dividing C_in",
    "groups not dividing C_out",
    "groups < 1",
    "stride < 1",
    "stride not an integer",
    "dilation < 1",
    "negative padding",
    "unknown padding",
    "'same' with stride > 1",
    "kernel larger than the padded input",
    "dilated kernel larger than the padded input",
    "bias of the wrong shape",
    "mixed dtypes",
    "integer arrays",
    "complex arrays",
    "a Python list",
)


@st.composite
def invalid_calls(draw, kind: str, capabilities: Capabilities = Capabilities()) -> InvalidCall:
    """A call that breaks the contract in exactly the named way, made from a small valid case."""
    case = draw(conv_cases(capabilities, values=("int",), layouts=False, padding_modes=("pair",)))
    case = replace(
        case, groups=1, c_in=max(case.c_in // case.groups, 1), stride=(1, 1), dilation=(1, 1), ints=False, data=None
    )
    return _invalid(kind, case, draw)


# --- Extreme arguments and state between calls ----------------------------------------------------------------------
# Strides, paddings and dilations far beyond a small input. An implementation whose work and memory follow the output
# handles every one of these at the cost of a small case; one that materializes the padded plane, the dense stride-1
# result or the dilated kernel does not. Padding of the size of a huge stride is drawn only from 2**40 on, where such a
# plane cannot even be allocated (a fast MemoryError, never a machine driven out of memory).

INDEX_LIMIT = 2**63 - 1  # the contract's: the largest index NumPy (intp) and torch (int64) hold
HUGE_STRIDES = (2**31 - 1, 2**31, 10**9, 2**32 + 1, 2**40, 2**62, INDEX_LIMIT)
PAST_THE_LIMIT = (2**63, 10**20, 2**64 + 1, 10**30)
EXTREME_AXES = ("huge stride", "padding under a larger stride", "wide dilation")


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a case: input size, kernel size, stride, padding on each side, dilation."""

    size: int
    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1


def _fitting_size(draw, span: int, padding: int) -> int:
    """An input size from 1 to 8 for which the dilated kernel fits in the padded axis."""
    low = max(1, span - 2 * padding)
    return draw(st.integers(low, max(low, 8)))


@st.composite
def extreme_axis(draw, kind: str, kernel: int, strides, dilations) -> Axis:
    """An axis of the named kind: "ordinary" (strides and dilations from ``strides`` and ``dilations``, padding up to
    2), "huge stride", "padding under a larger stride" (up to 1000), "wide dilation" (100 to 500, padded to fit) or
    "long padding" (up to 1000 with an allowed stride: a long output axis)."""
    if kind == "huge stride":
        stride = draw(st.sampled_from(HUGE_STRIDES) | st.integers(2**10, INDEX_LIMIT))
        padding = draw(st.integers(0, 3) | st.integers(0, 1000))
        if stride >= 2**40 and draw(st.booleans()):  # a second window, one stride (and no memory) away
            padding = min(stride // 2, (INDEX_LIMIT - 8) // 2)
        return Axis(_fitting_size(draw, kernel, padding), kernel, stride, padding)
    if kind == "padding under a larger stride":
        padding = draw(st.integers(1, 1000))
        return Axis(_fitting_size(draw, kernel, padding), kernel, draw(st.integers(padding, 2 * padding + 8)), padding)
    if kind == "wide dilation":
        dilation = draw(st.integers(100, 500))
        size = draw(st.integers(1, 8))
        padding = max(0, -(-(dilation * (kernel - 1) + 1 - size) // 2)) + draw(st.integers(0, 2))
        return Axis(size, kernel, draw(st.integers(1, 3)), padding, dilation)
    stride = draw(st.sampled_from(allowed_values(strides, 1, 2)))
    dilation = draw(st.sampled_from(allowed_values(dilations, 1, 2)))
    padding = draw(st.integers(100, 1000) if kind == "long padding" else st.integers(0, 2))
    return Axis(_fitting_size(draw, dilation * (kernel - 1) + 1, padding), kernel, stride, padding, dilation)


def _extreme_kinds(capabilities: Capabilities, kernel: int) -> list[str]:
    """The extreme axis kinds ``capabilities`` (and the axis's kernel size) admit."""
    kinds = []
    if capabilities.strides is None:
        kinds += ["huge stride", "padding under a larger stride"]
    if capabilities.dilations is None and kernel > 1 and (capabilities.strides is None or 1 in capabilities.strides):
        kinds.append("wide dilation")
    return kinds or ["long padding"]


@st.composite
def extreme_cases(draw, capabilities: Capabilities = Capabilities()) -> ConvCase:
    """Small inputs under strides up to 2**63 - 1, paddings up to 1000 under a stride at least as large, dilations of
    hundreds padded to fit, on one axis or both (the other ordinary), valid and inside ``capabilities``.

    A quarter of the cases are heavy: 8 to 12 input planes padded by 500 to 1000 on both axes under a larger stride,
    so that materializing the padded input costs at least 128 MiB while the output stays a few pixels.
    """
    if capabilities.kernel_sizes is not None:
        kh, kw = draw(st.sampled_from(capabilities.kernel_sizes))
    else:
        kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    heavy = capabilities.strides is None and draw(st.integers(0, 3)) == 0
    if heavy:
        axes = [Axis(size, k, stride, padding) for k in (kh, kw)
                for padding in [draw(st.integers(500, 1000))]
                for stride in [draw(st.integers(padding, 2 * padding))]
                for size in [draw(st.integers(1, 8))]]  # fmt: skip
        n, c_in = draw(st.integers(2, 3)), 4
    else:
        kinds = [draw(st.sampled_from(_extreme_kinds(capabilities, k))) for k in (kh, kw)]
        ordinary = draw(st.sampled_from([None, 0, 1]))  # which axis, if any, stays ordinary
        if ordinary is not None or kinds == ["long padding"] * 2:
            kinds[ordinary or 0] = "ordinary"
        axes = [draw(extreme_axis(kind, k, capabilities.strides, capabilities.dilations))
                for kind, k in zip(kinds, (kh, kw), strict=True)]  # fmt: skip
        n, c_in = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rows, cols = axes
    padding: object = (rows.padding, cols.padding)
    if not heavy and rows.stride == cols.stride == 1 and draw(st.integers(0, 3)) == 0:
        padding = "same"  # stride 1: 'same' pads by the dilated span, whatever the dilation
    groups = c_in if capabilities.groups and draw(st.booleans()) else 1
    kind = draw(st.sampled_from(VALUE_KINDS))
    return ConvCase(
        n=n,
        c_in=c_in,
        h=rows.size,
        w=cols.size,
        c_out=groups * draw(st.integers(1, 4 // groups if groups <= 4 else 1)),
        kh=kh,
        kw=kw,
        stride=(rows.stride, cols.stride),
        padding=padding,
        dilation=(rows.dilation, cols.dilation),
        groups=groups,
        bias=draw(st.booleans()),
        dtype=draw(st.sampled_from(capabilities.dtypes)),
        values=kind,
        scale=(0, 0) if kind == "int" else (draw(st.integers(-4, 4)), draw(st.integers(-4, 4))),
        layout=(draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))),
        ints=draw(st.integers(0, 3)) == 3,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


PAST_THE_LIMIT_KINDS = ("stride", "padding", "dilation", "padded extent", "dilated span")


@st.composite
def past_the_limit_cases(draw, capabilities: Capabilities = Capabilities()) -> tuple[ConvCase, str]:
    """A small case with one number past what an index holds (2**63 - 1): a stride, padding or dilation entry, or a
    padded input extent or dilated kernel span made of entries that are each within it. Returns the case and the
    argument a ``ConvArgumentError`` must name."""
    case = draw(conv_cases(capabilities, values=("int",), layouts=False, padding_modes=("pair",)))
    kinds = [k for k in PAST_THE_LIMIT_KINDS if k != "dilated span" or max(case.kh, case.kw) > 1]
    kind = draw(st.sampled_from(kinds))
    axis = draw(st.integers(0, 1))

    def on_axis(pair, value):
        return tuple(value if i == axis else v for i, v in enumerate(pair))

    huge = draw(st.sampled_from(PAST_THE_LIMIT) | st.integers(INDEX_LIMIT + 1, 2**200))
    if kind in ("stride", "dilation", "padding"):
        return replace(case, **{kind: on_axis(getattr(case, kind), huge)}), kind
    if kind == "padded extent":
        size = (case.h, case.w)[axis]
        return replace(case, padding=on_axis(case.padding, draw(st.integers((INDEX_LIMIT - size) // 2 + 1,
                                                                          INDEX_LIMIT)))), "padding"  # fmt: skip
    if (case.kh, case.kw)[axis] == 1:
        axis = 1 - axis
    taps = (case.kh, case.kw)[axis] - 1
    dilation = draw(st.integers(-(-INDEX_LIMIT // taps), INDEX_LIMIT))
    return replace(case, dilation=on_axis(case.dilation, dilation)), "dilation"


@st.composite
def call_sequences(draw, capabilities: Capabilities = Capabilities(), length: int = 3) -> list[ConvCase]:
    """Cases to call one after another: a first one, then each a new draw, the first with other values (same shapes,
    so a cache keyed by shape or by a reused ``id()`` answers stale), or the first in another dtype."""
    first = draw(conv_cases(capabilities))
    cases = [first]
    for _ in range(length - 1):
        how = draw(st.sampled_from(("other values", "other dtype", "other case")))
        if how == "other values":
            cases.append(replace(first, seed=draw(st.integers(0, 2**32 - 1)), data=None))
        elif how == "other dtype" and len(capabilities.dtypes) > 1:
            cases.append(
                replace(first, dtype=draw(st.sampled_from(capabilities.dtypes)), seed=first.seed + 1, data=None)
            )
        else:
            cases.append(draw(conv_cases(capabilities)))
    return cases

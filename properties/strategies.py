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

from impls import Capabilities

VALUE_KINDS = ("int", "normal", "positive", "wide")
LAYOUTS = ("contiguous", "fortran", "channels_last", "strided", "reversed")


@dataclass(frozen=True)
class Limits:
    """The range a strategy draws from: up to these values (from 1, padding from 0), C_in and H, W from a floor."""

    batch: int
    channels: int  # C_in and C_out
    size: int  # H and W, unless the kernel needs a larger input
    kernel: int
    stride: int
    dilation: int
    padding: int
    min_channels: int = 1  # C_in
    min_size: int = 1  # H and W

    def max_gflop(self) -> float:
        """An upper bound of the cost of one drawn case, ``2 * N * C_out * H_out * W_out * C_in * kH * kW``."""
        return 2 * self.batch * self.channels**2 * (self.size + 2 * self.padding) ** 2 * self.kernel**2 / 1e9


SMALL = Limits(batch=4, channels=8, size=24, kernel=7, stride=4, dilation=3, padding=4)
# Past the small cases: channel counts beyond a blocking factor of 8 or 16, planes beyond tiles of 16 or 32.
LARGE = Limits(batch=2, channels=24, size=48, kernel=5, stride=3, dilation=2, padding=3, min_channels=9, min_size=25)


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
            return pair[0] if self.ints and not isinstance(pair, str) and pair[0] == pair[1] else pair

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


def _allowed(values: tuple[int, ...] | None, low: int, high: int):
    choices = [v for v in range(low, high + 1) if values is None or v in values]
    return st.sampled_from(choices)


def _pair(draw, values, square: bool) -> tuple[int, int]:
    """Two draws from ``values``, or one used for both axes when ``square``."""
    first = draw(values)
    return (first, first) if square else (first, draw(values))


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
    """Configurations inside ``capabilities``: the geometry first (kernel, padding mode, stride, dilation, padding),
    then an input that fits it.

    A quarter of the cases spell stride, padding and dilation as one int for both axes (the contract's other form).
    """
    ints = draw(st.integers(0, 3)) == 3  # shrinks towards pairs
    if capabilities.kernel_sizes is not None:
        kh, kw = draw(st.sampled_from(capabilities.kernel_sizes))
    else:
        kh, kw = _pair(draw, st.integers(1, limits.kernel), square=False)
    stride_one = capabilities.strides is None or 1 in capabilities.strides
    mode = draw(st.sampled_from([m for m in padding_modes if m != "same" or stride_one]))
    if mode == "same":  # 'same' is defined for stride 1 only
        stride = (1, 1)
    else:
        stride = _pair(draw, _allowed(capabilities.strides, 1, limits.stride), ints)
    dilation = _pair(draw, _allowed(capabilities.dilations, 1, limits.dilation), ints)
    if mode == "pair":
        padding = _pair(draw, st.integers(0, limits.padding), ints)
        totals = (2 * padding[0], 2 * padding[1])
    else:
        padding = mode
        totals = (dilation[0] * (kh - 1), dilation[1] * (kw - 1)) if mode == "same" else (0, 0)
    spans = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    h, w = (
        draw(st.integers(lo, max(lo, limits.size)))
        for lo in (max(limits.min_size, s - t) for s, t in zip(spans, totals, strict=True))
    )
    groups = 1
    if capabilities.groups:  # half the cases have the fewest groups allowed, so that groups keep many channels
        groups = draw(st.one_of(st.just(min_groups), st.integers(min_groups, limits.channels)))
    per_group = limits.channels // groups
    kind = draw(st.sampled_from(values))
    scale = (draw(st.integers(-12, 12)), draw(st.integers(-12, 12)))  # drawn for every kind: see with_drawn_values
    case = ConvCase(
        n=draw(st.integers(1, limits.batch)),
        c_in=groups * draw(st.integers(min(per_group, -(-limits.min_channels // groups)), per_group)),
        h=h,
        w=w,
        c_out=groups * draw(st.integers(1, per_group)),
        kh=kh,
        kw=kw,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()) if bias is None else bias,
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

"""Every Hypothesis strategy of the suite, valid by construction.

A :class:`ConvCase` is a small, printable configuration: geometry, dtype, how values are drawn, memory layouts and a
seed. Its arrays are made from the seed, so a failing case reproduces from its one-line repr alone, and Hypothesis
shrinks the configuration (sizes, stride, padding, ...) towards the smallest that still fails.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

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


@dataclass(frozen=True)
class ConvCase:
    """One conv2d configuration, with its data described (not stored) so that it prints and replays."""

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
        """Fresh (x, weight, bias) for this case, in the case's memory layouts."""
        rng = np.random.default_rng(self.seed)
        x = draw_values(rng, (self.n, self.c_in, self.h, self.w), self.values, self.scale[0], self.dtype)
        weight = draw_values(rng, (self.c_out, self.c_in // self.groups, self.kh, self.kw), self.values,
                             self.scale[1], self.dtype)  # fmt: skip
        bias = None
        if self.bias:
            bias = draw_values(rng, (self.c_out,), self.values, self.scale[0] + self.scale[1], self.dtype)
        return with_layout(x, self.layout[0]), with_layout(weight, self.layout[1]), bias

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
        """A Python expression that rebuilds this case."""
        fields = ", ".join(f"{key}={value!r}" for key, value in asdict(self).items())
        return f"ConvCase({fields})"


def draw_values(rng: np.random.Generator, shape, kind: str, exponent: int, dtype: str) -> np.ndarray:
    """Small integers (exact arithmetic) or floats of a given magnitude, never NaN, inf or subnormal."""
    if kind == "int":
        values = rng.integers(-3, 4, size=shape)
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
    return ConvCase(
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
        scale=(0, 0) if kind == "int" else (draw(st.integers(-12, 12)), draw(st.integers(-12, 12))),
        layout=(draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))) if layouts else LAYOUTS[:1] * 2,
        ints=ints,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def exact_cases(capabilities: Capabilities = Capabilities(), **constraints):
    """Small-integer data: exact summation gives the exact result, bitwise."""
    return conv_cases(capabilities, values=("int",), **constraints)


def _corrupt(kind: str, x, weight, bias, geometry, draw):
    """Change one thing about a valid call so that it breaks the contract in the named way."""
    c_out, c_in = weight.shape[0], x.shape[1]
    if kind == "x with 3 dimensions":
        return x[0], weight, bias, geometry
    if kind == "weight with 5 dimensions":
        return x, weight[None], bias, geometry
    if kind == "channel mismatch":
        return x, np.concatenate([weight, weight], axis=1), bias, geometry
    if kind == "groups not dividing C_in":
        return x[:, :1].repeat(3, axis=1), weight[:2, :1], bias if bias is None else bias[:2], {**geometry, "groups": 2}
    if kind == "groups not dividing C_out":
        return x[:, :1].repeat(2, axis=1), weight[:1, :1].repeat(3, axis=0), None, {**geometry, "groups": 2}
    if kind == "groups < 1":
        return x, weight, bias, {**geometry, "groups": draw(st.sampled_from([0, -1]))}
    if kind == "stride < 1":
        return x, weight, bias, {**geometry, "stride": draw(st.sampled_from([0, -1, (1, 0), (0, 2)]))}
    if kind == "stride not an integer":
        return x, weight, bias, {**geometry, "stride": draw(st.sampled_from([1.5, (1, 0.5), "1", (1, 1, 1)]))}
    if kind == "dilation < 1":
        return x, weight, bias, {**geometry, "dilation": draw(st.sampled_from([0, -2, (1, 0)]))}
    if kind == "negative padding":
        return x, weight, bias, {**geometry, "padding": draw(st.sampled_from([-1, (0, -1), (-2, 1)]))}
    if kind == "unknown padding":
        return x, weight, bias, {**geometry, "padding": draw(st.sampled_from(["full", "SAME", "causal", 1.5]))}
    if kind == "'same' with stride > 1":
        return x, weight, bias, {**geometry, "padding": "same", "stride": draw(st.sampled_from([2, (1, 2), (3, 1)]))}
    if kind == "kernel larger than the padded input":
        big = np.zeros((c_out, weight.shape[1], x.shape[2] + 1, 1), dtype=weight.dtype)
        return x, big, bias, {**geometry, "padding": 0, "dilation": 1}
    if kind == "dilated kernel larger than the padded input":
        tall = np.ones((c_out, weight.shape[1], 2, 1), dtype=weight.dtype)
        return x, tall, bias, {**geometry, "padding": 0, "dilation": (x.shape[2], 1)}
    if kind == "bias of the wrong shape":
        return x, weight, draw(st.sampled_from([np.zeros(c_out + 1), np.zeros((c_out, 1))])).astype(x.dtype), geometry
    if kind == "mixed dtypes":
        other = np.float64 if x.dtype == np.float32 else np.float32
        return x, weight.astype(other), bias, geometry
    if kind == "integer arrays":
        return x.astype(np.int64), weight.astype(np.int64), None, geometry
    if kind == "complex arrays":
        return x.astype(np.complex128), weight.astype(np.complex128), None, geometry
    if kind == "a Python list":
        return x.tolist(), weight, bias, geometry
    raise AssertionError(f"unknown invalid class {kind!r} ({c_in=})")


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
def invalid_calls(draw, kind: str, capabilities: Capabilities = Capabilities()):
    """A call that breaks the contract in exactly the named way: (case, x, weight, bias, geometry)."""
    case = draw(conv_cases(capabilities, values=("int",), layouts=False, padding_modes=("pair",)))
    case = replace(case, groups=1, c_in=max(case.c_in // case.groups, 1), stride=(1, 1), dilation=(1, 1))
    x, weight, bias = case.arrays()
    return (case, *_corrupt(kind, x, weight, bias, case.geometry(), draw))

"""The case value type: one conv2d configuration with its data described, so that it prints and replays.

A :class:`ConvCase` is a small, printable configuration: geometry, dtype, how values are drawn, memory layouts and a
seed. Hypothesis draws the leading values of each array itself (up to :data:`DRAWN` of them; the rest come from the
seed), and the case carries them, so that a failure shrinks to the fewest and smallest nonzero values: they are the
values of small-integer data, and the zero pattern of float data. A failing case replays from its code alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

VALUE_KINDS = ("int", "normal", "positive", "wide")
LAYOUTS = ("contiguous", "fortran", "channels_last", "strided", "reversed")

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

    def arrays(self, shapes=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Fresh (x, weight, bias) for this case, in the case's memory layouts; or, given ``shapes``, three arrays of
        those shapes (None: no array), drawn the same way (the backward calls' operands).

        Values come from the seed; where the case carries drawn values (the first ``DRAWN`` elements of each array),
        small-integer data take them, and float data keep their seeded value only where the drawn one is nonzero.
        Small-integer data with drawn values and seed 0 are zero past the drawn elements: the seed shrinks to 0 when
        the rest of the data does not matter, so that a shrunk case shows only the values that do.
        """
        rng = np.random.default_rng(self.seed)
        exponents = (self.scale[0], self.scale[1], self.scale[0] + self.scale[1])
        arrays = []
        for index, (shape, exponent) in enumerate(zip(shapes or self.shapes(), exponents, strict=True)):
            if shape is None:
                arrays.append(None)
                continue
            array = draw_values(rng, shape, self.values, exponent, self.dtype)
            if self.data is not None:
                head = array.reshape(-1)[: DRAWN[index]]
                drawn = np.zeros(head.size)
                values = self.data[index][: head.size]
                drawn[: len(values)] = values
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


def with_layout(array: np.ndarray | None, layout: str) -> np.ndarray | None:
    """The same values in another memory layout: a view that is not C-contiguous (except 'contiguous'); None as it
    is."""
    if array is None or layout == "contiguous" or array.ndim < 2:
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

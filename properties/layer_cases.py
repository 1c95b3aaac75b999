"""Cases of real layers: the catalogue's layers at drawn batch sizes, cropped only as far as an entry's cost requires.

Hypothesis draws everything of a case but the layer (a test parameter, so that every layer runs in every run): the
batch size (1 to 64, with tails past blocks of 8, 16 and 32), dtype, memory layouts, values (small integers, exact,
half the time; floats across magnitudes), bias, the argument forms, the seed, and the share of what one case may cost
(:class:`Allowance`) that it takes: all of it, or a sixteenth in a quarter of the cases. Hypothesis's first example
of a test is its simplest draw (one image, small integers, C-contiguous, a sixteenth), a cheap check of the layer;
the others are drawn at random. Then the case is cropped, deterministically, until it fits, in this order:

1. output channels, only while the weight alone is over the element limit (VGG's fc6 has 103 million weights);
2. the plane: the output is cut to a window of the layer's output, never smaller than one in which every kernel tap
   reads the input (a whole-input window stays whole);
3. the batch;
4. output channels a group, then groups (depthwise layers). Never the input channels of a group: the length of each
   sum, K = C_in/groups * kH * kW, is the layer's.

What one case may cost: the float64 reference computes at most ``CASE_GFLOP`` and passes over at most
``MAX_OUTPUTS`` outputs once a tap; an entry with a cost hint (``max_gflop``, what it runs in a second or two) gets
``HINT_SHARE`` of it, where each output position and each (image, output channel, input channel) plane pair also
counts ``STEP_FLOP`` (what a Python-level loop over them costs an entry near its hint: the textbook loop visits
positions, ``correlate2d`` and ``filter2D`` visit plane pairs), and a normwise entry (a transform method) is costed
by its transforms, ``TRANSFORM_FLOP`` per padded input element of each plane pair, instead of by multiply-adds (an
FFT's time follows planes, not taps: measured, the FFT entry near its hint spends about that much on a 1x1 layer),
and a float64 grouped layer counts as the dense convolution it may be lowered to (XLA's CPU backend does: groups
times the multiply-adds, zeros for the other groups' weights; measured, JAX outlasted the 60 s call limit on
EfficientNet-B3's 816-channel depthwise layer at batch 33 otherwise); x and the weight hold at most ``MAX_ELEMENTS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from convcheck.impls import normalize, output_size
from convcheck.properties.cases import LAYOUTS, VALUE_KINDS, ConvCase
from convcheck.properties.catalogue import Layer
from convcheck.properties.oracle import tap_reads
from convcheck.properties.strategies import built_once
from hypothesis import strategies as st

CASE_GFLOP = 0.025  # what the float64 reference computes for one case (a millisecond of BLAS)
MAX_OUTPUTS = 3 * 2**17  # output elements of one case, past 2**18 (the reference adds each tap's products into them)
MAX_ELEMENTS = 2**21  # of x and of the weight (16 MiB in float64)
HINT_SHARE = 1 / 80  # of an entry's cost hint: a few hundredths of a second at the speed it declares
STEP_FLOP = 1024  # an output position or a plane pair, for an entry with a cost hint
TRANSFORM_FLOP = 256  # a padded input element of a plane pair, for a normwise entry with a cost hint
# Batch sizes of training and inference, and tails after blocks of 8, 16 and 32 (drawn first: 1 is the simplest).
BATCHES = (1, 2, 4, 8, 9, 16, 17, 24, 32, 33, 40, 48, 56, 63, 64)
SHARES = (1 / 16, 1, 1, 1)  # of the allowance a case takes (drawn first: a small crop is the simplest)


@dataclass(frozen=True)
class Allowance:
    """What one case may cost: GFLOP (the reference's time), and GFLOP counting each step as ``STEP_FLOP`` and, for
    a ``transform`` method, each padded element of a plane pair as ``TRANSFORM_FLOP`` (the entry's time near its cost
    hint; None: no hint)."""

    gflop: float = CASE_GFLOP
    step_gflop: float | None = None
    transform: bool = False
    dense_groups: bool = False  # groups counted as the dense convolution they may be lowered to
    outputs: int = MAX_OUTPUTS

    def scaled(self, share: float) -> Allowance:
        """``share`` of this allowance."""
        step = None if self.step_gflop is None else self.step_gflop * share
        return replace(self, gflop=self.gflop * share, step_gflop=step, outputs=int(self.outputs * share))

    def __str__(self) -> str:
        hint = "" if self.step_gflop is None else f", {self.step_gflop:.3g} with {STEP_FLOP} a step"
        return f"{self.gflop:.3g} GFLOP{hint}"


def allowance(entry, dtype: str = "float32") -> Allowance:
    """What one case of a real layer in ``dtype`` may cost ``entry`` (its cost hint's share, within the
    reference's)."""
    if entry.max_gflop is None:
        return Allowance()
    share = entry.max_gflop * HINT_SHARE
    return Allowance(
        gflop=min(CASE_GFLOP, share),
        step_gflop=share,
        transform=entry.error_model == "normwise",
        dense_groups=dtype == "float64",
    )


@dataclass(frozen=True)
class Size:
    """The sizes of a case of ``layer``: images, groups, output channels a group and the input plane (the input
    channels of a group are the layer's)."""

    layer: Layer
    n: int
    groups: int
    per_group: int
    h: int
    w: int

    @classmethod
    def of(cls, layer: Layer, n: int = 1) -> Size:
        return cls(layer, n, layer.groups, layer.c_out // layer.groups, *layer.plane)

    @property
    def c_in(self) -> int:
        return self.groups * (self.layer.c_in // self.layer.groups)

    @property
    def c_out(self) -> int:
        return self.groups * self.per_group

    @property
    def depth(self) -> int:
        """K = C_in/groups * kH * kW."""
        return self.layer.c_in // self.layer.groups * math.prod(self.layer.kernel)

    @property
    def output(self) -> tuple[int, int]:
        layer = self.layer
        return tuple(
            output_size(size, k, layer.stride, pads, layer.dilation)
            for size, k, pads in zip((self.h, self.w), layer.kernel, layer.pads, strict=True)
        )

    @property
    def gflop(self) -> float:
        """2 * N * C_out * H_out * W_out * K, in GFLOP."""
        return 2 * self.n * self.c_out * math.prod(self.output) * self.depth / 1e9

    def fits(self, allowance: Allowance) -> bool:
        positions = self.n * math.prod(self.output)
        pairs = self.n * self.c_out * (self.layer.c_in // self.layer.groups)
        work = self.gflop
        if allowance.transform:
            padded = (self.h + self.layer.pads[0]) * (self.w + self.layer.pads[1])
            work = TRANSFORM_FLOP * pairs * padded / 1e9
        if allowance.dense_groups:
            work *= self.groups
        stepped = allowance.step_gflop is None or work + STEP_FLOP * (positions + pairs) / 1e9 <= allowance.step_gflop
        elements = max(self.n * self.c_in * self.h * self.w, self.c_out * self.depth)
        return (
            self.gflop <= allowance.gflop
            and stepped
            and positions * self.c_out <= allowance.outputs
            and elements <= MAX_ELEMENTS
        )

    def describe(self) -> str:
        """``n33 64x56x56 -> 64x56x56`` (channels x plane of the input and the output)."""
        out_h, out_w = self.output
        return f"n{self.n} {self.c_in}x{self.h}x{self.w} -> {self.c_out}x{out_h}x{out_w}"


def _smallest_extent(layer: Layer, axis: int) -> int:
    """The smallest input extent of ``axis`` in which every tap of the kernel reads the input for some output (at
    most the layer's)."""
    full, kernel, pads = layer.plane[axis], layer.kernel[axis], layer.pads[axis]
    before = pads // 2
    for extent in range(1, full):
        outputs = output_size(extent, kernel, layer.stride, pads, layer.dilation)
        if outputs >= 1 and all(
            tap_reads(extent, outputs, layer.stride, tap * layer.dilation - before) for tap in range(kernel)
        ):
            return extent
    return full


def _cropped_plane(size: Size, side: int) -> Size:
    """The plane cut to at most ``side`` outputs an axis (a window of the layer's output), not below
    :func:`_smallest_extent`."""
    layer, extents = size.layer, []
    for axis, (full, kernel, pads) in enumerate(zip(layer.plane, layer.kernel, layer.pads, strict=True)):
        span = layer.dilation * (kernel - 1) + 1
        wanted = min(full, max(1, (side - 1) * layer.stride + span - pads))
        extents.append(max(wanted, _smallest_extent(layer, axis)))
    return replace(size, h=extents[0], w=extents[1])


def _largest(low: int, high: int, fits) -> int | None:
    """The largest value in [low, high] that ``fits`` (monotone: true up to some value), or None."""
    if not fits(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return low


def crop(layer: Layer, n: int, allowance: Allowance) -> Size | None:
    """The sizes of ``layer`` at batch ``n`` cut down (see the module) until they fit ``allowance``; None when one
    image of one group with one output channel does not."""
    size = Size.of(layer, n)
    per_group = _largest(1, size.per_group, lambda m: size.groups * m * size.depth <= MAX_ELEMENTS)
    size = replace(size, per_group=per_group or 1)
    if size.fits(allowance):
        return size
    side = _largest(1, max(size.output), lambda s: _cropped_plane(size, s).fits(allowance))
    if side is not None:
        return _cropped_plane(size, side)
    size = _cropped_plane(size, 1)
    images = _largest(1, n, lambda k: replace(size, n=k).fits(allowance))
    if images is not None:
        return replace(size, n=images)
    size = replace(size, n=1)
    per_group = _largest(1, size.per_group, lambda m: replace(size, per_group=m).fits(allowance))
    if per_group is not None:
        return replace(size, per_group=per_group)
    size = replace(size, per_group=1)
    groups = _largest(1, size.groups, lambda g: replace(size, groups=g).fits(allowance))
    return None if groups is None else replace(size, groups=groups)


def cropping(size: Size, batch: int) -> str:
    """What was cut, e.g. ``plane 224x224 -> 37x37, batch 33 -> 4``; empty when nothing was."""
    layer, changes = size.layer, []
    if (size.h, size.w) != layer.plane:
        changes.append(f"plane {layer.plane[0]}x{layer.plane[1]} -> {size.h}x{size.w}")
    if size.n != batch:
        changes.append(f"batch {batch} -> {size.n}")
    if size.c_out != layer.c_out:
        changes.append(f"output channels {layer.c_out} -> {size.c_out}")
    if size.groups != layer.groups:
        changes.append(f"groups {layer.groups} -> {size.groups}")
    return ", ".join(changes)


def why_not(layer: Layer, entry) -> str | None:
    """Why ``entry`` runs no case of ``layer`` (its capabilities, or its cost hint), or None when it runs one."""
    capabilities = entry.capabilities
    zero = np.zeros((), capabilities.dtypes[0])  # arrays of the layer's shapes that take no memory
    x = np.broadcast_to(zero, (1, layer.c_in, *layer.plane))
    weight = np.broadcast_to(zero, (layer.c_out, layer.c_in // layer.groups, *layer.kernel))
    case = replace(_case(Size.of(layer)), ints=_one_int(capabilities))
    reason = capabilities.why_unsupported(normalize(x, weight, **case.geometry()), case.geometry())
    if reason:
        return reason
    if not _dtypes(layer, entry):
        return f"one image of one output channel and one group is over the cost hint's share ({allowance(entry)})"
    return None


def _dtypes(layer: Layer, entry) -> list[str]:
    """The declared dtypes in which one image of ``layer`` fits ``entry``'s allowance."""
    return [dtype for dtype in entry.capabilities.dtypes if crop(layer, 1, allowance(entry, dtype)) is not None]


def _one_int(capabilities) -> bool:
    return capabilities.square_strides or capabilities.square_dilations or capabilities.int_padding


def _case(size: Size, **fields) -> ConvCase:
    layer = size.layer
    padding = layer.padding if isinstance(layer.padding, (str, tuple)) else (layer.padding, layer.padding)
    return ConvCase(
        n=size.n, c_in=size.c_in, h=size.h, w=size.w, c_out=size.c_out, kh=layer.kernel[0], kw=layer.kernel[1],
        stride=(layer.stride,) * 2, padding=padding, dilation=(layer.dilation,) * 2, groups=size.groups, **fields,
    )  # fmt: skip


@built_once
@st.composite
def layer_cases(draw, layer: Layer, entry) -> tuple[ConvCase, str]:
    """A case of ``layer`` inside ``entry``'s capabilities and cost (see the module), and a line naming the layer,
    the batch and what was cropped."""
    capabilities = entry.capabilities
    share = draw(st.sampled_from(SHARES))
    n = draw(st.sampled_from(BATCHES))
    kind = draw(st.sampled_from(VALUE_KINDS[1:])) if draw(st.booleans()) else "int"  # shrinks to small integers
    scale = (0, 0) if kind == "int" else (draw(st.integers(-4, 4)), draw(st.integers(-4, 4)))
    fields = {
        "bias": capabilities.bias and draw(st.booleans()),
        "dtype": draw(st.sampled_from(_dtypes(layer, entry))),
        "values": kind,
        "scale": scale,
        "layout": (draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))),
        "ints": _one_int(capabilities) or draw(st.integers(0, 3)) == 3,
        "seed": draw(st.integers(0, 2**32 - 1)),
    }
    limit = allowance(entry, fields["dtype"]).scaled(share)
    size = crop(layer, n, limit)
    if size is None:  # a share too small for the layer: all of it (which fits the drawn dtype)
        limit = allowance(entry, fields["dtype"])
        size = crop(layer, n, limit)
    cut = cropping(size, n)
    note = f"{layer.network} {layer.name}, batch {size.n}" + (f", cropped to {limit}: {cut}" if cut else "")
    return _case(size, **fields), note

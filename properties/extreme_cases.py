"""Strategies of the extreme-argument family: strides, paddings and dilations far beyond a small input, and numbers
past what an index holds.

An implementation whose work and memory follow the output handles every one of these at the cost of a small case; one
that materializes the padded plane, the dense stride-1 result or the dilated kernel does not. Padding of the size of a
huge stride is drawn only from 2**40 on, where such a plane cannot even be allocated (a fast MemoryError, never a
machine driven out of memory), and only for an entry that declares ``memory_follows_output``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from convcheck.impls import Capabilities
from convcheck.properties.cases import LAYOUTS, VALUE_KINDS, ConvCase
from convcheck.properties.corners import allowed_values, takes_padding_string
from convcheck.properties.strategies import built_once, conv_cases
from hypothesis import strategies as st

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
def extreme_axis(draw, kind: str, kernel: int, strides, dilations, huge_padding: bool = True) -> Axis:
    """An axis of the named kind: "ordinary" (strides and dilations from ``strides`` and ``dilations``, padding up to
    2), "huge stride", "padding under a larger stride" (up to 1000), "wide dilation" (100 to 500, padded to fit) or
    "long padding" (up to 1000 with an allowed stride: a long output axis). With ``huge_padding``, a huge stride
    may come with a padding of half of it (only an entry whose memory follows the output can take that)."""
    if kind == "huge stride":
        stride = draw(st.sampled_from(HUGE_STRIDES) | st.integers(2**10, INDEX_LIMIT))
        padding = draw(st.integers(0, 3) | st.integers(0, 1000))
        if huge_padding and stride >= 2**40 and draw(st.booleans()):  # a second window, one stride (and no memory) away
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


@built_once
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
        kh, kw = (draw(st.sampled_from((1, 3) if capabilities.odd_kernels else (1, 2, 3))) for _ in "hw")
    bounded = bool(capabilities.memory_follows_output)  # else no case whose padding only such an entry can take
    heavy = bounded and capabilities.strides is None and draw(st.integers(0, 3)) == 0
    # An entry that takes one int for the stride, dilation or padding gets the same extreme numbers on both axes.
    mirrored = capabilities.square_strides or capabilities.square_dilations or capabilities.int_padding
    if heavy:
        padding = draw(st.integers(500, 1000))
        stride = draw(st.integers(padding, 2 * padding))
        axes = [Axis(draw(st.integers(1, 8)), k, stride, padding) for k in (kh, kw)]
        if not mirrored:
            axes[1] = replace(axes[1], stride=draw(st.integers(padding, 2 * padding)))
        n, c_in = draw(st.integers(2, 3)), 4
    elif mirrored:  # one axis's numbers for both, drawn for the larger kernel (so they fit the other too)
        kind = draw(st.sampled_from(_extreme_kinds(capabilities, max(kh, kw))))
        axis = draw(extreme_axis(kind, max(kh, kw), capabilities.strides, capabilities.dilations, bounded))
        axes = [replace(axis, kernel=k) for k in (kh, kw)]
        n, c_in = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    else:
        kinds = [draw(st.sampled_from(_extreme_kinds(capabilities, k))) for k in (kh, kw)]
        ordinary = draw(st.sampled_from([None, 0, 1]))  # which axis, if any, stays ordinary
        if ordinary is not None or kinds == ["long padding"] * 2:
            kinds[ordinary or 0] = "ordinary"
        axes = [draw(extreme_axis(kind, k, capabilities.strides, capabilities.dilations, bounded))
                for kind, k in zip(kinds, (kh, kw), strict=True)]  # fmt: skip
        n, c_in = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rows, cols = axes
    padding: object = (rows.padding, cols.padding)
    same_spans_even = all(a.dilation * (a.kernel - 1) % 2 == 0 for a in axes) or not capabilities.symmetric_padding
    takes_same = takes_padding_string("same", capabilities, ("same",)) and same_spans_even
    if not heavy and takes_same and rows.stride == cols.stride == 1 and draw(st.integers(0, 3)) == 0:
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
        bias=capabilities.bias and draw(st.booleans()),
        dtype=draw(st.sampled_from(capabilities.dtypes)),
        values=kind,
        scale=(0, 0) if kind == "int" else (draw(st.integers(-4, 4)), draw(st.integers(-4, 4))),
        layout=(draw(st.sampled_from(LAYOUTS)), draw(st.sampled_from(LAYOUTS))),
        ints=mirrored or draw(st.integers(0, 3)) == 3,
        seed=draw(st.integers(0, 2**32 - 1)),
    )


PAST_THE_LIMIT_KINDS = ("stride", "padding", "dilation", "padded extent", "dilated span")


@built_once
@st.composite
def past_the_limit_cases(draw, capabilities: Capabilities = Capabilities()) -> tuple[ConvCase, str]:
    """A small case with one number past what an index holds (2**63 - 1): a stride, padding or dilation entry, or a
    padded input extent or dilated kernel span made of entries that are each within it. Returns the case and the
    argument a ``ConvArgumentError`` must name. Where the entry takes one int for an argument, both axes get it; an
    entry that declares dilation 1 only is not asked about dilations."""
    case = draw(conv_cases(capabilities, values=("int",), layouts=False, padding_modes=("pair",)))
    takes_dilation = capabilities.dilations is None or any(d > 1 for d in capabilities.dilations)
    kinds = [k for k in PAST_THE_LIMIT_KINDS
             if takes_dilation or "dilat" not in k if k != "dilated span" or max(case.kh, case.kw) > 1]  # fmt: skip
    kind = draw(st.sampled_from(kinds))
    axis = draw(st.integers(0, 1))
    one_int = {"stride": capabilities.square_strides, "dilation": capabilities.square_dilations,
               "padding": capabilities.int_padding}  # fmt: skip

    def on_axis(name, value) -> ConvCase:
        pair = getattr(case, name)
        return replace(case, **{name: tuple(value if i == axis or one_int[name] else v for i, v in enumerate(pair))})

    huge = draw(st.sampled_from(PAST_THE_LIMIT) | st.integers(INDEX_LIMIT + 1, 2**200))
    if kind in ("stride", "dilation", "padding"):
        return on_axis(kind, huge), kind
    if kind == "padded extent":
        size = (case.h, case.w)[axis]
        return on_axis("padding", draw(st.integers((INDEX_LIMIT - size) // 2 + 1, INDEX_LIMIT))), "padding"
    if (case.kh, case.kw)[axis] == 1:
        axis = 1 - axis
    taps = (case.kh, case.kw)[axis] - 1
    return on_axis("dilation", draw(st.integers(-(-INDEX_LIMIT // taps), INDEX_LIMIT))), "dilation"

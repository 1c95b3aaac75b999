"""Strategies of the extreme-argument family for conv_transpose2d and conv2d_backward: the forward's extreme cases
(:mod:`convcheck.properties.extreme_cases`) as gradient cases, and numbers past what an index holds.

conv2d_backward takes a forward extreme case as it is: a tiny ``x`` under a stride up to 2**63 - 1, a padding up to
2**61 or a dilation of hundreds, and a ``grad_out`` of its output's few pixels. The transposed call takes the adjoint
of one, whose output, ``H_out = (H - 1)*stride - 2*padding + dilation*(kH - 1) + output_padding + 1``, is the forward
input's few rows, whatever the numbers: every huge value a transposed convolution can take with a small output is
balanced by another in that formula, and the adjoint balances each.

- a stride up to 2**63 - 1 on one input row (the stride then never counts), or on two under half of it as padding (a
  quarter of the cases, where the entry takes any stride: two rows 2**20 to 2**62 apart);
- a padding of hundreds, or of 2**61, under a larger stride (the stride's rows cropped);
- a dilation of hundreds under a padding of half the dilated span;
- an output padding up to the stride less one under a padding of half of it (the forward's unused rows, as many as
  the stride less one).

Half the transposed cases take another output padding torch allows that changes the output by at most 8 rows.
"""

from __future__ import annotations

from dataclasses import replace

from convcheck.properties.backward_cases import GradientCase, declared, largest_output_padding
from convcheck.properties.extreme_cases import INDEX_LIMIT, PAST_THE_LIMIT, extreme_cases, past_the_limit_cases
from convcheck.properties.strategies import built_once, conv_cases
from hypothesis import strategies as st

OUTPUT_PADDING_SPREAD = 8  # rows an output padding other than the adjoint's may add or remove
SMALL_EXTENT = 8  # the largest grad_out extent of a call refused for its forward arguments


def extreme_backward_cases(entry):
    """conv2d_backward cases of the forward's extreme configurations inside ``entry``'s capabilities."""
    capabilities = replace(entry.capabilities, dtypes=declared(entry))
    return extreme_cases(capabilities).map(GradientCase)


@st.composite
def two_windows_under_a_huge_stride(draw, forward):
    """``forward`` with a stride of 2**20 or more over its rows and the padding that leaves it two windows: its
    adjoint has two input rows that far apart, all the rows between them cropped (a canvas that follows the stride
    would take from gigabytes to more than any machine has)."""
    stride = draw(st.integers(2**20, 2**62))
    span = forward.dilation[0] * (forward.kh - 1) + 1
    padding = -(-(stride - forward.h + span) // 2)  # the padded rows reach a second window, not a third
    width_padding = 0 if forward.padding == "valid" else forward.padding[1]
    return replace(forward, stride=(stride, forward.stride[1]), padding=(padding, width_padding))


@built_once
@st.composite
def extreme_transposed_cases(draw, entry) -> GradientCase:
    """conv_transpose2d cases: adjoints of the forward's extreme configurations (symmetric integer padding) inside
    ``entry``'s capabilities, with the forward's unused rows as output padding or, half the time, another one that
    torch (and the entry) allows and that leaves between 1 and 8 more rows of output."""
    capabilities = replace(entry.capabilities, dtypes=declared(entry), padding_strings=("valid",))
    forward = draw(extreme_cases(capabilities))
    free = capabilities.strides is None and not capabilities.square_strides and not capabilities.int_padding
    if free and draw(st.integers(0, 3)) == 0:
        forward = draw(two_windows_under_a_huge_stride(forward))
    natural = GradientCase(forward).unused_rows()
    if draw(st.booleans()):
        return GradientCase(forward, natural)
    extra = []
    for axis, size in enumerate((forward.h, forward.w)):
        low = max(0, natural[axis] - size + 1)  # at least one output row
        padded = size + 2 * (0 if forward.padding == "valid" else forward.padding[axis])
        # the adjoint's output before the crop, the forward's padded extent with the natural output padding, stays
        # inside what an index holds
        high = min(largest_output_padding(entry, forward, axis), natural[axis] + OUTPUT_PADDING_SPREAD,
                   natural[axis] + INDEX_LIMIT - padded)  # fmt: skip
        extra.append(draw(st.integers(low, high)))
    return GradientCase(forward, tuple(extra))


@built_once
@st.composite
def past_the_limit_backward_calls(draw, entry) -> tuple[GradientCase, tuple, dict, str]:
    """A conv2d_backward call whose forward arguments hold a number past 2**63 - 1 (the forward's past-the-limit
    cases): the case, the arrays ``(grad_out, x, weight)``, the geometry and the argument to name. grad_out has the
    forward output's shape, each extent capped at 8 (its shape is checked after the forward arguments)."""
    case, name = draw(past_the_limit_cases(replace(entry.capabilities, dtypes=declared(entry))))
    gradient = GradientCase(case)
    n, c_out, rows, cols = gradient.forward_output()
    x_shape, weight_shape, _ = case.shapes()
    small = tuple(max(1, min(SMALL_EXTENT, extent)) for extent in (rows, cols))
    x, weight, grad_out = case.arrays((x_shape, weight_shape, (n, c_out, *small)))
    return gradient, (grad_out, x, weight), case.geometry(), name


TRANSPOSED_PAST_THE_LIMIT = ("stride", "padding", "output_padding", "dilation", "strided input", "dilated span")


@built_once
@st.composite
def past_the_limit_transposed_calls(draw, entry) -> tuple[GradientCase, tuple, dict, str]:
    """A conv_transpose2d call of a small case with one number past 2**63 - 1: a stride, padding, output padding or
    dilation entry, or a strided input extent ``(H - 1)*stride + 1`` or a dilated kernel span made of entries within
    it. Returns the case, the arrays ``(x, weight, bias)``, the geometry and the argument to name."""
    case = draw(conv_cases(replace(entry.capabilities, dtypes=declared(entry), padding_strings=("valid",)),
                           values=("int",), layouts=False, padding_modes=("pair",)))  # fmt: skip
    gradient = GradientCase(case, GradientCase(case).unused_rows())
    arguments, geometry = gradient.transposed_call()
    x, weight = arguments[0], arguments[1]
    axes = {
        "strided input": [a for a in (0, 1) if x.shape[2 + a] > 1],
        "dilated span": [a for a in (0, 1) if weight.shape[2 + a] > 1],
    }
    kinds = [k for k in TRANSPOSED_PAST_THE_LIMIT if axes.get(k, (0, 1))]
    if entry.capabilities.dilations == (1,):
        kinds = [k for k in kinds if "dilat" not in k]
    kind = draw(st.sampled_from(kinds))
    axis = draw(st.sampled_from(axes.get(kind, (0, 1))))
    if kind == "strided input":
        name, value = "stride", draw(st.integers(-(-INDEX_LIMIT // (x.shape[2 + axis] - 1)), INDEX_LIMIT))
    elif kind == "dilated span":
        name, value = "dilation", draw(st.integers(-(-INDEX_LIMIT // (weight.shape[2 + axis] - 1)), INDEX_LIMIT))
    else:
        name, value = kind, draw(st.sampled_from(PAST_THE_LIMIT) | st.integers(INDEX_LIMIT + 1, 2**200))
    one_int = {"stride": entry.capabilities.square_strides, "dilation": entry.capabilities.square_dilations,
               "padding": entry.capabilities.int_padding, "output_padding": False}  # fmt: skip
    pair = tuple(int(v) for v in (geometry[name] if isinstance(geometry[name], tuple) else (geometry[name],) * 2))
    changed = tuple(value if i == axis or one_int[name] else v for i, v in enumerate(pair))
    return gradient, arguments, dict(geometry, **{name: changed}), name

"""Deliberately wrong conv2d callables: each is the correct computation with exactly ONE realistic defect.

Every entry validates its arguments with the shared contract (``convcheck.impls.normalize``), so that only its one bug
is wrong about it; the exceptions are :func:`channels_unchecked` and :func:`dtypes_unchecked`, whose bug is a missing
check. The correct computation is torch's (:func:`_conv` on a possibly altered problem) or the gallery's own direct
sum. These are test fixtures for the property suite (``tests/test_gallery.py``) and are never registered.
"""

import functools
from dataclasses import replace

import numpy as np
from convcheck.impls import REGISTRY, Conv2dProblem, normalize
from convcheck.impls.torch_conv import torch_conv2d

from tests.gallery.correct import TEXTBOOK_DECLARATION, direct_sum, textbook


def _conv(problem: Conv2dProblem, **changes) -> np.ndarray:
    """The correct conv2d of ``problem`` with some of its fields replaced."""
    return torch_conv2d(replace(problem, **changes))


def _defect(bug):
    """Give ``bug(problem) -> ndarray`` the contract's signature, validating with the shared contract first."""

    @functools.wraps(bug)
    def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return bug(normalize(x, weight, bias, stride, padding, dilation, groups))

    return conv2d


# --- geometry ---------------------------------------------------------------------------------------------------


@_defect
def flipped_kernel(p):
    """True convolution instead of cross-correlation: the kernel is flipped in both axes."""
    return _conv(p, weight=p.weight[:, :, ::-1, ::-1].copy())


@_defect
def padding_one_side(p):
    """Each axis's padding all goes before the data (top/left): the shape is right, the values shifted."""
    top, bottom, left, right = p.padding
    return _conv(p, padding=(top + bottom, 0, left + right, 0))


@_defect
def stride_swapped(p):
    """The stride pair is read as (width, height)."""
    return _conv(p, stride=p.stride[::-1])


@_defect
def padding_swapped(p):
    """The padding of the height is applied to the width and vice versa."""
    top, bottom, left, right = p.padding
    return _conv(p, padding=(left, right, top, bottom))


@_defect
def kernel_transposed(p):
    """The kernel's last two axes are read as (kW, kH): right for square kernels, scrambled for the others."""
    c_out, c_group, kh, kw = p.weight.shape
    return _conv(p, weight=np.ascontiguousarray(p.weight).reshape(c_out, c_group, kw, kh))


@_defect
def ceil_output_size(p):
    """The output size is rounded up: a trailing row/column that does not fit is computed over zeros."""
    (top, bottom, left, right), (sh, sw) = p.padding, p.stride
    return _conv(p, padding=(top, bottom + sh - 1, left, right + sw - 1))


@_defect
def last_row_lost(p):
    """The output-row loop stops one row early: the last row is left zero."""
    out = _conv(p)
    out[:, :, -1] = 0
    return out


@_defect
def window_off_by_one(p):
    """The loop over kernel rows stops one early (range(kH - 1)): the last kernel row is never applied."""
    return _conv(p, weight=np.concatenate([p.weight[:, :, :-1], 0 * p.weight[:, :, -1:]], axis=2))


@_defect
def stride_phase(p):
    """A stride-1 result subsampled from the last offset of each stride step (s-1::s) instead of from 0."""
    (sh, sw), out = p.stride, _conv(p, stride=(1, 1))
    return np.ascontiguousarray(out[:, :, sh - 1 :: sh, sw - 1 :: sw])


@_defect
def dilation_height_only(p):
    """The dilation is applied to the kernel's rows only; its columns stay adjacent."""
    return _conv(p, dilation=(p.dilation[0], 1))


def int_dilation_height_only(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A dilation given as one int is read as (d, 1): only a (dh, dw) pair dilates the width."""
    if isinstance(dilation, int):
        dilation = (dilation, 1)
    return _conv(normalize(x, weight, bias, stride, padding, dilation, groups))


@_defect
def dilation_minus_one(p):
    """The dilation is read as the number of zeros between taps: taps are d - 1 apart (at least 1), not d."""
    return _conv(p, dilation=tuple(max(1, d - 1) for d in p.dilation))


@_defect
def same_padding_wrong_side(p):
    """'same' with an odd total pad puts the extra zero at the top/left instead of the bottom/right."""
    top, bottom, left, right = p.padding
    return _conv(p, padding=(bottom, top, right, left))


@_defect
def edge_padding(p):
    """The border is padded by repeating the edge pixels (np.pad mode='edge') instead of zeros."""
    top, bottom, left, right = p.padding
    x = np.pad(p.x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode="edge")
    return _conv(p, x=x, padding=(0, 0, 0, 0))


@_defect
def border_without_bias(p):
    """Outputs whose window lies wholly in the padding are left zero: the bias is added only where x is seen."""
    seen = _conv(p, x=np.ones_like(p.x), weight=np.ones_like(p.weight), bias=None)
    return np.where(seen > 0, _conv(p), 0)


# --- channels, groups, batch, bias --------------------------------------------------------------------------------


@_defect
def groups_interleaved(p):
    """Group g reads input channels g, g+G, g+2G, ... (a reshape in the wrong order) instead of a block."""
    n, c_in, h, w = p.x.shape
    x = p.x.reshape(n, c_in // p.groups, p.groups, h, w).swapaxes(1, 2).reshape(n, c_in, h, w)
    return _conv(p, x=x)


def channels_unchecked(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """No channel check: only the input channels the weight asks for are read; extra ones are silently ignored."""
    if isinstance(x, np.ndarray) and x.ndim == 4 and np.ndim(weight) == 4 and isinstance(groups, int) and groups > 0:
        x = x[:, : np.shape(weight)[1] * groups]
    return _conv(normalize(x, weight, bias, stride, padding, dilation, groups))


def dtypes_unchecked(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """No dtype check: a weight (and bias) of another float dtype is silently cast to x's dtype."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        weight, bias = (a.astype(x.dtype) if isinstance(a, np.ndarray) else a for a in (weight, bias))
    return _conv(normalize(x, weight, bias, stride, padding, dilation, groups))


@_defect
def channel_block_remainder(p):
    """Input channels are summed in blocks of 8 and a last partial block is dropped (only past 8 channels a group)."""
    c_group = p.weight.shape[1]
    if c_group <= 8:
        return _conv(p)
    weight = p.weight.copy()
    weight[:, c_group // 8 * 8 :] = 0
    return _conv(p, weight=weight)


@_defect
def batch_mixed(p):
    """A (C_out, N, H, W) result buffer read back as (N, C_out, H, W): batch items and channels mixed."""
    out = _conv(p)
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3)).reshape(out.shape)


@_defect
def bias_dropped(p):
    """The bias is never added."""
    return _conv(p, bias=None)


@_defect
def bias_per_group(p):
    """The bias is indexed by the channel's position inside its group, o % (C_out/G), not by o."""
    if p.bias is None:
        return _conv(p)
    return _conv(p, bias=np.tile(p.bias[: p.bias.shape[0] // p.groups], p.groups))


@_defect
def bias_on_last_axis(p):
    """``out + bias`` broadcasts the bias along the width, not the channels (silently when W_out == C_out)."""
    out = _conv(p, bias=None)
    return out if p.bias is None else out + p.bias


# --- fast paths, blocks and tails: right everywhere except the special-cased shape or the block edge -------------


@_defect
def grouped_1x1_fast_path(p):
    """The 1x1 fast path (one matrix product per group) omits the group's input-channel offset: with groups > 1
    every group reads the first group's channels."""
    c_group = p.weight.shape[1]
    if p.weight.shape[2:] != (1, 1) or p.groups == 1:
        return _conv(p)
    return _conv(p, x=np.tile(p.x[:, :c_group], (1, p.groups, 1, 1)))


@_defect
def odd_width_3x3_fast_path(p):
    """The 3x3 stride-1 fast path computes output columns two at a time: with an odd output width the last column
    is never stored (it stays zero)."""
    out = _conv(p)
    if p.weight.shape[2:] == (3, 3) and p.stride == (1, 1) and p.dilation == (1, 1) and out.shape[3] % 2:
        out[..., -1] = 0
    return out


@_defect
def depthwise_multiplier_order(p):
    """The depthwise path with a channel multiplier m > 1 feeds output channel o from input channel o % C_in (the
    multiplier-major order) instead of o // m."""
    c_in, c_out = p.x.shape[1], p.weight.shape[0]
    if p.groups != c_in or c_out == c_in:
        return _conv(p)
    return _conv(p, x=np.ascontiguousarray(p.x[:, np.arange(c_out) % c_in]), groups=c_out)


@_defect
def stem_padding_even(p):
    """The 7x7 stride-2 padding-3 stem pads the bottom and right with 2 zeros, enough for an even input only: an odd
    input loses its last output row and column."""
    if p.weight.shape[2:] == (7, 7) and p.stride == (2, 2) and p.dilation == (1, 1) and p.padding == (3, 3, 3, 3):
        return _conv(p, padding=(3, 2, 3, 2))
    return _conv(p)


@_defect
def column_block_remainder_32(p):
    """Output columns are computed in blocks of 32; past a full block, a last partial block is never stored."""
    out = _conv(p)
    width = out.shape[3]
    if width > 32 and width % 32:
        out[..., width // 32 * 32 :] = 0
    return out


@_defect
def row_buffer_64(p):
    """Each output row goes through a fixed buffer of 64 columns: column c is stored at c % 64, so past 64 columns
    the row's start is overwritten by its end."""
    out = _conv(p)
    width = out.shape[3]
    last_written = [max(range(k, width, 64)) for k in range(min(width, 64))]
    return np.ascontiguousarray(out[..., [last_written[c % 64] for c in range(width)]])


@_defect
def batch_tail_4(p):
    """Images are processed in blocks of 4; the tail after the full blocks is stored from image 0 instead of after
    the blocks (overwriting the first images, its own slots left zero)."""
    out = _conv(p)
    n = out.shape[0]
    if n > 4 and n % 4:
        start = n // 4 * 4
        out[: n - start], out[start:] = out[start:].copy(), 0
    return out


@_defect
def batch_tail_8(p):
    """Images are processed in blocks of 8; the tail after the full blocks is computed from the last full block's
    first images (its input pointer is not advanced)."""
    n = p.x.shape[0]
    if n <= 8 or n % 8 == 0:
        return _conv(p)
    start = n // 8 * 8
    return _conv(p, x=np.concatenate([p.x[:start], p.x[start - 8 : start - 8 + n - start]]))


@_defect
def channel_remainder_16(p):
    """Input channels are reduced in blocks of 16; the partial block after the full ones is multiplied by the first
    block's weights (the weight offset is not advanced)."""
    c_group = p.weight.shape[1]
    if c_group <= 16 or c_group % 16 == 0:
        return _conv(p)
    start = c_group // 16 * 16
    weight = p.weight.copy()
    weight[:, start:] = p.weight[:, : c_group - start]
    return _conv(p, weight=weight)


def square_layer_height_from_width(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A layer that takes one stride, one dilation and one padding int (declared), whose output height is computed
    from the input width, a copy of the width's line: the result array has the wrong height unless H_out == W_out
    (rows it lacks are lost, rows it has extra stay zero)."""
    correct = _conv(normalize(x, weight, bias, stride, padding, dilation, groups))
    kw, width = weight.shape[3], x.shape[3]
    h_out = max(0, (width + 2 * padding - dilation * (kw - 1) - 1) // stride + 1)
    out = np.zeros((*correct.shape[:2], h_out, correct.shape[3]), dtype=correct.dtype)
    rows = min(h_out, correct.shape[2])
    out[:, :, :rows] = correct[:, :, :rows]
    return out


square_layer_height_from_width.capabilities = {
    "square_strides": True,
    "square_dilations": True,
    "int_padding": True,
    "padding_strings": (),
    "groups": False,
}


# --- precision and dtype ------------------------------------------------------------------------------------------


@_defect
def float16_accumulation(p):
    """The sum is accumulated in float16 (to save memory), then returned in x's dtype."""
    return direct_sum(p, accumulator=np.float16)


@_defect
def float32_accumulation(p):
    """float64 input is accumulated in float32, then returned as float64."""
    return direct_sum(p, accumulator=np.float32)


@_defect
def float64_output(p):
    """The result is returned as float64 whatever the input dtype."""
    return _conv(p).astype(np.float64)


@_defect
def nondeterministic_order(p):
    """The group's input channels are summed in a random order each call (an unordered parallel reduction)."""
    c_group = p.weight.shape[1]
    order = np.random.default_rng().permutation(c_group)
    channels = (np.arange(p.groups)[:, None] * c_group + order).ravel()
    return _conv(p, x=p.x[:, channels], weight=p.weight[:, order])


# --- transform methods, declared normwise as a real one would be -------------------------------------------------


@_defect
def fft_circular_padding(p):
    """An FFT convolution's wrap-around left in: the zero border is replaced by the opposite edge (circular padding)."""
    top, bottom, left, right = p.padding
    x = np.pad(p.x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode="wrap")
    return _conv(p, x=x, padding=(0, 0, 0, 0))


fft_circular_padding.error_model = "normwise"


@_defect
def fft_single_precision(p):
    """float64 data transformed in single precision (complex64), the result cast back to float64."""
    x, weight, bias = (None if a is None else a.astype(np.float32) for a in (p.x, p.weight, p.bias))
    geometry = {"stride": p.stride, "dilation": p.dilation, "groups": p.groups}
    top, bottom, left, right = p.padding
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    return REGISTRY["fft"](x, weight, bias, padding=0, **geometry).astype(p.x.dtype)


fft_single_precision.error_model = "normwise"


# --- memory and hygiene -------------------------------------------------------------------------------------------


@_defect
def memory_order_read(p):
    """x is read in memory order (ravel(order='K')) as if it were C-contiguous: wrong for other layouts."""
    return _conv(p, x=p.x.ravel(order="K").reshape(p.x.shape))


@_defect
def input_scaled_in_place(p):
    """x is normalized in place (divided by a power of two, the result scaled back): the caller's x changes."""
    scale = 2.0 ** int(np.frexp(np.max(np.abs(p.x)))[1])
    np.divide(p.x, scale, out=p.x)
    return _conv(p, bias=None if p.bias is None else p.bias / scale) * scale


@_defect
def non_contiguous_output(p):
    """The result is computed channels-last and returned as a transposed view, not C-contiguous."""
    return np.ascontiguousarray(_conv(p).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


_WORKSPACE: dict = {}


@_defect
def output_buffer_reused(p):
    """Every result is written into one cached buffer per shape: the next call overwrites the previous result."""
    out = _conv(p)
    buffer = _WORKSPACE.setdefault((out.shape, out.dtype), np.empty_like(out))
    buffer[...] = out
    return buffer


# --- special values -----------------------------------------------------------------------------------------------


@_defect
def nan_swallowed(p):
    """NaN and infinity in x are replaced (np.nan_to_num) before the sum, so they never reach the output."""
    return _conv(p, x=np.nan_to_num(p.x))


# --- extreme arguments and state between calls --------------------------------------------------------------------


@_defect
def padded_plane_allocated(p):
    """The whole zero-padded input is allocated (np.zeros) and the correct strided windows are read from it: memory
    follows the padding and, with it, the stride (padding 1000 under stride 1000 on 8 planes: 128 MiB for a few
    output pixels). Only the pages the windows read are touched, so only the allocation shows it."""
    top, bottom, left, right = p.padding
    n, c_in, height, width = p.x.shape
    plane = np.zeros((n, c_in, top + height + bottom, left + width + right), dtype=p.x.dtype)
    plane[:, :, top : top + height, left : left + width] = p.x
    return direct_sum(replace(p, x=plane, padding=(0, 0, 0, 0)))


padded_plane_allocated.capabilities = {"memory_follows_output": True}  # what it claims, and breaks


_RESULTS_BY_ID: dict = {}


@_defect
def cached_by_id(p):
    """Results are cached by the ids of x, weight and bias (and the geometry): a call after an in-place update of an
    input, or with new arrays that reuse a freed id, returns the stale result of the earlier call."""
    key = (id(p.x), id(p.weight), id(p.bias), p.stride, p.padding, p.dilation, p.groups)
    if key not in _RESULTS_BY_ID:
        _RESULTS_BY_ID[key] = _conv(p)
    return _RESULTS_BY_ID[key].copy()


_SHARED_WORKSPACE = [np.empty(0, dtype=np.uint8)]


@_defect
def output_in_shared_workspace(p):
    """Every result is a view of one module-level workspace, grown when too small and shared by calls of every
    shape and dtype: the next call overwrites the previous result."""
    out = _conv(p)
    if _SHARED_WORKSPACE[0].nbytes < out.nbytes:
        _SHARED_WORKSPACE[0] = np.empty(out.nbytes, dtype=np.uint8)
    result = _SHARED_WORKSPACE[0][: out.nbytes].view(out.dtype).reshape(out.shape)
    result[...] = out
    return result


# --- size classes of real networks: right below the size, wrong past it -----------------------------------------


def _partial_block(count: int, block: int) -> int | None:
    """Where the partial block after the full blocks of ``block`` starts, or None (no full block, or no rest)."""
    return count // block * block if count > block and count % block else None


@_defect
def batch_block_16(p):
    """Images are processed in blocks of 16; the partial block after the full ones is never computed (its outputs
    stay zero)."""
    out = _conv(p)
    start = _partial_block(out.shape[0], 16)
    if start is not None:
        out[start:] = 0
    return out


@_defect
def batch_block_32(p):
    """Images are processed in blocks of 32; the partial block after the full ones starts one image early (an
    inclusive bound): each of its images is read from the image before it, and the last image is never read."""
    start = _partial_block(p.x.shape[0], 32)
    if start is None:
        return _conv(p)
    return _conv(p, x=np.concatenate([p.x[:start], p.x[start - 1 : -1]]))


def _per_group(array: np.ndarray, groups: int) -> np.ndarray:
    """A copy of ``array`` with its first axis split into (groups, per group)."""
    return np.array(array).reshape(groups, -1, *array.shape[1:])


@_defect
def output_block_64(p):
    """Output channels of a group are computed in blocks of 64; the partial block after the full ones is computed
    with the weights of the group's first block (the weight pointer is not advanced)."""
    weight = _per_group(p.weight, p.groups)
    per_group = weight.shape[1]
    start = _partial_block(per_group, 64)
    if start is None:
        return _conv(p)
    weight[:, start:] = weight[:, : per_group - start]
    return _conv(p, weight=weight.reshape(p.weight.shape))


@_defect
def output_block_128(p):
    """Output channels of a group are computed in blocks of 128; the partial block after the full ones is never
    stored (its outputs stay zero)."""
    out = _conv(p)
    start = _partial_block(out.shape[1] // p.groups, 128)
    if start is None:
        return out
    out = out.reshape(out.shape[0], p.groups, -1, *out.shape[2:])
    out[:, :, start:] = 0
    return out.reshape(out.shape[0], -1, *out.shape[3:])


@_defect
def input_block_64(p):
    """Input channels of a group are reduced in blocks of 64; the partial block after the full ones is dropped from
    the sum."""
    start = _partial_block(p.weight.shape[1], 64)
    if start is None:
        return _conv(p)
    weight = p.weight.copy()
    weight[:, start:] = 0
    return _conv(p, weight=weight)


@_defect
def input_block_128(p):
    """Input channels of a group are reduced in blocks of 128; the partial block after the full ones reads the input
    channels one block back (its input offset is not advanced past the last full block)."""
    per_group = p.weight.shape[1]
    start = _partial_block(per_group, 128)
    if start is None:
        return _conv(p)
    x = np.array(p.x).reshape(p.x.shape[0], p.groups, per_group, *p.x.shape[2:])
    x[:, :, start:] = x[:, :, start - 128 : per_group - 128].copy()
    return _conv(p, x=x.reshape(p.x.shape))


@_defect
def row_band_64k(p):
    """Output rows are computed in bands of at most 2**16 output elements (all images and channels); each band but
    the last reads its input rows one row short, so its last output row misses the kernel's last row (the halo
    across the seam is cut off)."""
    out = _conv(p)
    n, c_out, rows, cols = out.shape
    band = max(1, 2**16 // (n * c_out * cols))
    if rows <= band:
        return out
    weight = p.weight.copy()
    weight[:, :, -1] = 0
    short = _conv(p, weight=weight)
    seams = np.arange(band - 1, rows - 1, band)  # the last row of every band but the last
    out[:, :, seams] = short[:, :, seams]
    return out


@_defect
def column_band_256k(p):
    """Output columns are computed in bands of at most 2**18 output elements (all images and channels); each band
    after the first is stored one column to the left of its place (its start taken from the previous band's inclusive
    end), over the previous band's last column, and the plane's last column is never stored (zero)."""
    out = _conv(p)
    n, c_out, rows, cols = out.shape
    band = max(1, 2**18 // (n * c_out * rows))
    if cols <= band:
        return out
    stored = np.zeros_like(out)
    stored[..., :band] = out[..., :band]
    for start in range(band, cols, band):
        chunk = out[..., start : start + band]
        stored[..., start - 1 : start - 1 + chunk.shape[-1]] = chunk
    return stored


@_defect
def kernel_table_11(p):
    """Tap offsets come from a table sized for kernels of up to 11 taps an axis: in a larger kernel every tap past
    the 11th of a row or column reads the input of the 11th."""
    weight = p.weight.copy()
    if weight.shape[2] > 11:
        weight[:, :, 10] += weight[:, :, 11:].sum(axis=2)
        weight[:, :, 11:] = 0
    if weight.shape[3] > 11:
        weight[..., 10] += weight[..., 11:].sum(axis=3)
        weight[..., 11:] = 0
    return _conv(p, weight=weight)


@_defect
def dilation_past_3(p):
    """Tap offsets are tabulated for dilations 1 to 3 (the rates of backbones); a larger dilation takes the generic
    path, which spaces the taps d - 1 apart: the output has the right size, its windows the wrong spacing."""
    if max(p.dilation) <= 3:
        return _conv(p)
    out = _conv(p, dilation=tuple(d - 1 if d > 3 else d for d in p.dilation))  # more windows fit: keep the first
    rows, cols = p.output_shape[2:]
    return np.ascontiguousarray(out[:, :, :rows, :cols])


@_defect
def groups_past_8(p):
    """Group weight offsets come from a table of 8 entries: group g reads the weights of group g mod 8 (right up to 8
    groups)."""
    if p.groups <= 8:
        return _conv(p)
    weight = _per_group(p.weight, p.groups)[np.arange(p.groups) % 8]
    return _conv(p, weight=weight.reshape(p.weight.shape))


@_defect
def whole_input_window(p):
    """A window that covers the whole input (no padding, no dilation, no groups: a fully connected layer written as a
    convolution) takes a matrix-product fast path that flattens x in (H, W, C) order, its channels-last buffer's,
    against a weight flattened in (C, kH, kW) order."""
    n, _, height, width = p.x.shape
    if p.weight.shape[2:] != (height, width) or any(p.padding) or p.dilation != (1, 1) or p.groups != 1:
        return _conv(p)
    out = np.ascontiguousarray(p.x.transpose(0, 2, 3, 1)).reshape(n, -1) @ p.weight.reshape(len(p.weight), -1).T
    if p.bias is not None:
        out += p.bias
    return out.reshape(n, -1, 1, 1)


def textbook_padding_counted_once(x, weight, bias=None, stride=1, padding=0):
    """The student conv2d whose output size counts the padding once (``in + pad``, not ``in + 2*pad``): the
    bottom/right padding's windows are lost."""
    return textbook(x, weight, bias, stride, padding, pads_per_axis=1)


textbook_padding_counted_once.capabilities = TEXTBOOK_DECLARATION

"""Deliberately wrong conv_transpose2d and conv2d_backward entries: each the correct computation with ONE classic
backward bug. Each validates with the shared contract (the decorators of ``convcheck.impls.backward.registry``), so
that only its bug is wrong about it; the correct computation is torch's. Test fixtures, never registered."""

from dataclasses import replace

import numpy as np
from convcheck.impls.backward.loop import scatter_windows
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.backward.torch_autograd import torch_gradients, torch_transposed

_transposed, _gradients = torch_transposed.algorithm, torch_gradients.algorithm


@transposed_implementation("bug_output_padding_at_start")
def output_padding_at_start(problem):
    """The output padding's extra rows and columns go before the result instead of after it."""
    (eh, ew) = problem.output_padding
    inner = _transposed(replace(problem, output_padding=(0, 0), bias=None))
    out = np.zeros((*inner.shape[:2], inner.shape[2] + eh, inner.shape[3] + ew), dtype=inner.dtype)
    out[:, :, eh:, ew:] = inner
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out


@transposed_implementation("bug_kernel_not_flipped")
def kernel_not_flipped(problem):
    """The transposed convolution as a forward convolution of the stuffed input by the swapped kernel, not flipped."""
    return _transposed(replace(problem, weight=np.ascontiguousarray(problem.weight[:, :, ::-1, ::-1])))


@transposed_implementation("bug_padding_not_cropped")
def padding_not_cropped(problem):
    """The full result is returned: the padding is never cropped from it."""
    return _transposed(replace(problem, padding=(0, 0)))


@transposed_implementation("bug_padding_cropped_at_end")
def padding_cropped_at_end(problem):
    """Both sides' padding is cropped from the end: the shape is right, the values shifted."""
    (ph, pw) = problem.padding
    full = _transposed(replace(problem, padding=(0, 0)))
    return np.ascontiguousarray(full[:, :, : full.shape[2] - 2 * ph, : full.shape[3] - 2 * pw])


@backward_implementation("bug_input_gradient_overwritten")
def input_gradient_overwritten(problem):
    """Each window's gradient is written into grad_x, not added: where windows overlap, the last one wins."""
    forward, grad = problem.forward, problem.grad_out
    top, bottom, left, right = forward.padding
    n, c_in, h, w = forward.x.shape
    c_out, _, kh, kw = forward.weight.shape
    (sh, sw), (dh, dw), groups = forward.stride, forward.dilation, forward.groups
    canvas = np.zeros((n, c_in, h + top + bottom, w + left + right), dtype=grad.dtype)
    kernel = forward.weight.reshape(groups, c_out // groups, -1)
    per_group = grad.reshape(n, groups, c_out // groups, *grad.shape[2:])
    for i in range(grad.shape[2]):
        for j in range(grad.shape[3]):
            window = canvas[:, :, i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw]
            window[...] = np.einsum("ngo,gok->ngk", per_group[:, :, :, i, j], kernel).reshape(window.shape)
    _, grad_weight, grad_bias = _gradients(problem)
    return np.ascontiguousarray(canvas[:, :, top : top + h, left : left + w]), grad_weight, grad_bias


@backward_implementation("bug_weight_gradient_of_last_image")
def weight_gradient_of_last_image(problem):
    """grad_weight is overwritten image after image instead of summed over the batch: only the last image counts."""
    grad_x, _, grad_bias = _gradients(problem)
    last = replace(problem, grad_out=problem.grad_out[-1:], forward=replace(problem.forward, x=problem.x[-1:]))
    return grad_x, _gradients(last)[1], grad_bias


@backward_implementation("bug_bias_gradient_not_summed_over_batch")
def bias_gradient_not_summed_over_batch(problem):
    """grad_bias sums grad_out over the plane of the first image only."""
    grad_x, grad_weight, _ = _gradients(problem)
    return grad_x, grad_weight, np.ascontiguousarray(problem.grad_out[0].sum(axis=(1, 2)))


@backward_implementation("bug_input_gradient_unused_rows_at_start")
def input_gradient_unused_rows_at_start(problem):
    """grad_x assumes the input rows (columns) past the last window are at the start: the gradient shifted by them."""
    grad_x, grad_weight, grad_bias = _gradients(problem)
    forward, (rows, cols) = problem.forward, problem.grad_out.shape[2:]
    top, bottom, left, right = forward.padding
    (kh, kw), (sh, sw), (dh, dw) = forward.weight.shape[2:], forward.stride, forward.dilation
    height, width = forward.x.shape[2:]
    unused_h = height + top + bottom - ((rows - 1) * sh + dh * (kh - 1) + 1)
    unused_w = width + left + right - ((cols - 1) * sw + dw * (kw - 1) + 1)
    shifted = np.zeros_like(grad_x)
    shifted[:, :, unused_h:, unused_w:] = grad_x[:, :, : height - unused_h, : width - unused_w]
    return shifted, grad_weight, grad_bias


@backward_implementation("bug_float32_accumulation")
def float32_accumulation(problem):
    """float64 gradients computed in float32 and cast back: rounding far beyond float64's."""
    single = {"x": problem.x.astype(np.float32), "weight": problem.weight.astype(np.float32)}
    narrowed = replace(
        problem, grad_out=problem.grad_out.astype(np.float32), forward=replace(problem.forward, **single)
    )
    return tuple(g.astype(problem.x.dtype) for g in _gradients(narrowed))


@backward_implementation("bug_float64_input_gradient_through_float32")
def float64_input_gradient_through_float32(problem):
    """float64 grad_x computed through float32 and cast back (grad_weight and grad_bias in float64)."""
    _, grad_weight, grad_bias = _gradients(problem)
    return float32_accumulation.algorithm(problem)[0], grad_weight, grad_bias


_KEPT_BUFFERS: dict = {}  # (result name, shape, dtype) -> the buffer that result is written into


def _in_a_kept_buffer(name: str, array: np.ndarray) -> np.ndarray:
    """``array`` copied into the buffer kept for results ``name`` of its shape and dtype, which is returned itself."""
    kept = _KEPT_BUFFERS.setdefault((name, array.shape, array.dtype.str), np.empty_like(array))
    kept[...] = array
    return kept


@backward_implementation("bug_weight_gradient_in_a_kept_buffer")
def weight_gradient_in_a_kept_buffer(problem):
    """grad_weight is written into a workspace kept per weight shape and returned itself, not a copy: a later call of
    the same shape overwrites an earlier result."""
    grad_x, grad_weight, grad_bias = _gradients(problem)
    return grad_x, _in_a_kept_buffer("grad_weight", grad_weight), grad_bias


@transposed_implementation("bug_output_in_a_kept_buffer")
def output_in_a_kept_buffer(problem):
    """The output is written into a buffer kept per output shape and returned itself, not a copy: a later call of the
    same shape overwrites an earlier result."""
    return _in_a_kept_buffer("out", _transposed(problem))


@transposed_implementation("bug_nan_output_zeroed")
def nan_output_zeroed(problem):
    """NaN in the output is set to zero (a cleanup step after the scatter): a NaN input, or +inf meeting -inf, leaves
    zeros where IEEE arithmetic gives NaN."""
    out = _transposed(problem)
    out[np.isnan(out)] = 0
    return out


@transposed_implementation("bug_groups_interleaved")
def groups_interleaved(problem):
    """The input channels are dealt to the groups round-robin (channel c to group c % groups), not in blocks: the
    weight's blocks meet the wrong channels (right for one group, or one channel a group)."""
    c_in, groups = problem.x.shape[1], problem.groups
    dealt = [c for g in range(groups) for c in range(g, c_in, groups)]
    return _transposed(replace(problem, x=np.ascontiguousarray(problem.x[:, dealt])))


@backward_implementation("bug_non_finite_grad_out_zeroed")
def non_finite_grad_out_zeroed(problem):
    """NaN and infinities in grad_out are set to zero before the gradients (a sanitizing step inside the call): they
    never reach grad_x, grad_weight or grad_bias."""
    return _gradients(replace(problem, grad_out=np.nan_to_num(problem.grad_out, nan=0.0, posinf=0.0, neginf=0.0)))


@transposed_implementation("bug_full_canvas_allocated")
def full_canvas_allocated(problem):
    """Every input pixel times the kernel is scattered onto the whole canvas the windows reach, which is then cropped
    by the padding: right values, but memory that follows the stride, the dilation and the padding."""
    canvas = scatter_windows(problem.x, problem.weight, problem.stride, problem.dilation, problem.groups)
    (ph, pw), (_, _, rows, cols) = problem.padding, problem.output_shape
    out = np.zeros(problem.output_shape, dtype=canvas.dtype)
    kept = canvas[:, :, ph : ph + rows, pw : pw + cols]
    out[:, :, : kept.shape[2], : kept.shape[3]] = kept
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out


@backward_implementation("bug_padded_input_allocated")
def padded_input_allocated(problem):
    """grad_weight is summed from the patches of the padded input, built whole: right values, but memory that
    follows the padding (grad_x and grad_bias are torch's)."""
    grad_x, _, grad_bias = _gradients(problem)
    forward, grad = problem.forward, problem.grad_out
    image = forward.padded_input()
    (sh, sw), (dh, dw), groups = forward.stride, forward.dilation, forward.groups
    c_out, c_group, kh, kw = forward.weight.shape
    n, _, rows, cols = grad.shape
    down = np.arange(rows)[:, None] * sh + np.arange(kh) * dh  # the padded row of window i's tap u
    across = np.arange(cols)[:, None] * sw + np.arange(kw) * dw
    patches = image[:, :, down[:, None, :, None], across[None, :, None, :]]  # (N, C_in, rows, cols, kH, kW)
    patches = patches.reshape(n, groups, c_group, rows, cols, kh, kw)
    per_group = grad.reshape(n, groups, c_out // groups, rows, cols)
    grad_weight = np.einsum("ngoij,ngcijuv->gocuv", per_group, patches).reshape(forward.weight.shape)
    return grad_x, np.ascontiguousarray(grad_weight, dtype=grad.dtype), grad_bias

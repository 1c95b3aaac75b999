"""The bookkeeping around a scatter: the canvas the windows reach, and what of it the call returns.

A scatter ``scatter(grad, weight, stride, dilation, groups)`` adds ``grad[n, o, i, j] * weight[o, c]`` into window
(i, j) of a zero canvas as long as the windows reach, ``(i - 1)*stride + dilation*(k - 1) + 1`` per axis, giving
``(N, C_in, ...)`` from ``grad (N, C_out, rows, cols)`` and ``weight (C_out, C_in/groups, kH, kW)``: value ``i`` times
tap ``t`` lands at ``i*stride + t*dilation``. The transposed convolution is that canvas from row (column) ``padding``
on, as long as its output (the output padding's extra rows are zeros past the canvas); the input gradient of conv2d is
the canvas from the forward padding on, as long as the input (rows past the last window get nothing). The textbook
loop, col2im, SciPy and the frameworks differ in the scatter only.

Where the windows reach further than they hold (value, tap) pairs (a stride, a dilation or a padding far beyond the
input), the axis is scattered with stride ``k`` and dilation 1, each value's taps side by side, and each tap's run of
values is then added at the positions it lands on inside the result: memory and work follow the pairs and the result,
never the stride, the dilation or the padding, and every number the scatter sees is at most ``k``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem


def _landing(values: int, stride: int, first: int, size: int) -> tuple[slice, slice] | None:
    """(values, positions) for value ``i`` landing at ``i*stride + first`` inside ``[0, size)``, as two slices of
    equal length, or None when none lands inside."""
    start = max(0, -(first // stride))  # the first i with i*stride + first >= 0
    stop = min(values, -((first - size) // stride))  # the first i with i*stride + first >= size
    if start >= stop:
        return None
    position = start * stride + first
    return slice(start, stop), slice(position, position + (stop - start - 1) * stride + 1, stride)


def _along(array: np.ndarray, axis: int, index: slice) -> tuple:
    return (slice(None),) * axis + (index,)


def _folded(canvas: np.ndarray, axis: int, kernel: int, stride: int, dilation: int, offset: int, size: int):
    """A compact axis (value ``i``'s tap ``t`` at ``i*kernel + t``) added at ``i*stride + t*dilation - offset``,
    inside ``[0, size)``: tap by tap, each a strided run without repeats."""
    out = np.zeros(canvas.shape[:axis] + (size,) + canvas.shape[axis + 1 :], dtype=canvas.dtype)
    values = canvas.shape[axis] // kernel
    for tap in range(kernel):
        landing = _landing(values, stride, tap * dilation - offset, size)
        if landing is not None:
            run = canvas[_along(canvas, axis, slice(tap, None, kernel))]
            out[_along(out, axis, landing[1])] += run[_along(run, axis, landing[0])]
    return out


def _cropped(canvas: np.ndarray, axis: int, offset: int, size: int) -> np.ndarray:
    """``canvas`` from ``offset`` on along ``axis``, ``size`` long, zeros past its end."""
    out = np.zeros(canvas.shape[:axis] + (size,) + canvas.shape[axis + 1 :], dtype=canvas.dtype)
    kept = canvas[_along(canvas, axis, slice(min(offset, canvas.shape[axis]), offset + size))]
    out[_along(out, axis, slice(0, kept.shape[axis]))] = kept
    return out


def placed(scatter: Callable, grad: np.ndarray, weight: np.ndarray, stride, dilation, groups: int, offset, size):
    """The canvas of ``scatter`` from ``offset`` on, ``size`` long, per axis (zeros where no window reaches); an axis
    whose windows reach further than its (value, tap) pairs is scattered compactly and folded (see the module)."""
    compact, scatter_stride, scatter_dilation = [], [], []
    for values, k, s, d in zip(grad.shape[2:], weight.shape[2:], stride, dilation, strict=True):
        compact.append((values - 1) * s + d * (k - 1) + 1 > values * k)
        # A single value's stride is never used: 1 keeps every number the scatter sees small.
        scatter_stride.append(k if compact[-1] else (s if values > 1 else 1))
        scatter_dilation.append(1 if compact[-1] else d)
    canvas = scatter(grad, weight, tuple(scatter_stride), tuple(scatter_dilation), groups)
    for axis, k in enumerate(weight.shape[2:]):
        if compact[axis]:
            canvas = _folded(canvas, 2 + axis, k, stride[axis], dilation[axis], offset[axis], size[axis])
        else:
            canvas = _cropped(canvas, 2 + axis, offset[axis], size[axis])
    return np.ascontiguousarray(canvas)


def largest_number(problem: ConvTranspose2dProblem) -> int:
    """The largest stride, dilation or extent of the canvas the windows reach (with the output padding) of a
    transposed convolution: what a library's own indices must hold to compute it directly."""
    canvas = [
        (size - 1) * s + d * (k - 1) + 1 + e
        for size, k, s, d, e in zip(problem.x.shape[2:], problem.weight.shape[2:], problem.stride, problem.dilation,
                                    problem.output_padding, strict=True)
    ]  # fmt: skip
    return max(*problem.stride, *problem.dilation, *canvas)


def transposed_by(scatter: Callable, problem: ConvTranspose2dProblem) -> np.ndarray:
    """conv_transpose2d: every input pixel scattered by ``scatter``, the canvas cropped by the padding, plus bias."""
    size = problem.output_shape[2:]
    out = placed(scatter, problem.x, problem.weight, problem.stride, problem.dilation, problem.groups,
                 problem.padding, size)  # fmt: skip
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out


def input_gradient_by(scatter: Callable, problem: Conv2dBackwardProblem) -> np.ndarray:
    """grad_x: every window's gradient scattered by ``scatter`` over the padded input, the border cropped."""
    forward = problem.forward
    top, _, left, _ = forward.padding
    return placed(scatter, problem.grad_out, forward.weight, forward.stride, forward.dilation, forward.groups,
                  (top, left), forward.x.shape[2:])  # fmt: skip

"""torch on the CPU: ``torch.nn.functional.conv_transpose2d``, and autograd's gradients of ``conv2d``.

The gradients are what ``Tensor.backward`` leaves in the leaves ``x``, ``weight`` and a zero bias after
``F.conv2d(x, weight, bias, ...).backward(grad_out)``; an asymmetric padding ('same' with an even dilated kernel) goes
through ``F.pad`` inside the graph. torch is imported at the first call.

Numbers torch does not take as they are: past ``TORCH_INDEX_LIMIT`` (2**31 - 1), torch 2.13 keeps a transposed
convolution's stride and dilation in int32 and refuses what wraps (``RuntimeError: stride should be greater than zero,
but got stride_height: 0`` for a stride of 2**40), and its conv2d's shape arithmetic is not reliable (see
:func:`convcheck.impls.torch_conv.torch_conv2d`); and its float32 CPU kernels of both directions, from a batch of 2 on,
take time quadratic in the width's stride whatever the input: a 1x1 input under stride (1, 10**4) took 0.7 s
transposed, its gradients 1.8 s, and stride (1, 2**20) crashed the transposed call (SIGSEGV). So a call with a number
past ``TORCH_INDEX_LIMIT`` or a stride past ``TORCH_STRIDE_LIMIT`` is handed over in an equivalent form whose numbers
are at most the kernel's: conv_transpose2d scatters each input pixel's taps side by side (stride k, dilation 1, no
padding) and the runs are added where they land (:func:`convcheck.impls.backward._canvas.placed`); conv2d's gradients
go through the tap-gathered forward problem (:meth:`convcheck.impls.contract.Conv2dProblem.tap_gathered`), its input
gathered inside the graph, so that autograd adds the gradient of each gathered row back into the row it came from.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls.backward._canvas import largest_number, transposed_by
from convcheck.impls.backward.autograd import as_numpy, torch_vjp
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.contract import Conv2dProblem, tap_rows
from convcheck.impls.torch_conv import TORCH, TORCH_INDEX_LIMIT, UNAVAILABLE, as_tensor

TORCH_STRIDE_LIMIT = 2**12  # its quadratic time in the stride: about 0.2-0.4 s a call at 4096


def torch_scatter(x: np.ndarray, weight: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """``F.conv_transpose2d`` without padding: the canvas every input pixel's taps reach."""
    torch, F = TORCH.load()
    with torch.no_grad():
        y = F.conv_transpose2d(as_tensor(x), as_tensor(weight), stride=stride, groups=groups, dilation=dilation)
    return as_numpy(y)


@transposed_implementation("torch", unavailable=UNAVAILABLE, library="torch")
def torch_transposed(problem: ConvTranspose2dProblem) -> np.ndarray:
    """``F.conv_transpose2d`` on the CPU, without autograd (numbers it does not take: its canvas in compact form)."""
    torch, F = TORCH.load()
    if largest_number(problem) > TORCH_INDEX_LIMIT or max(problem.stride) > TORCH_STRIDE_LIMIT:
        return transposed_by(torch_scatter, problem)
    with torch.no_grad():
        y = F.conv_transpose2d(
            as_tensor(problem.x),
            as_tensor(problem.weight),
            as_tensor(problem.bias),
            stride=problem.stride,
            padding=problem.padding,
            output_padding=problem.output_padding,
            groups=problem.groups,
            dilation=problem.dilation,
        )
    return as_numpy(y)


def gathered_input(x, forward: Conv2dProblem):
    """The tensor ``x`` as the input of ``forward.tap_gathered()``, indexed inside the graph: along each gathered axis
    the rows each (window, tap) pair reads, a zero row (put first) where it reads the padding."""
    torch, F = TORCH.load()
    for axis in (0, 1):
        top, bottom = forward.padding[2 * axis : 2 * axis + 2]
        size, kernel = forward.x.shape[2 + axis], forward.weight.shape[2 + axis]
        rows = tap_rows(size, kernel, forward.stride[axis], forward.dilation[axis], top, bottom)
        if rows is not None:
            x = F.pad(x, (0, 0, 1, 0) if axis == 0 else (1, 0)).index_select(2 + axis, torch.from_numpy(rows + 1))
    return x


@backward_implementation("torch", unavailable=UNAVAILABLE, library="torch")
def torch_gradients(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Autograd through ``F.conv2d`` (and ``F.pad`` for an asymmetric padding) from ``grad_out`` (numbers it does not
    take: through the tap-gathered input, gathered inside the graph)."""
    _, F = TORCH.load()
    original = problem.forward
    forward = original.with_numbers_up_to(TORCH_INDEX_LIMIT)
    if max(forward.stride) > TORCH_STRIDE_LIMIT:
        forward = original.tap_gathered()
    top, bottom, left, right = forward.padding
    symmetric = (min(top, bottom), min(left, right))

    def conv2d(x, weight, bias):
        if forward is not original:
            x = gathered_input(x, original)
        if (top, left) != (bottom, right):
            x = F.pad(x, (left - symmetric[1], right - symmetric[1], top - symmetric[0], bottom - symmetric[0]))
        return F.conv2d(
            x, weight, bias, stride=forward.stride, padding=symmetric, dilation=forward.dilation, groups=forward.groups
        )

    bias = np.zeros(original.weight.shape[0], original.weight.dtype)
    return torch_vjp(conv2d, problem.grad_out, original.x, original.weight, bias)

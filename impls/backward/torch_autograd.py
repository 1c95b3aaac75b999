"""torch on the CPU: ``torch.nn.functional.conv_transpose2d``, and autograd's gradients of ``conv2d``.

The gradients are what ``Tensor.backward`` leaves in the leaves ``x``, ``weight`` and a zero bias after
``F.conv2d(x, weight, bias, ...).backward(grad_out)``; an asymmetric padding ('same' with an even dilated kernel) goes
through ``F.pad`` inside the graph. torch is imported at the first call.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls.backward.autograd import as_numpy, torch_vjp
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.torch_conv import TORCH, UNAVAILABLE, as_tensor


@transposed_implementation("torch", unavailable=UNAVAILABLE, library="torch")
def torch_transposed(problem: ConvTranspose2dProblem) -> np.ndarray:
    """``F.conv_transpose2d`` on the CPU, without autograd."""
    torch, F = TORCH.load()
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


@backward_implementation("torch", unavailable=UNAVAILABLE, library="torch")
def torch_gradients(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Autograd through ``F.conv2d`` (and ``F.pad`` for an asymmetric padding) from ``grad_out``."""
    _, F = TORCH.load()
    forward = problem.forward
    top, bottom, left, right = forward.padding
    symmetric = (min(top, bottom), min(left, right))

    def conv2d(x, weight, bias):
        if (top, left) != (bottom, right):
            x = F.pad(x, (left - symmetric[1], right - symmetric[1], top - symmetric[0], bottom - symmetric[0]))
        return F.conv2d(
            x, weight, bias, stride=forward.stride, padding=symmetric, dilation=forward.dilation, groups=forward.groups
        )

    bias = np.zeros(forward.weight.shape[0], forward.weight.dtype)
    return torch_vjp(conv2d, problem.grad_out, forward.x, forward.weight, bias)

"""``torch.nn.functional.conv2d`` on the CPU, without autograd, sharing memory with NumPy where the layout allows.

torch is imported at the first call, not with the registry.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation

if TYPE_CHECKING:
    import torch

TORCH = Library("torch", "torch.nn.functional", install="torch")
UNAVAILABLE = TORCH.unavailable()
TORCH_INDEX_LIMIT = 2**31 - 1


def c_order_strides(array: np.ndarray) -> tuple[int, ...]:
    """The strides of a freshly allocated C-ordered array of ``array``'s shape and dtype."""
    strides, step = [], array.itemsize
    for size in reversed(array.shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def as_tensor(array: np.ndarray | None, device: str = "cpu") -> torch.Tensor | None:
    """A tensor sharing ``array``'s memory when it is laid out in C order, else a tensor of a C-ordered copy.

    Other layouts are copied here rather than handed to torch: torch cannot view negative strides, and torch 2.13's
    CPU conv2d crashes (SIGSEGV) on some channels-last operands (seen with bias, stride, padding and dilation on a
    width of 1). Strides are compared in full because NumPy calls an array C-contiguous whatever the strides of its
    length-1 axes, which is exactly how a channels-last array with one channel looks.
    """
    if array is None:
        return None
    torch, _ = TORCH.load()
    if array.strides != c_order_strides(array):
        array = np.array(array, order="C")
    with warnings.catch_warnings():  # read-only inputs are fine: torch only reads them here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array).to(device)


def torch_conv2d(problem: Conv2dProblem, device: str = "cpu") -> np.ndarray:
    """Run ``F.conv2d`` on ``device``; the part of an asymmetric padding ('same' with an even kernel) beyond the
    symmetric part goes through ``F.pad``, so that only that one extra row or column is ever materialized.

    torch's shape arithmetic is not reliable past int32 (torch 2.13 finds no output for stride 2**63 - 1 with a
    padded extent past 2**31), so a problem with a stride, padded extent or dilated span beyond ``TORCH_INDEX_LIMIT`` is
    handed over in its equivalent form whose numbers are all at most the output's (window, tap) pairs.
    """
    torch, F = TORCH.load()
    problem = problem.with_numbers_up_to(TORCH_INDEX_LIMIT)
    top, bottom, left, right = problem.padding
    x = as_tensor(problem.x, device)
    padding = (min(top, bottom), min(left, right))
    if (top, left) != (bottom, right):
        x = F.pad(x, (left - padding[1], right - padding[1], top - padding[0], bottom - padding[0]))
    with torch.no_grad():
        y = F.conv2d(
            x,
            as_tensor(problem.weight, device),
            as_tensor(problem.bias, device),
            stride=problem.stride,
            padding=padding,
            dilation=problem.dilation,
            groups=problem.groups,
        )
    return np.ascontiguousarray(y.cpu().numpy())


@implementation("torch", unavailable=UNAVAILABLE, library="torch")
def torch_cpu(problem: Conv2dProblem) -> np.ndarray:
    """The framework kernel on the CPU."""
    return torch_conv2d(problem)

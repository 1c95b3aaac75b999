"""``torch.nn.functional.conv2d`` on the CPU, without autograd, sharing memory with NumPy where the layout allows."""

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from impls.contract import Conv2dProblem
from impls.registry import implementation


def as_tensor(array: np.ndarray | None, device: str = "cpu") -> torch.Tensor | None:
    """A tensor view of ``array`` (a copy only for layouts torch cannot view, such as negative strides)."""
    if array is None:
        return None
    if any(step < 0 for step in array.strides):
        array = array.copy()  # not ascontiguousarray: it keeps a negative stride on an axis of length 1
    with warnings.catch_warnings():  # read-only inputs are fine: torch only reads them here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(array).to(device)


def torch_conv2d(problem: Conv2dProblem, device: str = "cpu") -> np.ndarray:
    """Run ``F.conv2d`` on ``device``; asymmetric padding ('same' with an even kernel) goes through ``F.pad``."""
    top, bottom, left, right = problem.padding
    x = as_tensor(problem.x, device)
    padding = (top, left)
    if (top, left) != (bottom, right):
        x, padding = F.pad(x, (left, right, top, bottom)), 0
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


@implementation("torch")
def torch_cpu(problem: Conv2dProblem) -> np.ndarray:
    """The framework kernel on the CPU."""
    return torch_conv2d(problem)

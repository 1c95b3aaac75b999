"""MyGrad's ``mygrad.nnet.conv_nd``: N-dimensional cross-correlation, here in two dimensions, without bias or groups.

``conv_nd`` pads symmetrically and, unlike the contract (which drops a last partial window), refuses a stride that
does not tile the padded input exactly (``ValueError: Stride and kernel dimensions are incompatible``). So the input
is padded here, explicitly (any split, as ``'same'`` with an even kernel needs), and the trailing rows and columns
that no window reaches are dropped before the call: they cannot influence any output. MyGrad has no bias argument
(added to its result here) and no groups (declared).

Dilation is declared unsupported because of a bug in MyGrad 2.5.0: its window view checks that ``k * d`` input
elements fit (``mygrad/nnet/layers/utils.py``, ``sliding_window_view``) where a dilated kernel spans only
``d * (k - 1) + 1``, so a call whose padded input is between the two raises ``ValueError: The dilated window ...
must fit within the trailing dimensions`` (smallest case: a 1x1 kernel with dilation 2 on a 1x1 input).

MyGrad is imported at the first call, not with the registry.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import Capabilities, implementation

MYGRAD = Library("mygrad.nnet", install="mygrad")
UNAVAILABLE = MYGRAD.unavailable()


def tiled_input(problem: Conv2dProblem) -> np.ndarray:
    """The zero-padded input without the rows and columns past the last window (which MyGrad would refuse)."""
    image = problem.padded_input()
    kernel = problem.weight.shape[2:]
    reached = [
        size - (size - (dilation * (k - 1) + 1)) % stride
        for size, k, stride, dilation in zip(image.shape[2:], kernel, problem.stride, problem.dilation, strict=True)
    ]
    return image[:, :, : reached[0], : reached[1]]


@implementation(
    "mygrad",
    capabilities=Capabilities(dilations=(1,), groups=False),
    max_gflop=2.0,
    unavailable=UNAVAILABLE,
    library="mygrad",
)
def mygrad_conv(problem: Conv2dProblem) -> np.ndarray:
    """``conv_nd`` on the explicitly padded, tiled input (as a constant: no graph for backpropagation). The padding is
    this adapter's, so it first reduces the input to what the windows read."""
    (nnet,) = MYGRAD.load()
    problem = problem.tap_gathered()
    y = nnet.conv_nd(
        tiled_input(problem), problem.weight, stride=problem.stride, dilation=problem.dilation, constant=True
    ).data
    if problem.bias is not None:
        y = y + problem.bias[:, None, None]
    return np.ascontiguousarray(y)

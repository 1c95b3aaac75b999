"""The gradient side of a forward workload: its transposed convolution, input gradient, weight gradient and the whole
conv2d_backward call, each with its FLOPs, arguments, matrix products, torch call and float64 reference.

- ``transposed``: ``conv_transpose2d`` of the layer's adjoint: an input of the forward output's shape, the forward
  kernel, its stride, padding, dilation and groups, and the output padding of the forward's unused rows, so that the
  output has the forward input's shape (no bias).
- ``grad_x``, ``grad_w``: one gradient of conv2d alone. No entry computes one alone (each ``conv2d_backward``
  returns all three), so these rows are torch's (``torch.nn.grad.conv2d_input`` / ``conv2d_weight``) and the GEMM's.
- ``backward``: the whole ``conv2d_backward`` call, grad_x, grad_weight and grad_bias; the FLOPs of both products.

Their products: grad_x (and the transposed convolution) is ``(K, C_out/G) @ (C_out/G, pixels)`` per image and group,
whose columns col2im then adds back; grad_weight ``(C_out/G, N * pixels) @ (N * pixels, K)`` per group; the backward
call does both. The gradients' ``grad_out`` is fixed-seed, like the workload's arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from convcheck.impls.backward import BACKWARD as BACKWARD_CALL
from convcheck.impls.backward import TRANSPOSED as TRANSPOSED_CALL
from convcheck.impls.backward import normalize_backward, normalize_transposed
from convcheck.properties.scalable import GRADIENTS, gradient_reference, transposed_reference
from convcheck.properties.threads import torch_module

from benchmarks.gemm import Product
from benchmarks.workloads import BACKWARD, DIRECTIONS, GRAD_W, GRAD_X, SEED, TRANSPOSED, WORKLOADS, Workload, group_name

CALLS = {TRANSPOSED: TRANSPOSED_CALL, BACKWARD: BACKWARD_CALL}  # the directions entries implement
# the results of each direction's call
RESULTS = {TRANSPOSED: ("grad_x",), GRAD_X: ("grad_x",), GRAD_W: ("grad_weight",), BACKWARD: GRADIENTS}
TORCH_MASKS = {GRAD_X: (True, False, False), GRAD_W: (False, True, False), BACKWARD: (True, True, True)}


@functools.cache
def output_values(layer: Workload) -> np.ndarray:
    """Fixed-seed values of ``layer``'s output shape, the same on every run."""
    rng = np.random.default_rng(SEED + 2)
    h_out, w_out = layer.output_hw
    return rng.standard_normal((layer.n, layer.c_out, h_out, w_out), dtype=np.dtype(layer.dtype))


@dataclass(frozen=True)
class GradientWorkload:
    """One direction of a forward layer's gradient side."""

    layer: Workload
    direction: str

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def group(self) -> str:
        return group_name(self.layer.name, self.direction)

    @property
    def dtype(self) -> str:
        return self.layer.dtype

    @property
    def flops(self) -> int:
        """The forward's multiplications and additions once per product: twice for the whole backward call (the
        bias gradient's additions not counted)."""
        return self.layer.flops * (2 if self.direction == BACKWARD else 1)

    @property
    def gflop(self) -> float:
        return self.flops / 1e9

    def descriptor(self) -> dict:
        return {**self.layer.descriptor(), "direction": self.direction, "flops": self.flops, "gflop": self.gflop}

    def label(self) -> str:
        return f"{self.direction} of {self.layer.label()}"

    @property
    def grad_out(self) -> np.ndarray:
        """Fixed-seed values of the forward output's shape: the gradient, or the transposed convolution's input (the
        same array for every direction of a layer)."""
        return output_values(self.layer)

    @property
    def output_padding(self) -> tuple[int, int]:
        """The forward's unused rows and columns (past its last window): the transposed output then has the forward
        input's shape."""
        layer = self.layer
        sizes = (layer.height, layer.width)
        extents = zip(sizes, layer.kernel, layer.stride, layer.padding, layer.dilation, strict=True)
        return tuple((size + 2 * p - d * (k - 1) - 1) % s for size, k, s, p, d in extents)

    def geometry(self) -> dict:
        layer = self.layer
        return {"stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation, "groups": layer.groups}

    def call_args(self) -> tuple[tuple, dict]:
        """Positional and keyword arguments of the direction's call (conv_transpose2d, or conv2d_backward)."""
        x, weight, _ = self.layer.arrays
        if self.direction == TRANSPOSED:
            return (self.grad_out, weight, None), {**self.geometry(), "output_padding": self.output_padding}
        return (self.grad_out, x, weight), self.geometry()

    def problem(self):
        """The normalized problem of the direction's call."""
        args, kwargs = self.call_args()
        return (normalize_transposed if self.direction == TRANSPOSED else normalize_backward)(*args, **kwargs)

    def products(self) -> list[Product]:
        """The matrix products of the direction (in the order its GEMM row computes them)."""
        layer = self.layer
        n, g, per_group, depth = layer.n, layer.groups, layer.c_out // layer.groups, layer.depth
        pixels = layer.output_hw[0] * layer.output_hw[1]
        columns = Product(f"{layer.name} columns", layer.dtype, (n, g, depth, per_group, pixels))
        weights = Product(f"{layer.name} weights", layer.dtype, (1, g, per_group, n * pixels, depth))
        return {TRANSPOSED: [columns], GRAD_X: [columns], GRAD_W: [weights], BACKWARD: [columns, weights]}[
            self.direction
        ]

    def torch_call(self) -> Callable[[], object] | None:
        """torch's computation of a gradient direction, on tensors prepared in advance, results as NumPy copies:
        ``aten.convolution_backward`` (what ``torch.nn.grad.conv2d_input``/``conv2d_weight`` and autograd's
        backward of ``F.conv2d`` call) asked for that direction's gradients only. None where torch is missing."""
        torch = torch_module()
        if torch is None or self.direction not in TORCH_MASKS:
            return None
        (grad_out, x, weight), _ = self.call_args()
        layer, mask = self.layer, TORCH_MASKS[self.direction]
        tensors = [torch.from_numpy(array) for array in (grad_out, x, weight)]

        def gradients():
            results = torch.ops.aten.convolution_backward(
                *tensors, [layer.c_out], layer.stride, layer.padding, layer.dilation, False, [0, 0], layer.groups,
                mask,
            )  # fmt: skip
            return [np.array(result.numpy(), order="C") for result, wanted in zip(results, mask, strict=True) if wanted]

        return gradients


def references(workload: GradientWorkload) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(float64 result, bound)`` of each result of the direction's call, each computed once a run for every row
    that needs it. The input gradient is the transposed convolution of the adjoint (the output padding of the unused
    rows makes them the same call of the oracle), so it is computed once, as that."""
    return [
        transposed_result(workload.layer) if result == "grad_x" else gradient_result(workload.layer, result)
        for result in RESULTS[workload.direction]
    ]


@functools.cache
def transposed_result(layer: Workload) -> tuple[np.ndarray, np.ndarray]:
    args, kwargs = GradientWorkload(layer, TRANSPOSED).call_args()
    return transposed_reference(*args, **kwargs)


@functools.cache
def gradient_result(layer: Workload, gradient: str) -> tuple[np.ndarray, np.ndarray]:
    args, kwargs = GradientWorkload(layer, BACKWARD).call_args()
    return gradient_reference(gradient, *args, **kwargs)


def _gradient_layers() -> list[Workload]:
    """The forward workloads whose gradient side is benchmarked: the lab shapes and the ResNet-18 layers."""
    return [workload for workload in WORKLOADS if workload.family == "lab" or workload.family.startswith("resnet18")]


GRADIENT_WORKLOADS: list[GradientWorkload] = [
    GradientWorkload(layer, direction) for layer in _gradient_layers() for direction in DIRECTIONS[1:]
]

"""The benchmark workloads: named conv2d layers as data, each with its FLOP count and fixed-seed arrays.

A workload is one conv2d call. Its cost is ``2 * N * C_out * H_out * W_out * (C_in / groups) * kH * kW`` FLOPs
(one multiply and one add per kernel tap), the same as the layer's matrix product (``benchmarks.gemm``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
from convcheck.impls.contract import output_size

from convcheck import impls

SEED = 20240601
# A workload's directions: the conv2d layer itself, and its gradient side (``benchmarks.gradients``), in the order of
# a workload's groups in the tables, each with the tag that follows the workload's name there.
FORWARD, TRANSPOSED, GRAD_X, GRAD_W, BACKWARD = "forward", "transposed", "grad_x", "grad_w", "backward"
TAGS = {FORWARD: "", TRANSPOSED: "T", GRAD_X: "dx", GRAD_W: "dw", BACKWARD: "bwd"}
DIRECTIONS = tuple(TAGS)


def group_name(workload: str, direction: str) -> str:
    """A group's name in the tables: the workload, then the direction's tag (none for the forward)."""
    return f"{workload} {TAGS[direction]}".rstrip()


@dataclass(frozen=True)
class Workload:
    """One named conv2d layer: input ``(n, c_in, height, width)``, ``c_out`` square-or-not kernels, and geometry."""

    name: str
    n: int
    c_in: int
    height: int
    width: int
    c_out: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    dtype: str = "float32"
    bias: bool = False
    family: str = ""
    direction: ClassVar[str] = FORWARD

    @property
    def group(self) -> str:
        """The benchmarks' group: the workload's name."""
        return self.name

    @property
    def output_hw(self) -> tuple[int, int]:
        return tuple(
            output_size(size, k, s, 2 * p, d)
            for size, k, s, p, d in zip(
                (self.height, self.width), self.kernel, self.stride, self.padding, self.dilation, strict=True
            )
        )

    @property
    def depth(self) -> int:
        """K: the length of one receptive window, ``C_in/groups * kH * kW``."""
        return self.c_in // self.groups * self.kernel[0] * self.kernel[1]

    @property
    def flops(self) -> int:
        h_out, w_out = self.output_hw
        return 2 * self.n * self.c_out * h_out * w_out * self.depth

    @property
    def gflop(self) -> float:
        return self.flops / 1e9

    def descriptor(self) -> dict:
        """A JSON-friendly description (saved with every benchmark in ``extra_info``)."""
        fields = asdict(self)
        fields.update(output_hw=list(self.output_hw), flops=self.flops, gflop=round(self.gflop, 6))
        return {key: list(value) if isinstance(value, tuple) else value for key, value in fields.items()}

    def label(self) -> str:
        """A short human description: ``8x64x56x56 -> 64, 3x3 s1 p1``."""
        extra = "".join(
            text
            for cond, text in (
                (self.dilation != (1, 1), f" d{self.dilation[0]}"),
                (self.groups > 1, " depthwise" if self.groups == self.c_in == self.c_out else f" g{self.groups}"),
                (self.dtype != "float32", f" {self.dtype}"),
            )
            if cond
        )
        return (
            f"{self.n}x{self.c_in}x{self.height}x{self.width} -> {self.c_out}, "
            f"{self.kernel[0]}x{self.kernel[1]} s{self.stride[0]} p{self.padding[0]}{extra}"
        )

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Fixed-seed ``(x, weight, bias)``, the same on every run."""
        rng = np.random.default_rng(SEED)
        dtype = np.dtype(self.dtype)
        x = rng.standard_normal((self.n, self.c_in, self.height, self.width), dtype=dtype)
        weight = rng.standard_normal((self.c_out, self.c_in // self.groups, *self.kernel), dtype=dtype)
        weight /= np.sqrt(self.depth, dtype=dtype)  # unit-variance outputs
        bias = rng.standard_normal(self.c_out, dtype=dtype) if self.bias else None
        return x, weight, bias

    def call_args(self) -> tuple[tuple, dict]:
        """Positional and keyword arguments of the contract's ``conv2d`` for this workload."""
        x, weight, bias = self.arrays
        geometry = {"stride": self.stride, "padding": self.padding, "dilation": self.dilation, "groups": self.groups}
        return (x, weight, bias), geometry

    def problem(self) -> impls.Conv2dProblem:
        args, kwargs = self.call_args()
        return impls.normalize(*args, **kwargs)


def _resnet18(n: int) -> list[Workload]:
    """The distinct convolution shapes of ResNet-18 on 224x224 images (ignoring the stride-2 first 3x3 of stages)."""
    family = f"resnet18-b{n}"
    return [
        Workload(f"resnet18_stem_b{n}", n, 3, 224, 224, 64, (7, 7), (2, 2), (3, 3), family=family),
        Workload(f"resnet18_conv2_b{n}", n, 64, 56, 56, 64, (3, 3), padding=(1, 1), family=family),
        Workload(f"resnet18_conv3_b{n}", n, 128, 28, 28, 128, (3, 3), padding=(1, 1), family=family),
        Workload(f"resnet18_conv4_b{n}", n, 256, 14, 14, 256, (3, 3), padding=(1, 1), family=family),
        Workload(f"resnet18_conv5_b{n}", n, 512, 7, 7, 512, (3, 3), padding=(1, 1), family=family),
        Workload(f"resnet18_down_b{n}", n, 64, 56, 56, 128, (1, 1), (2, 2), family=family),
    ]


WORKLOADS: list[Workload] = [
    # The seed's lab shapes.
    Workload("size_lab", 1, 1, 6, 6, 2, (3, 3), (2, 2), (1, 1), dtype="float64", family="lab"),
    Workload("channel_lab", 2, 3, 32, 32, 8, (3, 3), padding=(1, 1), dtype="float64", bias=True, family="lab"),
    Workload("conv2d_lab", 1, 1, 8, 8, 4, (3, 3), padding=(1, 1), dtype="float64", family="lab"),
    # A small RGB layer (CIFAR-sized first layer), in both dtypes.
    Workload("rgb32", 8, 3, 32, 32, 16, (3, 3), padding=(1, 1), bias=True, family="small"),
    Workload("rgb32_f64", 8, 3, 32, 32, 16, (3, 3), padding=(1, 1), dtype="float64", bias=True, family="small"),
    *_resnet18(1),
    *_resnet18(8),
    # float64 versions of two ResNet-18 layers.
    Workload("resnet18_conv3_b1_f64", 1, 128, 28, 28, 128, (3, 3), padding=(1, 1), dtype="float64", family="float64"),
    Workload("resnet18_conv5_b1_f64", 1, 512, 7, 7, 512, (3, 3), padding=(1, 1), dtype="float64", family="float64"),
    # Other layer kinds.
    Workload("mobilenet_dw_b1", 1, 144, 56, 56, 144, (3, 3), padding=(1, 1), groups=144, family="other"),
    Workload("mobilenet_dw_b8", 8, 144, 56, 56, 144, (3, 3), padding=(1, 1), groups=144, family="other"),
    Workload("dilated_b1", 1, 256, 32, 32, 256, (3, 3), padding=(2, 2), dilation=(2, 2), family="other"),
    Workload("alexnet_11x11_b1", 1, 3, 224, 224, 64, (11, 11), (4, 4), (2, 2), bias=True, family="other"),
    Workload("large_11x11_b1", 1, 32, 64, 64, 32, (11, 11), padding=(5, 5), family="other"),
]

BY_NAME: dict[str, Workload] = {workload.name: workload for workload in WORKLOADS}
assert len(BY_NAME) == len(WORKLOADS), "workload names must be unique"

"""The GEMM row: the layer's own matrix product, operands prepared in advance, in its fastest BLAS formulation.

A convolution with ``G`` groups is, per group, ``(C_out/G, K) @ (K, pixels)`` with ``K = C_in/G * kH * kW`` (a
:class:`Product`; the gradients' products are others, :mod:`benchmarks.gradients`). BLAS
computes that product in several formulations of equal FLOPs whose speed differs with the shape: weights on the left
or on the right (``W @ P`` or ``P' @ W'``), one product over the whole batch or one per image, and with the BLAS
NumPy links or, where torch is installed, torch's (MKL on x86). The row times the fastest of them on this machine,
so that only an algorithm that saves multiplications can beat it. A second row, ``gemm[numpy]``, times the fastest
formulation with NumPy's own BLAS (where torch brings another): the limit of an implementation built on NumPy's
matmul, such as im2col, which the roofline may not be.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from convcheck.properties.threads import torch_module

from benchmarks.workloads import SEED, Workload

TRIAL_CALLS = 3

# name -> (shape of A, shape of B) from (N, G, M = C_out/G, K, P = pixels per image)
SHAPES: dict[str, Callable[[int, int, int, int, int], tuple[tuple, tuple]]] = {
    "W@P": lambda n, g, m, k, p: ((g, m, k), (g, k, n * p)),
    "P'@W'": lambda n, g, m, k, p: ((g, n * p, k), (g, k, m)),
    "W@P per image": lambda n, g, m, k, p: ((1, g, m, k), (n, g, k, p)),
    "P'@W' per image": lambda n, g, m, k, p: ((n, g, p, k), (1, g, k, m)),
}

LIBRARIES = ("numpy", "torch")
_FASTEST: dict[tuple[str, int | None, str | None], str] = {}  # (product, BLAS threads, library) -> formulation


@dataclass(frozen=True)
class Product:
    """A batch of equal matrix products ``(M, K) @ (K, pixels)``, one per image and group: ``dims`` is ``(N, G, M,
    K, pixels per image)``."""

    name: str
    dtype: str
    dims: tuple[int, int, int, int, int]

    @property
    def flops(self) -> int:
        n, g, m, k, p = self.dims
        return 2 * n * g * m * k * p


def layer_product(workload: Workload) -> Product:
    """The forward layer's product: ``(C_out/G, K) @ (K, pixels)``."""
    h_out, w_out = workload.output_hw
    dims = (workload.n, workload.groups, workload.c_out // workload.groups, workload.depth, h_out * w_out)
    return Product(workload.name, workload.dtype, dims)


def libraries() -> tuple[str, ...]:
    """The BLAS libraries installed: NumPy's, and torch's where torch is."""
    return LIBRARIES if torch_module() is not None else LIBRARIES[:1]


def formulations(library: str | None = None) -> list[str]:
    """``"LIBRARY SHAPE"`` for every operand shape and every BLAS installed, or only ``library``'s."""
    return [f"{name} {shape}" for name in libraries() if library in (None, name) for shape in SHAPES]


def operands(product: Product, formulation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed-seed ``(A, B, out)`` of one formulation of ``product`` (C-contiguous, ready for BLAS)."""
    shape_a, shape_b = SHAPES[formulation.split(" ", 1)[1]](*product.dims)
    rng = np.random.default_rng(SEED + 1)
    dtype = np.dtype(product.dtype)
    a, b = rng.standard_normal(shape_a, dtype=dtype), rng.standard_normal(shape_b, dtype=dtype)
    out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]), dtype=dtype)
    return a, b, out


def call(product: Product, formulation: str) -> Callable[[], np.ndarray]:
    """A zero-argument call of one formulation on prepared operands."""
    a, b, out = operands(product, formulation)
    if formulation.startswith("torch "):
        torch = torch_module()
        return partial(torch.matmul, torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))
    return partial(np.matmul, a, b, out=out)


def fastest(product: Product, blas_threads: int | None, library: str | None = None) -> str:
    """The fastest formulation of ``product`` under the current thread count, of every BLAS or of ``library``'s
    (tried once per session)."""
    key = (product.name, blas_threads, library)
    if key not in _FASTEST:
        best = {}
        for name in formulations(library):
            function = call(product, name)
            function()
            trials = []
            for _ in range(TRIAL_CALLS):
                start = time.perf_counter()
                function()
                trials.append(time.perf_counter() - start)
            best[name] = min(trials)
            del function
        _FASTEST[key] = min(best, key=best.get)
    return _FASTEST[key]

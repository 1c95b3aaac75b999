"""One benchmark per (implementation, workload), plus the GEMM baseline of each workload, grouped by workload.

Implementations come from the run's registry (``impls.REGISTRY`` plus any ``--impl``), so a new file in ``impls/``
is benchmarked with no edit here. An implementation skips a workload, with the reason, when its cost hint
(``max_gflop``) is below the workload's GFLOP or its capabilities do not cover the workload.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
import pytest
import torch

from benchmarks.workloads import WORKLOADS, Workload

GEMM = "gemm"  # the implementation name of the baseline rows


def blas_threads() -> int | None:
    """The thread count of NumPy's OpenBLAS (looked up among the loaded libraries), or None if unknown."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    symbols = ("openblas_get_num_threads", "openblas_get_num_threads64_", "scipy_openblas_get_num_threads64_")
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for symbol in symbols:
            if hasattr(library, symbol):
                return int(getattr(library, symbol)())
    return None


def run_info(workload: Workload, implementation: str) -> dict:
    return {
        "implementation": implementation,
        "workload": workload.name,
        "descriptor": workload.descriptor(),
        "dtype": workload.dtype,
        "gflop": workload.gflop,
        "threads": {"torch": torch.get_num_threads(), "blas": blas_threads(), "cpus": os.cpu_count()},
    }


def record_speed(benchmark, workload: Workload) -> None:
    """Put GFLOP/s (from the median time) into ``extra_info`` once the benchmark has been timed."""
    stats = getattr(benchmark.stats, "stats", None) if benchmark.stats else None
    if stats is not None and stats.median > 0:
        benchmark.extra_info["median_s"] = stats.median
        benchmark.extra_info["gflops"] = workload.flops / stats.median / 1e9


workload_parameter = pytest.mark.parametrize("workload", WORKLOADS, ids=[workload.name for workload in WORKLOADS])


@workload_parameter
def test_conv2d(benchmark, impl, workload: Workload):
    """Time ``impl`` on ``workload`` (``impl`` is each entry of the run's registry)."""
    if impl.max_gflop is not None and workload.gflop > impl.max_gflop:
        pytest.skip(
            f"{impl.name}: cost hint max_gflop={impl.max_gflop} < {workload.gflop:.3g} GFLOP of {workload.name}"
        )
    problem = workload.problem()
    if not impl.supports(problem):
        pytest.skip(f"{impl.name}: {impl.capabilities.why_unsupported(problem)} ({workload.name})")
    args, kwargs = workload.call_args()
    benchmark.group = workload.name
    benchmark.extra_info.update(run_info(workload, impl.name))
    out = benchmark(impl, *args, **kwargs)
    record_speed(benchmark, workload)
    assert out.shape == (workload.n, workload.c_out, *workload.output_hw)
    assert out.dtype == np.dtype(workload.dtype)


@workload_parameter
def test_gemm_baseline(benchmark, workload: Workload):
    """The machine's practical roofline: the im2col-shaped matrix product alone (NumPy's BLAS)."""
    a, b, out = workload.gemm_operands()
    benchmark.group = workload.name
    benchmark.extra_info.update(run_info(workload, GEMM))
    benchmark(np.matmul, a, b, out=out)
    record_speed(benchmark, workload)

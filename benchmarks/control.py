"""What a measurement runs under: the machine's load, the environment the BLAS and OpenMP libraries read when they
load (whether idle threads sleep, which kernel OpenBLAS picks), and the kernels they run (thread counts are set with
:mod:`convcheck.properties.threads`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from threadpoolctl import threadpool_info


def load_average() -> float | None:
    """The 1-minute load average (runnable threads, this process's included), or None where unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def overloaded(loads: list[float | None], threads: int) -> bool:
    """Whether a row was measured on a busy machine: a 1-minute load above the threads the measurement uses.

    The load average counts this process's own running threads, so a quiet machine shows at most ``threads``;
    anything above it is another process competing for the cores.
    """
    return any(load is not None and load > threads for load in loads)


# Idle threads of one library that keep spinning take cores from the next library's rounds. Each library reads its
# setting once, when it loads, so these must be in the environment before Python starts.
IDLE_SLEEP = {
    "OMP_WAIT_POLICY": "PASSIVE",  # OpenMP pools (torch's, MKL's under it): idle threads sleep at once
    "OPENBLAS_THREAD_TIMEOUT": "4",  # OpenBLAS: idle threads sleep after 2**4 cycles instead of about 2**28
}


# OpenBLAS overrides of its CPU detection, read when it loads: a core type or an L2 size other than the machine's
# makes it run another, slower GEMM kernel (on the test machine, two threads, NumPy's float32 GEMM of the ResNet-18
# layers took 1.1-1.8x torch's time with them, 1.00-1.08x without). A benchmark run starts without them.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def spinning_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The settings of ``IDLE_SLEEP`` this process did not start with, as ``{name: value to set}``."""
    return {name: value for name, value in IDLE_SLEEP.items() if environ.get(name, "").upper() != value}


def overrides(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The ``OPENBLAS_OVERRIDES`` set in ``environ``."""
    return {name: environ[name] for name in OPENBLAS_OVERRIDES if name in environ}


def benchmark_environment(environ: Mapping[str, str], threads: int) -> dict[str, str] | None:
    """The environment a benchmark run of ``threads`` threads starts with, or None when ``environ`` is already it:
    without ``OPENBLAS_OVERRIDES`` and, for more than one thread, with the ``IDLE_SLEEP`` settings it lacks (one set to
    another value stays as it is: the run then ends with a warning)."""
    missing = {name: value for name, value in IDLE_SLEEP.items() if name not in environ} if threads > 1 else {}
    if not overrides(environ) and not missing:
        return None
    return {**{name: value for name, value in environ.items() if name not in OPENBLAS_OVERRIDES}, **missing}


def blas_kernels() -> list[dict]:
    """Each BLAS library loaded: its file, implementation, version and the CPU kernel it runs (``architecture``,
    where it says, as OpenBLAS does)."""
    keys = ("filepath", "internal_api", "version", "architecture")
    return [{key: pool.get(key) for key in keys} for pool in threadpool_info() if pool["user_api"] == "blas"]

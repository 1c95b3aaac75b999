"""What a measurement runs under: thread counts (set for one benchmark, then restored) and the machine's load.

BLAS threads are set with threadpoolctl (every BLAS library loaded in the process, NumPy's included) and torch's
intra-op threads with ``torch.set_num_threads``, only when torch is installed. Nothing here runs at import.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_info, threadpool_limits


def cores() -> int:
    """The cores this process may run on (the default thread count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_module():
    """``torch`` when it is installed (imported on first use), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def thread_counts() -> dict:
    """The thread counts in effect now: BLAS (the largest of the loaded BLAS libraries) and torch (None if absent)."""
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    torch = torch_module()
    return {"blas": max(blas) if blas else None, "torch": torch.get_num_threads() if torch else None}


@contextmanager
def limited_threads(threads: int) -> Iterator[dict]:
    """Run the block with ``threads`` BLAS and torch threads; restore the previous counts afterwards.

    Yields the counts in effect inside the block (``requested``, ``blas``, ``torch``, ``cores``).
    """
    torch = torch_module()
    before = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=threads, user_api="blas"):
        if torch:
            torch.set_num_threads(threads)
        try:
            yield {"requested": threads, **thread_counts(), "cores": cores()}
        finally:
            if torch:
                torch.set_num_threads(before)


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

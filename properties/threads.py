"""Thread counts of the libraries under test (BLAS and OpenMP pools, torch's intra-op threads), set for a block of
code and restored afterwards. Nothing here runs at import."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from threadpoolctl import ThreadpoolController


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def torch_module(load: bool = True):
    """``torch`` when it is installed (imported on first use), else None; with ``load=False``, when it is already
    imported."""
    if not load:
        return sys.modules.get("torch")
    try:
        import torch
    except ImportError:
        return None
    return torch


def pools() -> ThreadpoolController:
    """The thread pools of the libraries loaded in this process. Finding them scans the loaded shared libraries
    (about half a millisecond, for each property test); the scan is repeated when modules have been imported since,
    which is how a library's pool comes in."""
    return _pools(len(sys.modules))


@lru_cache(maxsize=1)
def _pools(modules: int) -> ThreadpoolController:
    return ThreadpoolController()


def thread_counts(import_torch: bool = True) -> dict:
    """The thread counts in effect now: BLAS (the largest of the loaded BLAS libraries) and torch (None if absent,
    or with ``import_torch=False`` not imported)."""
    torch = torch_module(import_torch)
    blas = [pool.num_threads for pool in pools().lib_controllers if pool.user_api == "blas"]
    return {"blas": max(blas) if blas else None, "torch": torch.get_num_threads() if torch else None}


@contextmanager
def limited_threads(threads: int, import_torch: bool = True) -> Iterator[dict]:
    """Run the block with ``threads`` BLAS/OpenMP and torch threads; restore the previous counts afterwards.

    Yields the counts in effect inside the block (``requested``, ``blas``, ``torch``, ``cores``). With
    ``import_torch=False`` torch's count is set only where torch is already imported (importing it takes a second;
    a block that imports it runs it with its own count).
    """
    torch = torch_module(import_torch)
    before = torch.get_num_threads() if torch else None
    with pools().limit(limits=threads):
        if torch:
            torch.set_num_threads(threads)
        try:
            yield {"requested": threads, **thread_counts(import_torch), "cores": cores()}
        finally:
            if torch:
                torch.set_num_threads(before)

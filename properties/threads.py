"""Thread counts of the libraries under test, set for a block of code and restored afterwards."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def single_threaded():
    """One BLAS/OpenMP thread and one torch intra-op thread inside the block; the previous counts after it.

    torch is limited only when it is loaded (an entry that uses it imported it)."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=1):
        if torch:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(before)

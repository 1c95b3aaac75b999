"""What a measurement runs under: the machine's load (thread counts are set with :mod:`properties.threads`)."""

from __future__ import annotations

import os


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

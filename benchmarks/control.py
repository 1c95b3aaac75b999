"""What a measurement runs under: the machine's load, and whether idle library threads sleep (thread counts are set
with :mod:`properties.threads`)."""

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


# Idle threads of one library that keep spinning take cores from the next library's rounds. Each library reads its
# setting once, when it loads, so these must be in the environment before Python starts.
IDLE_SLEEP = {
    "OMP_WAIT_POLICY": "PASSIVE",  # OpenMP pools (torch's, MKL's under it): idle threads sleep at once
    "OPENBLAS_THREAD_TIMEOUT": "4",  # OpenBLAS: idle threads sleep after 2**4 cycles instead of about 2**28
}


def spinning_settings(environ=os.environ) -> dict[str, str]:
    """The settings of ``IDLE_SLEEP`` this process did not start with, as ``{name: value to set}``."""
    return {name: value for name, value in IDLE_SLEEP.items() if environ.get(name, "").upper() != value}

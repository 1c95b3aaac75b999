"""The extra memory of one call: what it allocates beyond its output, at its peak.

Two measures, and the larger counts. ``tracemalloc`` sees every NumPy allocation exactly, touched or not (a lazily
mapped ``np.zeros`` of the padded plane included), in any process, so it holds under pytest-xdist. It does not see
torch's allocator or other C libraries; for those the process's peak resident set size is reset before the call
(Linux: ``/proc/self/clear_refs``) and read after it (``VmHWM``): pages actually touched, by any allocator. That second
measure is a process-wide one, so it counts whatever else the process touches during the call; nothing else runs in a
pytest worker during a test. Where the reset is not available, only the traced measure is taken.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

LIMIT_BYTES = 64 * 2**20
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    line = next(line for line in _STATUS.read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1])


def _reset_peak_resident() -> int | None:
    """Reset the peak resident set size to the current one and return it in bytes, or None where that is impossible."""
    try:
        _CLEAR_REFS.write_text("5")
        return _status_kib("VmRSS") * 1024
    except OSError:
        return None


@dataclass
class Usage:
    """Memory a call took at its peak beyond what the process held before it, in bytes."""

    traced: int = 0
    resident: int | None = None  # None where the resident peak cannot be reset

    def extra(self, output_bytes: int) -> int:
        """The larger of the two measures, less the output itself."""
        return max(self.traced, self.resident or 0) - output_bytes

    def over(self, output_bytes: int) -> str | None:
        """What holds in every process when the call took more than the limit beyond its output, else None."""
        if self.extra(output_bytes) <= LIMIT_BYTES:
            return None
        return f"the call took more than {LIMIT_BYTES / 2**20:.0f} MiB beyond its {output_bytes / 2**20:.2f} MiB output"

    def describe(self, output_bytes: int) -> str:
        resident = "not measured" if self.resident is None else f"{self.resident / 2**20:.1f} MiB"
        return (
            f"{self.extra(output_bytes) / 2**20:.1f} MiB beyond its {output_bytes / 2**20:.2f} MiB output "
            f"(NumPy peak {self.traced / 2**20:.1f} MiB, resident peak {resident}; limit {LIMIT_BYTES / 2**20:.0f} MiB)"
        )


@contextmanager
def measured() -> Iterator[Usage]:
    """Measure the block: ``with measured() as usage: out = conv2d(...)``, then ``usage.extra(out.nbytes)``."""
    usage = Usage()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    traced_before = tracemalloc.get_traced_memory()[0]
    resident_before = _reset_peak_resident()
    try:
        yield usage
    finally:
        usage.traced = tracemalloc.get_traced_memory()[1] - traced_before
        if resident_before is not None:
            usage.resident = _status_kib("VmHWM") * 1024 - resident_before
        if not tracing:
            tracemalloc.stop()


def measured_call(call: Callable[[], object], output_bytes: Callable[[object], int]) -> tuple[object, Usage]:
    """``call()`` and its usage; a call over the limit is measured once more: what only a library's first call in a
    process takes (its backend starting, measured at 65 MiB for JAX's first call) is not memory that follows the
    arguments; what every call takes is. ``output_bytes`` gives the size of a result."""
    with measured() as usage:
        result = call()
    if usage.extra(output_bytes(result)) > LIMIT_BYTES:
        with measured() as usage:
            result = call()
    return result, usage


def nbytes(result) -> int:
    """The bytes of a result: an array, or a tuple of arrays (a call's several outputs)."""
    return sum(part.nbytes for part in result) if isinstance(result, tuple) else result.nbytes

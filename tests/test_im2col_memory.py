"""im2col keeps its workspace bounded: at most 64 MiB beyond the output, on every benchmark workload and beyond.

tracemalloc sees NumPy's array allocations, so the traced peak during one call, less the output array, is the
extra memory the call needed (patch block, padded band, product buffer and any temporaries).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import impls
from benchmarks.workloads import WORKLOADS, Workload

LIMIT = 64 * 2**20

# Beyond the benchmarks: a patch matrix of ~600 MB, and one output row whose patches alone exceed the workspace.
LARGE = [
    Workload("large_image", 2, 64, 256, 256, 64, (3, 3), padding=(1, 1)),
    Workload("wide_row", 1, 512, 3, 2048, 8, (3, 3), padding=(0, 1)),
    Workload("wide_row_f64_strided", 1, 256, 3, 4100, 4, (5, 5), (2, 3), (2, 2), dtype="float64"),
]


def extra_memory(workload: Workload) -> tuple[int, np.ndarray]:
    """The traced peak of one im2col call on ``workload`` minus its output, and the output."""
    args, kwargs = workload.call_args()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        out = impls.REGISTRY["im2col"](*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before - out.nbytes, out


@pytest.mark.parametrize("workload", WORKLOADS + LARGE, ids=lambda workload: workload.name)
def test_im2col_extra_memory_is_bounded(workload):
    extra, out = extra_memory(workload)
    assert out.shape == (workload.n, workload.c_out, *workload.output_hw)
    full_patches = workload.n * workload.c_in * workload.kernel[0] * workload.kernel[1] * out[0, 0].size
    assert extra <= LIMIT, (
        f"im2col on {workload.name} ({workload.label()}) used {extra / 2**20:.1f} MiB beyond its "
        f"{out.nbytes / 2**20:.1f} MiB output (limit {LIMIT / 2**20:.0f} MiB; the whole patch matrix would be "
        f"{full_patches * out.itemsize / 2**20:.1f} MiB)"
    )


def test_large_workload_matches_torch():
    """The chunked path (row bands, column runs) agrees with torch on the largest memory workload."""
    workload = LARGE[2]
    args, kwargs = workload.call_args()
    expected = impls.REGISTRY["torch"](*args, **kwargs)
    np.testing.assert_allclose(impls.REGISTRY["im2col"](*args, **kwargs), expected, rtol=1e-9, atol=1e-9)

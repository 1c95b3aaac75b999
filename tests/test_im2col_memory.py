"""im2col keeps its workspace bounded: at most 64 MiB beyond the output, on every benchmark workload and beyond,
and on arguments far beyond the input (strides up to ``2**31 - 1``, paddings up to 1000, dilations of hundreds),
where its work and memory must follow the output, not the stride or the padding.

tracemalloc sees NumPy's array allocations, so the traced peak during one call, less the output array, is the
extra memory the call needed (patch block, padded band, product buffer and any temporaries).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from convcheck.properties.errors import error_bound
from convcheck.properties.oracle import reference_conv2d

from benchmarks.workloads import WORKLOADS, Workload
from convcheck import impls

LIMIT = 64 * 2**20

# Beyond the benchmarks: a patch matrix of ~600 MB, and one output row whose patches alone exceed the workspace.
LARGE = [
    Workload("large_image", 2, 64, 256, 256, 64, (3, 3), padding=(1, 1)),
    Workload("wide_row", 1, 512, 3, 2048, 8, (3, 3), padding=(0, 1)),
    Workload("wide_row_f64_strided", 1, 256, 3, 4100, 4, (5, 5), (2, 3), (2, 2), dtype="float64"),
]


# (x shape, weight shape, geometry): one output per window, whatever the stride; borders of zeros far wider than x.
EXTREME = [
    ((1, 2, 5, 5), (3, 2, 3, 3), {"stride": 10**6}),
    ((1, 2, 5, 5), (3, 2, 3, 3), {"stride": (1, 10**9)}),
    ((1, 2, 5, 5), (3, 2, 3, 3), {"stride": 2**31 - 1, "padding": 2}),
    ((2, 3, 5, 4), (4, 3, 2, 3), {"stride": (2**31 - 1, 10**9), "padding": (1, 2), "dilation": (3, 1)}),
    ((2, 3, 3, 3), (4, 3, 3, 3), {"stride": 1000, "padding": 1000}),
    ((2, 3, 3, 3), (4, 3, 3, 3), {"stride": (1000, 1001), "padding": (1000, 999)}),
    ((2, 3, 5, 5), (4, 3, 3, 3), {"dilation": 300, "padding": 300}),
    ((2, 3, 5, 5), (4, 3, 3, 3), {"dilation": 250, "padding": 250, "stride": 3}),
    ((2, 4, 6, 7), (4, 2, 3, 2), {"dilation": (200, 150), "padding": (200, 150), "groups": 2}),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"dilation": (1, 400), "padding": (0, 401), "stride": (1, 7)}),
]


def extra_memory(workload: Workload) -> tuple[int, np.ndarray]:
    """The traced peak of one im2col call on ``workload`` minus its output, and the output."""
    return call_memory(*workload.call_args())


def call_memory(args: tuple, kwargs: dict) -> tuple[int, np.ndarray]:
    """The traced peak of one im2col call minus its output, and the output."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        out = impls.REGISTRY["im2col"](*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before - out.nbytes, out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("x_shape", "w_shape", "geometry"), EXTREME, ids=[str(case[2]) for case in EXTREME])
def test_im2col_on_extreme_arguments_follows_the_output(x_shape, w_shape, geometry, dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal(w_shape).astype(dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)
    extra, out = call_memory((x, weight, bias), geometry)
    assert extra <= LIMIT, f"im2col with {geometry} used {extra / 2**20:.1f} MiB beyond its output"
    expected = reference_conv2d(x, weight, bias, **geometry)  # the oracle handles every case here
    assert out.shape == expected.shape
    error = np.abs(out - expected)
    bound = error_bound("exact-summation", x, weight, bias, **geometry)
    assert np.all(error <= bound), f"max error {error.max():.3g} beyond the bound at {np.argmax(error > bound)}"


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

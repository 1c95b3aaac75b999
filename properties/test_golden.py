"""The seed page's labs, computed by hand there, as golden tests for every implementation."""

import numpy as np
import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.failures import PropertyFailure
from convcheck.properties.reproductions import reproducible
from convcheck.properties.support import allowed_difference, call_or_skip

pytestmark = pytest.mark.family("golden")

LAB1_IMAGE = [[1, 2, 0, 0], [5, 3, 0, 4], [2, 1, 3, 1], [0, 2, 1, 2]]
LAB1_KERNEL = [[1, 0], [0, -1]]
LAB1_EXPECTED = [[-2, 2, -4], [4, 0, -1], [0, 0, 1]]

LAB2_IMAGE = [[0, 0, 0, 0, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 0]]
LAB2_KERNEL = [[-1, 1]]
LAB2_EXPECTED = [[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]


def as_nchw(rows, dtype) -> np.ndarray:
    return np.array(rows, dtype=dtype)[None, None]


LABS = {
    "manual_conv_lab": (LAB1_IMAGE, LAB1_KERNEL, LAB1_EXPECTED),
    "edge_lab": (LAB2_IMAGE, LAB2_KERNEL, LAB2_EXPECTED),
}
SHAPE_LABS = {
    "size_lab": ((1, 1, 6, 6), 2, 3, 2, 1, (1, 2, 3, 3)),
    "channel_lab": ((2, 3, 32, 32), 8, 3, 1, 1, (2, 8, 32, 32)),
    "conv2d_lab": ((1, 1, 8, 8), 4, 3, 1, 1, (1, 4, 8, 8)),
}


@reproducible
def check_seed_lab_values(impl, lab: str, dtype: str) -> None:
    """The lab's hand-computed output, exactly (within the error model)."""
    __tracebackhide__ = True
    image, kernel, expected = LABS[lab]
    x, weight = as_nchw(image, dtype), as_nchw(kernel, dtype)
    out = call_or_skip(impl, x, weight)
    bound = allowed_difference([impl], x, weight)
    assert_close(out, as_nchw(expected, dtype), bound, f"seed lab values ({lab}, {dtype})", impl, None, "the lab's")


@reproducible
def check_seed_lab_shape(impl, lab: str) -> None:
    """The lab's output shape."""
    __tracebackhide__ = True
    x_shape, c_out, kernel, stride, padding, out_shape = SHAPE_LABS[lab]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    weight = rng.standard_normal((c_out, x_shape[1], kernel, kernel)).astype(np.float32)
    bias = rng.standard_normal(c_out).astype(np.float32)
    out = call_or_skip(impl, x, weight, bias, stride=stride, padding=padding)
    if np.shape(out) != out_shape:
        raise PropertyFailure(f"seed lab shape ({lab})", f"out.shape={np.shape(out)}, but should be {out_shape}", impl)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("lab", list(LABS))
def test_seed_lab_values(impl, lab, dtype):
    """Lab 1 (hand-computed cross-correlation, kernel not flipped) and Lab 2 (edge detector), exactly."""
    __tracebackhide__ = True
    check_seed_lab_values(impl, lab=lab, dtype=dtype)


@pytest.mark.parametrize("lab", list(SHAPE_LABS))
def test_seed_lab_shapes(impl, lab):
    """The seed's shape labs: [N, C_in, H, W] * [C_out, C_in, kH, kW] -> [N, C_out, H_out, W_out]."""
    __tracebackhide__ = True
    check_seed_lab_shape(impl, lab=lab)

"""The contract's index limit and its reduction to what the windows read (``Conv2dProblem.tap_gathered``)."""

from __future__ import annotations

import numpy as np
import pytest
from convcheck.impls import ConvArgumentError, normalize
from convcheck.impls.contract import INDEX_LIMIT
from convcheck.properties.oracle import reference_conv2d
from hypothesis import given
from hypothesis import strategies as st

X = np.zeros((1, 1, 5, 5), dtype=np.float32)
W = np.zeros((1, 1, 3, 3), dtype=np.float32)


@pytest.mark.parametrize(
    ("geometry", "named"),
    [
        ({"stride": 10**20}, "stride"),
        ({"stride": (1, 2**63)}, "stride"),
        ({"dilation": (2**63, 1)}, "dilation"),
        ({"padding": 2**64}, "padding"),
        ({"padding": (0, 2**62)}, "padding"),  # each entry fits; 5 + 2 * 2**62 does not
        ({"dilation": 2**62}, "dilation"),  # the span 2 * 2**62 + 1 does not fit
    ],
)
def test_numbers_past_the_index_limit_name_their_argument(geometry, named):
    with pytest.raises(ConvArgumentError, match=rf"^{named}="):
        normalize(X, W, **geometry)


def test_numbers_at_the_index_limit_are_valid():
    assert normalize(X, W, stride=INDEX_LIMIT).output_shape == (1, 1, 1, 1)
    assert normalize(X, W, stride=(1, 2**62), padding=(0, 2**61)).output_shape == (1, 1, 3, 2)
    assert normalize(X, W, dilation=(2**61, 1), padding=(2**61, 0)).output_shape == (1, 1, 5, 3)


def gathered_conv2d(problem) -> np.ndarray:
    """The oracle on the reduced problem (its padding is per side, so it is applied here)."""
    top, bottom, left, right = problem.padding
    x = np.pad(problem.x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    return reference_conv2d(x, problem.weight, problem.bias, problem.stride, 0, problem.dilation, problem.groups)


axis = st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(1, 7), st.integers(0, 5), st.integers(1, 4))


@given(rows=axis, cols=axis, seed=st.integers(0, 2**32 - 1))
def test_the_reduced_problem_has_the_same_result_and_reads_no_more_than_its_windows(rows, cols, seed):
    (h, kh, sh, ph, dh), (w, kw, sw, pw, dw) = rows, cols
    rng = np.random.default_rng(seed)
    x, weight = rng.integers(-3, 4, (2, 2, h, w)).astype(np.float64), rng.integers(-3, 4, (3, 2, kh, kw)).astype(float)
    try:
        problem = normalize(x, weight, None, (sh, sw), (ph, pw), (dh, dw))
    except ConvArgumentError:
        return  # the kernel does not fit
    reduced = problem.tap_gathered()
    expected = reference_conv2d(x, weight, None, (sh, sw), (ph, pw), (dh, dw))
    np.testing.assert_array_equal(gathered_conv2d(reduced), expected)
    _, _, h_out, w_out = expected.shape
    top, bottom, left, right = reduced.padding
    assert reduced.x.shape[2] + top + bottom <= h_out * kh  # never more rows than (window, tap) pairs
    assert reduced.x.shape[3] + left + right <= w_out * kw
    assert max(reduced.stride) <= max(reduced.x.shape[2] + top + bottom, reduced.x.shape[3] + left + right)

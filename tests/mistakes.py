"""Callables with the kinds of mistakes a user's own module makes, for the tests of how convcheck reports them (not
gallery bugs: none of them computes a convolution that is nearly right)."""

import numpy as np


def raises_type_error(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Fails the same way on every call."""
    return np.zeros(x.shape[0] + "rows")


def returns_a_list(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A nested list of the right values' shape, not an array."""
    return np.zeros((x.shape[0], weight.shape[0], 1, 1)).tolist()


def returns_one_pixel(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """One output position whatever the input: a wrong shape."""
    return np.zeros((x.shape[0], weight.shape[0], 1, 1), dtype=x.dtype)


def returns_integers(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The right shape, an integer dtype."""
    from tests.gallery.correct import einsum_float64

    return einsum_float64(x, weight, bias, stride, padding, dilation, groups).astype(np.int64)


def two_parameters(x, w):
    """A signature that cannot take the contract's call."""
    return x

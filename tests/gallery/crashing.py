"""conv2d callables that take their process down or never return on some configurations, as a faulty extension
would; correct (they are torch) everywhere else. ``tests/test_isolation.py`` runs the property suite on them."""

import ctypes
import time

import numpy as np
from convcheck.impls import REGISTRY


def segfault_on_odd_width(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Reads address 0 (a segmentation fault) when the input's width is odd."""
    if np.shape(x)[-1] % 2:
        ctypes.string_at(0)
    return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)


def hang_on_stride_three(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Never returns when a stride is 3."""
    if 3 in np.atleast_1d(stride):
        time.sleep(3600)
    return REGISTRY["torch"](x, weight, bias, stride, padding, dilation, groups)

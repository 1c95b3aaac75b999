"""TensorFlow's ``tf.nn.conv2d`` on the CPU, eagerly, NHWC (the layout TensorFlow's CPU kernels support).

The input goes in as NHWC and the kernel as HWIO (``[kH, kW, C_in/groups, C_out]``), both transposed views that
TensorFlow copies into its own tensors; padding is explicit, ``[[0, 0], [top, bottom], [left, right], [0, 0]]``, so
``'same'`` with an even kernel keeps its asymmetric split; groups are TensorFlow's own (an input depth that is a
multiple of the kernel's input depth); the bias goes through ``tf.nn.bias_add``. The NHWC result is transposed back.

A known deviation, declared: TensorFlow 2.21's CPU convolution with its default oneDNN kernels
(``TF_ENABLE_ONEDNN_OPTS`` unset) returns wrong values for some strided calls: a (12, 1, 2, 3) input (NCHW) with a
1x2 kernel and stride (1, 2) gives zeros for the whole second output row, where ``TF_ENABLE_ONEDNN_OPTS=0`` gives the
right values. The receptive-field property, whose batches are one delta image per input pixel, found it.

TensorFlow takes seconds to import, so it is imported at the first call, not with the registry.
"""

from __future__ import annotations

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation

TENSORFLOW = Library("tensorflow", install="tensorflow-cpu")
UNAVAILABLE = TENSORFLOW.unavailable()


@implementation(
    "tensorflow",
    max_gflop=4.0,
    unavailable=UNAVAILABLE,
    library="tensorflow-cpu",
    expected_failures={
        "extreme_arguments": "explicit padding is materialized: 633 MiB of resident memory for a 1x1 input padded by "
        "500 under stride 500 (n2 ic4 ih1 iw1 oc1 kh1 kw1 sh500 sw500 ph500 pw500, TensorFlow 2.21 CPU); a segfault "
        "for stride 2**31-1 with padding 2 on a 5x5 input",
        "receptive_field": "wrong values from the oneDNN CPU kernel on some strided calls (a 12x1x2x3 input, a 1x2 "
        "kernel, stride (1, 2): the second output row is never written: zeros or stale memory); right with "
        "TF_ENABLE_ONEDNN_OPTS=0",
    },
)
def tensorflow_conv(problem: Conv2dProblem) -> np.ndarray:
    """``tf.nn.conv2d`` with explicit padding, strides and dilations in NHWC on the CPU."""
    (tf,) = TENSORFLOW.load()
    top, bottom, left, right = problem.padding
    with tf.device("/CPU:0"):
        y = tf.nn.conv2d(
            tf.constant(problem.x.transpose(0, 2, 3, 1)),
            tf.constant(problem.weight.transpose(2, 3, 1, 0)),
            strides=[1, *problem.stride, 1],
            padding=[[0, 0], [top, bottom], [left, right], [0, 0]],
            data_format="NHWC",
            dilations=[1, *problem.dilation, 1],
        )
        if problem.bias is not None:
            y = tf.nn.bias_add(y, tf.constant(problem.bias))
    return np.ascontiguousarray(y.numpy().transpose(0, 3, 1, 2))

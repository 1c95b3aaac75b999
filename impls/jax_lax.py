"""JAX's ``jax.lax.conv_general_dilated`` on the CPU, float32 at full precision, float64 with x64 on for the call.

The contract maps one to one onto XLA's convolution: window strides, explicit ``(low, high)`` padding per axis (so
``'same'`` with an even kernel keeps its asymmetric split), kernel dilation (``rhs_dilation``), and
``feature_group_count`` for groups. The operands go in as NHWC and HWIO (transposed views, which JAX copies into its
own buffers) because that is the layout of XLA's CPU convolution: given NCHW/OIHW, XLA compiles transposition loops
around it, which makes each new shape's compilation about 7 times slower (about 100 ms instead of 15 ms of CPU
time here) for the same convolution. The bias, which ``lax`` convolutions do not take, is added to the result.

``Precision.HIGHEST`` asks for true float32 products (the default precision lets a backend use bfloat16 or TF32
passes; the CPU backend happens not to, but the request is part of what is tested). float64 needs JAX's x64 mode,
which is switched on only around the call (``jax.enable_x64`` is a thread-local context manager), never for the
process.

A known deviation, declared: in float64 with ``groups > 1``, XLA's CPU backend (which has a native grouped
convolution only for float16/float32) rewrites the grouped convolution into a dense one whose kernel is
block-diagonal, the other groups' weights filled with zeros (``select(iota == iota, w, 0)`` in the compiled HLO). The
finite result is unchanged, but a NaN or an infinity in one group's input reaches every group's output through
``0 * NaN``. Smallest case: ``n1 ic2 ih1 iw1 oc2 kh1 kw1 g2 float64`` with ``x[0, 0, 0, 0] = nan`` gives NaN in
output channel 1 too.

Each geometry is compiled once (``jax.jit`` with the geometry static); later calls of the same shapes and dtype
reuse the executable (about 0.2 ms a call here). A new shape costs a compilation, measured here at about 12 ms of
CPU time in float32 and 32 ms in float64 (where XLA emits its own convolution loops instead of calling a library
kernel), plus about 11 ms of lowering in Python: the price of a property suite that draws a new shape for nearly
every example (a default run compiled 908 times, 53 s of the run). So the entry declares a quarter of each property
test's examples (``examples=0.25``, a cost hint like ``max_gflop``). JAX itself is imported at the first call (about
a second), not with the registry.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import KnownFailure, implementation

JAX = Library("jax", "jax.lax", install="jax")
UNAVAILABLE = JAX.unavailable()
EXAMPLES = 0.25  # the share of each property test's examples: every new shape is a compilation
CALL_TIME_S = 60.0  # a compilation: 6-7 s for some float64 shapes under load (convcheck.properties.time_limits)


@cache
def compiled():
    """The convolution compiled once per shape, dtype and geometry (the geometry is static)."""
    jax, lax = JAX.load()

    def convolve(x, weight, *, stride, padding, dilation, groups):
        return lax.conv_general_dilated(
            x,
            weight,
            window_strides=stride,
            padding=padding,
            rhs_dilation=dilation,
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
            feature_group_count=groups,
            precision=lax.Precision.HIGHEST,
        )

    return jax.jit(convolve, static_argnames=("stride", "padding", "dilation", "groups"))


@implementation(
    "jax",
    max_gflop=4.0,
    examples=EXAMPLES,
    call_time_s=CALL_TIME_S,
    unavailable=UNAVAILABLE,
    library="jax",
    expected_failures=[
        KnownFailure(
            "special_values",
            "float64 grouped convolution is lowered to a dense one with zero weights across groups, so NaN and "
            "infinity leak into other groups' outputs (0 * NaN); XLA CPU",
            dtypes=("float64",),
        )
    ],
)
def jax_conv(problem: Conv2dProblem) -> np.ndarray:
    """XLA's convolution on the CPU device, compiled per geometry, NHWC in and out."""
    jax, _ = JAX.load()
    top, bottom, left, right = problem.padding
    with jax.enable_x64(problem.x.dtype == np.float64), jax.default_device(jax.devices("cpu")[0]):
        y = compiled()(
            problem.x.transpose(0, 2, 3, 1),
            problem.weight.transpose(2, 3, 1, 0),
            stride=problem.stride,
            padding=((top, bottom), (left, right)),
            dilation=problem.dilation,
            groups=problem.groups,
        )
        out = np.array(np.asarray(y).transpose(0, 3, 1, 2), order="C")  # a copy: JAX's buffer is read-only
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out

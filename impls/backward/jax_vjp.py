"""JAX on the CPU: ``jax.vjp`` of ``lax.conv_general_dilated`` for the gradients, and the transposed convolution as
``conv_general_dilated`` with ``lhs_dilation``.

The transposed convolution is XLA's convolution of the input dilated by the stride (``lhs_dilation``), with the
kernel flipped and its two channel axes swapped per group, and padding ``dilation*(k - 1) - padding`` on both sides
(negative: cropped), plus ``output_padding`` at the end. The gradients are the vector-Jacobian product of the forward
convolution plus a bias at ``grad_out``. ``Precision.HIGHEST`` asks for true float32 products; float64 switches JAX's
x64 mode on around the call only. Each geometry is compiled once (``jax.jit``, the geometry static), in the NHWC/HWIO
layout of XLA's CPU convolution. JAX is imported at the first call.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from convcheck.impls.backward.autograd import on_cpu
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.jax_lax import CALL_TIME_S, EXAMPLES, JAX, UNAVAILABLE


def _convolve(lax, x, weight, stride, padding, dilation, groups, lhs_dilation=(1, 1)):
    """XLA's convolution on NHWC input and an HWIO kernel: the layout of its CPU convolution (given NCHW/OIHW it
    compiles transposition loops around it, several times slower to compile, see :mod:`convcheck.impls.jax_lax`)."""
    return lax.conv_general_dilated(
        x, weight, window_strides=stride, padding=padding, lhs_dilation=lhs_dilation, rhs_dilation=dilation,
        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups, precision=lax.Precision.HIGHEST,
    )  # fmt: skip


def _nhwc(array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 2, 3, 1)


def _nchw(array) -> np.ndarray:
    return np.array(np.asarray(array).transpose(0, 3, 1, 2), order="C")  # a copy: JAX's buffer is read-only


@cache
def compiled_transposed():
    """The transposed convolution, compiled once per shape, dtype and geometry (kernel already flipped, channels
    swapped, HWIO)."""
    jax, lax = JAX.load()

    def transposed(x, kernel, *, stride, padding, output_padding, groups, dilation):
        kh, kw = kernel.shape[:2]
        pads = [
            (d * (k - 1) - p, d * (k - 1) - p + e)
            for k, p, d, e in zip((kh, kw), padding, dilation, output_padding, strict=True)
        ]
        return _convolve(lax, x, kernel, (1, 1), pads, dilation, groups, lhs_dilation=stride)

    return jax.jit(transposed, static_argnames=("stride", "padding", "output_padding", "groups", "dilation"))


def _transposed_kernel(weight: np.ndarray, groups: int) -> np.ndarray:
    """``[C_in, C_out/groups, kH, kW]`` as the forward kernel of the transposed convolution: channel axes swapped per
    group, taps flipped, in HWIO (a view)."""
    c_in, per_group, kh, kw = weight.shape
    kernel = weight.reshape(groups, c_in // groups, per_group, kh, kw).swapaxes(1, 2)
    kernel = kernel.reshape(groups * per_group, c_in // groups, kh, kw)[:, :, ::-1, ::-1]
    return kernel.transpose(2, 3, 1, 0)


@cache
def compiled_gradients():
    """The forward convolution's vector-Jacobian product, compiled once per shape, dtype and geometry."""
    jax, lax = JAX.load()

    def gradients(grad_out, x, weight, *, stride, padding, dilation, groups):
        def forward(x, weight, bias):
            return _convolve(lax, x, weight, stride, padding, dilation, groups) + bias

        _, pullback = jax.vjp(forward, x, weight, jax.numpy.zeros(weight.shape[-1], dtype=weight.dtype))
        return pullback(grad_out)

    return jax.jit(gradients, static_argnames=("stride", "padding", "dilation", "groups"))


@transposed_implementation(
    "jax", unavailable=UNAVAILABLE, library="jax", examples=EXAMPLES, call_time_s=CALL_TIME_S,
    non_finite_crosses_groups=True,
)  # fmt: skip
def jax_transposed(problem: ConvTranspose2dProblem) -> np.ndarray:
    """XLA's convolution of the stride-dilated input with the flipped, channel-swapped kernel."""
    jax, _ = JAX.load()
    x64, device = on_cpu(jax, problem.x.dtype)
    with x64, device:
        y = compiled_transposed()(
            _nhwc(problem.x), _transposed_kernel(problem.weight, problem.groups), stride=problem.stride,
            padding=problem.padding, output_padding=problem.output_padding, groups=problem.groups,
            dilation=problem.dilation,
        )  # fmt: skip
        out = _nchw(y)
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out


@backward_implementation(
    "jax", unavailable=UNAVAILABLE, library="jax", examples=EXAMPLES, call_time_s=CALL_TIME_S,
    non_finite_crosses_groups=True,
)  # fmt: skip
def jax_gradients(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``jax.vjp`` of the forward convolution plus a zero bias, at grad_out."""
    jax, _ = JAX.load()
    forward = problem.forward
    top, bottom, left, right = forward.padding
    x64, device = on_cpu(jax, forward.x.dtype)
    with x64, device:
        grad_x, grad_weight, grad_bias = compiled_gradients()(
            _nhwc(problem.grad_out), _nhwc(forward.x), forward.weight.transpose(2, 3, 1, 0), stride=forward.stride,
            padding=((top, bottom), (left, right)), dilation=forward.dilation, groups=forward.groups,
        )  # fmt: skip
        return _nchw(grad_x), np.array(np.asarray(grad_weight).transpose(3, 2, 0, 1), order="C"), np.array(grad_bias)

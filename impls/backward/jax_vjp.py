"""JAX on the CPU: ``jax.vjp`` of ``lax.conv_general_dilated`` for the gradients, and the transposed convolution as
``conv_general_dilated`` with ``lhs_dilation``.

The transposed convolution is XLA's convolution of the input dilated by the stride (``lhs_dilation``), with the
kernel flipped and its two channel axes swapped per group, and padding ``dilation*(k - 1) - padding`` on both sides
(negative: cropped), plus ``output_padding`` at the end. The gradients are the vector-Jacobian product of the forward
convolution plus a bias at ``grad_out``. ``Precision.HIGHEST`` asks for true float32 products; float64 switches JAX's
x64 mode on around the call only. Each geometry is compiled once (``jax.jit``, the geometry static). JAX is imported
at the first call.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.jax_lax import JAX, UNAVAILABLE


def _convolve(lax, x, weight, stride, padding, dilation, groups, lhs_dilation=(1, 1)):
    return lax.conv_general_dilated(
        x, weight, window_strides=stride, padding=padding, lhs_dilation=lhs_dilation, rhs_dilation=dilation,
        dimension_numbers=("NCHW", "OIHW", "NCHW"), feature_group_count=groups, precision=lax.Precision.HIGHEST,
    )  # fmt: skip


@cache
def compiled_transposed():
    """The transposed convolution, compiled once per shape, dtype and geometry."""
    jax, lax = JAX.load()

    def transposed(x, weight, *, stride, padding, output_padding, groups, dilation):
        c_in, per_group, kh, kw = weight.shape
        kernel = weight.reshape(groups, c_in // groups, per_group, kh, kw).swapaxes(1, 2)
        kernel = kernel.reshape(groups * per_group, c_in // groups, kh, kw)[:, :, ::-1, ::-1]
        pads = [
            (d * (k - 1) - p, d * (k - 1) - p + e)
            for k, p, d, e in zip((kh, kw), padding, dilation, output_padding, strict=True)
        ]
        return _convolve(lax, x, kernel, (1, 1), pads, dilation, groups, lhs_dilation=stride)

    return jax.jit(transposed, static_argnames=("stride", "padding", "output_padding", "groups", "dilation"))


@cache
def compiled_gradients():
    """The forward convolution's vector-Jacobian product, compiled once per shape, dtype and geometry."""
    jax, lax = JAX.load()

    def gradients(grad_out, x, weight, *, stride, padding, dilation, groups):
        def forward(x, weight, bias):
            return _convolve(lax, x, weight, stride, padding, dilation, groups) + bias[None, :, None, None]

        _, pullback = jax.vjp(forward, x, weight, jax.numpy.zeros(weight.shape[0], dtype=weight.dtype))
        return pullback(grad_out)

    return jax.jit(gradients, static_argnames=("stride", "padding", "dilation", "groups"))


def _on_cpu(jax, dtype):
    """The context of a call: x64 mode for float64 only, the CPU device."""
    return jax.enable_x64(dtype == np.float64), jax.default_device(jax.devices("cpu")[0])


@transposed_implementation("jax", unavailable=UNAVAILABLE, library="jax")
def jax_transposed(problem: ConvTranspose2dProblem) -> np.ndarray:
    """XLA's convolution of the stride-dilated input with the flipped, channel-swapped kernel."""
    jax, _ = JAX.load()
    x64, device = _on_cpu(jax, problem.x.dtype)
    with x64, device:
        y = compiled_transposed()(
            problem.x, problem.weight, stride=problem.stride, padding=problem.padding,
            output_padding=problem.output_padding, groups=problem.groups, dilation=problem.dilation,
        )  # fmt: skip
        out = np.array(y, order="C")  # a copy: JAX's buffer is read-only
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out


@backward_implementation("jax", unavailable=UNAVAILABLE, library="jax")
def jax_gradients(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``jax.vjp`` of the forward convolution plus a zero bias, at grad_out."""
    jax, _ = JAX.load()
    forward = problem.forward
    top, bottom, left, right = forward.padding
    x64, device = _on_cpu(jax, forward.x.dtype)
    with x64, device:
        grads = compiled_gradients()(
            problem.grad_out, forward.x, forward.weight, stride=forward.stride,
            padding=((top, bottom), (left, right)), dilation=forward.dilation, groups=forward.groups,
        )  # fmt: skip
        return tuple(np.array(g, order="C") for g in grads)

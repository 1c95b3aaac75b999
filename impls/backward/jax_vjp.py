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
from convcheck.impls.backward._canvas import input_gradient_by, largest_number, transposed_by
from convcheck.impls.backward.autograd import on_cpu
from convcheck.impls.backward.contract import Conv2dBackwardProblem, ConvTranspose2dProblem
from convcheck.impls.backward.registry import backward_implementation, transposed_implementation
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.jax_lax import CALL_TIME_S, EXAMPLES, JAX, UNAVAILABLE

# XLA 0.10.2's CPU convolution crashes the process (SIGFPE) on a stride (as lhs_dilation, also in the vjp) of 2**32
# or more with two channels or more; numbers past int32 go through the compact forms.
XLA_INDEX_LIMIT = 2**31 - 1


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
        spans = [d * (k - 1) + 1 for k, d in zip((kh, kw), dilation, strict=True)]
        if all(size >= span for size, span in zip(x.shape[1:3], spans, strict=True)):
            return _convolve(lax, x, kernel, (1, 1), pads, dilation, groups, lhs_dilation=stride)
        # An input narrower than the kernel: XLA 0.10.2's algebraic simplifier swaps the operands of such an
        # lhs-dilated convolution wrongly and aborts the process (x (1, 1, 3, 2), a (1, 1, 2, 3) kernel, stride (2, 1),
        # padding (1, 0)). The stride's zeros and the padding as a pad instead, behind a barrier (else the simplifier
        # folds the pad back into the convolution); 18 times slower on ResNet-18's stem, so only here.
        pads = [(*pad, s - 1) for pad, s in zip(pads, stride, strict=True)]
        stuffed = lax.optimization_barrier(lax.pad(x, np.zeros((), x.dtype), [(0, 0, 0), *pads, (0, 0, 0)]))
        return _convolve(lax, stuffed, kernel, (1, 1), ((0, 0), (0, 0)), dilation, groups)

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
    """The forward convolution's vector-Jacobian product in the weight and the bias, compiled once per shape, dtype
    and geometry."""
    jax, lax = JAX.load()

    def gradients(grad_out, x, weight, *, stride, padding, dilation, groups):
        def forward(weight, bias):
            return _convolve(lax, x, weight, stride, padding, dilation, groups) + bias

        _, pullback = jax.vjp(forward, weight, jax.numpy.zeros(weight.shape[-1], dtype=weight.dtype))
        return pullback(grad_out)

    return jax.jit(gradients, static_argnames=("stride", "padding", "dilation", "groups"))


def _transposed(x: np.ndarray, weight: np.ndarray, stride, padding, output_padding, groups: int, dilation):
    """XLA's transposed convolution of ``x`` by a ``(C_in, C_out/groups, kH, kW)`` kernel, NCHW out (no bias)."""
    jax, _ = JAX.load()
    x64, device = on_cpu(jax, x.dtype)
    with x64, device:
        y = compiled_transposed()(
            _nhwc(x), _transposed_kernel(weight, groups), stride=tuple(stride), padding=tuple(padding),
            output_padding=tuple(output_padding), groups=groups, dilation=tuple(dilation),
        )  # fmt: skip
        return _nchw(y)


def xla_scatter(grad: np.ndarray, weight: np.ndarray, stride, dilation, groups: int) -> np.ndarray:
    """XLA's transposed convolution without padding: the canvas every value's taps reach."""
    return _transposed(grad, weight, stride, (0, 0), (0, 0), groups, dilation)


@transposed_implementation(
    "jax", unavailable=UNAVAILABLE, library="jax", examples=EXAMPLES, call_time_s=CALL_TIME_S,
    non_finite_crosses_groups=True,
)  # fmt: skip
def jax_transposed(problem: ConvTranspose2dProblem) -> np.ndarray:
    """XLA's convolution of the stride-dilated input with the flipped, channel-swapped kernel (numbers past int32:
    its canvas in compact form)."""
    if largest_number(problem) > XLA_INDEX_LIMIT:
        return transposed_by(xla_scatter, problem)
    out = _transposed(problem.x, problem.weight, problem.stride, problem.padding, problem.output_padding,
                      problem.groups, problem.dilation)  # fmt: skip
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out


def _vjp(grad_out: np.ndarray, forward: Conv2dProblem) -> tuple[np.ndarray, np.ndarray]:
    """``jax.vjp`` of ``forward`` plus a zero bias at ``grad_out``: (grad_weight, grad_bias), OIHW."""
    jax, _ = JAX.load()
    top, bottom, left, right = forward.padding
    x64, device = on_cpu(jax, forward.x.dtype)
    with x64, device:
        grad_weight, grad_bias = compiled_gradients()(
            _nhwc(grad_out), _nhwc(forward.x), forward.weight.transpose(2, 3, 1, 0), stride=forward.stride,
            padding=((top, bottom), (left, right)), dilation=forward.dilation, groups=forward.groups,
        )  # fmt: skip
        return np.array(np.asarray(grad_weight).transpose(3, 2, 0, 1), order="C"), np.array(grad_bias)


@backward_implementation(
    "jax", unavailable=UNAVAILABLE, library="jax", examples=EXAMPLES, call_time_s=CALL_TIME_S,
    non_finite_crosses_groups=True,
)  # fmt: skip
def jax_gradients(problem: Conv2dBackwardProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """grad_weight and grad_bias by ``jax.vjp`` of the forward convolution plus a zero bias, at grad_out (numbers past
    int32: of the tap-gathered problem); grad_x by XLA's transposed convolution of grad_out, placed over the input. Not
    by the vjp: XLA 0.10.2 aborts the process compiling the vjp's input gradient of some strided convolutions whose
    output is narrower than the kernel (see ``compiled_transposed``)."""
    grad_weight, grad_bias = _vjp(problem.grad_out, problem.forward.with_numbers_up_to(XLA_INDEX_LIMIT))
    return input_gradient_by(xla_scatter, problem), grad_weight, grad_bias

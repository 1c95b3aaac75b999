"""FFT convolution: transform each padded input plane and each (flipped, dilated) kernel once, multiply, sum the
channels in the frequency domain, transform back.

The discrete Fourier transform turns *circular convolution* into a pointwise product. Three steps make that the
contract's cross-correlation:

1. Flip the kernel in both spatial axes: correlating with ``w`` is convolving with ``w[::-1, ::-1]``.
2. Transform at a length ``L >= `` the padded input extent. Output index ``i`` of the circular convolution of an input
   of extent ``P`` with a kernel of extent ``S`` is free of wrap-around exactly when ``S - 1 <= i <= P - 1``: those are
   the positions where the whole window lies inside the input, the 'valid' part. Keep them; stride subsamples them.
3. Sum over a group's input channels *before* the inverse transform (the transform is linear), so there is one
   inverse transform per (batch item, output channel), not one per input channel as with
   ``scipy.signal.fftconvolve`` applied channel by channel.

The transforms cover only what the windows read (``Conv2dProblem.tap_gathered``): a stride, padding or dilation far
beyond the input does not make the planes larger than the output's windows.

Rounding error is spread over the whole plane rather than confined to each window, so this entry declares the
normwise error model. float32 inputs are transformed in single precision (complex64) and the result keeps the
input dtype. ``scipy.fft`` is imported at the first call.
"""

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation
from convcheck.impls.scipy_correlate import dilate_kernel

SCIPY_FFT = Library("scipy.fft", install="scipy")


@implementation("fft", error_model="normwise", max_gflop=15.0)
def fft_correlate(problem: Conv2dProblem) -> np.ndarray:
    """Circular convolution by rfft2 of the padded input with the flipped kernel; keep the wrap-free part."""
    (fft,) = SCIPY_FFT.load()
    problem = problem.tap_gathered()
    image = problem.padded_input()
    kernel = dilate_kernel(problem.weight, problem.dilation)[:, :, ::-1, ::-1]
    n, _, height, width = image.shape
    c_out, c_group, span_h, span_w = kernel.shape
    groups = problem.groups
    shape = (fft.next_fast_len(height, real=True), fft.next_fast_len(width, real=True))
    # Spectra, channels last so that the channel sum is one batched matrix product per frequency.
    image_f = fft.rfft2(image, s=shape)  # (N, C_in, L_h, L_w/2+1)
    kernel_f = fft.rfft2(kernel, s=shape)  # (C_out, C_in/G, L_h, L_w/2+1)
    freqs = image_f.shape[2:]
    image_f = image_f.reshape(n, groups, c_group, -1).transpose(3, 1, 2, 0)  # (F, G, C_in/G, N)
    kernel_f = kernel_f.reshape(groups, c_out // groups, c_group, -1).transpose(3, 0, 1, 2)  # (F, G, C_out/G, C_in/G)
    product = np.matmul(kernel_f, image_f)  # (F, G, C_out/G, N)
    product = product.transpose(3, 1, 2, 0).reshape(n, c_out, *freqs)
    planes = fft.irfft2(product, s=shape)  # circular convolution, (N, C_out, L_h, L_w)
    sh, sw = problem.stride
    valid = planes[:, :, span_h - 1 : height : sh, span_w - 1 : width : sw]  # where no window wraps around
    out = np.array(valid, dtype=problem.x.dtype, order="C")
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out

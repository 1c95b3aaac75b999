"""The backward contract follows torch: conv_transpose2d accepts what torch accepts, with torch's output shape, and
conv2d_backward's gradients have the shapes autograd gives; refusals name the argument."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from convcheck.impls import ConvArgumentError
from convcheck.impls.backward import normalize_backward, normalize_transposed

torch = pytest.importorskip("torch")

GEOMETRIES = list(
    itertools.product(
        (1, 3),  # input extent
        (1, 2, 3),  # kernel
        (1, 2, 3),  # stride
        (0, 1, 2),  # padding
        (0, 1, 2),  # output padding
        (1, 2),  # dilation
    )
)


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "extra", "dilation"), GEOMETRIES)
def test_conv_transpose2d_accepts_what_torch_accepts_with_its_shape(size, kernel, stride, padding, extra, dilation):
    x, weight = np.zeros((1, 2, size, 1)), np.zeros((2, 3, kernel, 1))
    geometry = {"stride": (stride, 1), "padding": (padding, 0), "output_padding": (extra, 0), "dilation": (dilation, 1)}
    try:
        expected = tuple(torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(weight), **geometry).shape)
    except RuntimeError:
        with pytest.raises(ConvArgumentError, match=r"^(output_padding|padding)="):
            normalize_transposed(x, weight, **geometry)
        return
    assert normalize_transposed(x, weight, **geometry).output_shape == expected


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("padding", [0, 1, (2, 1), "same", "valid"])
def test_conv2d_backward_takes_the_forward_arguments_and_a_grad_out_of_its_output(padding):
    x, weight = np.zeros((2, 4, 5, 6)), np.zeros((6, 2, 3, 2))
    shape = tuple(torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(weight), padding=padding, groups=2).shape)
    problem = normalize_backward(np.zeros(shape), x, weight, padding=padding, groups=2)
    assert problem.forward.output_shape == shape
    with pytest.raises(ConvArgumentError, match=r"^grad_out="):
        normalize_backward(np.zeros((*shape[:3], shape[3] + 1)), x, weight, padding=padding, groups=2)

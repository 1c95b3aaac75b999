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


LIMIT = 2**63 - 1


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "extra", "named"),
    [
        (3, 1, LIMIT // 2 + 1, 1, 0, "stride"),  # the strided input (H - 1)*stride + 1
        (1, 3, 1, LIMIT // 2 + 1, 0, "dilation"),  # the dilated kernel span
        (2, 2, 2**62, 2**62, 0, "stride"),  # each part within the limit, their sum past it: the larger part
        (2, 3, 2**61, 2**62 - 1, 0, "dilation"),
        (2, 1, LIMIT - 1, 1, 1, "stride"),  # the output padding tips it over
    ],
)
def test_a_transposed_extent_past_an_index_names_the_argument_that_makes_it(size, kernel, stride, dilation, extra,
                                                                            named):  # fmt: skip
    x, weight = np.ones((1, 1, size, 1)), np.ones((1, 1, kernel, 1))
    with pytest.raises(ConvArgumentError, match=rf"^{named}=.*exceeds 2\*\*63 - 1"):
        normalize_transposed(x, weight, stride=(stride, 1), dilation=(dilation, 1), output_padding=(extra, 0))

"""The conv2d contract, written once: argument normalization, validation and the output-size formula.

Every implementation in this package receives a :class:`Conv2dProblem` that has already been checked, so its own
module holds only its algorithm. Semantics are those of ``torch.nn.functional.conv2d`` (cross-correlation).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# The largest index NumPy (intp) and torch (int64) can hold. Every stride, padding and dilation, every padded input
# extent and every dilated kernel span must fit in it; past it a call is an argument error, not an overflow.
INDEX_LIMIT = 2**63 - 1


class ConvArgumentError(ValueError):
    """An argument violates the conv2d contract; the message names the argument and its value."""


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fail(name: str, value, why: str):
    raise ConvArgumentError(f"{name}={_describe(value)}: {why}")


def output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """The output extent of one spatial axis: floor((in + pads - dil*(k-1) - 1) / stride) + 1."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def tap_rows(size: int, kernel: int, stride: int, dilation: int, before: int, after: int) -> np.ndarray | None:
    """Along one axis, the input index each (window, tap) pair reads, window-major, -1 where it reads padding; None
    when the padded extent is no longer than that list (the padded axis itself is then the smaller form)."""
    padded = before + size + after
    starts = range(0, padded - dilation * (kernel - 1), stride)  # every window that fits in the padded extent
    if padded <= len(starts) * kernel:
        return None
    # Indices stay below the padded extent, which INDEX_LIMIT bounds: int64 holds them.
    rows = np.arange(len(starts), dtype=np.int64)[:, None] * stride + np.arange(kernel) * dilation - before
    return np.where((rows >= 0) & (rows < size), rows, -1).reshape(-1)


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def int_pair(name: str, value, minimum: int) -> tuple[int, int]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(is_int(v) for v in items):
        fail(name, value, "expected an int or a pair of ints")
    if min(items) < minimum:
        fail(name, value, f"every entry must be >= {minimum}")
    if max(items) > INDEX_LIMIT:
        fail(name, value, "every entry must be <= 2**63 - 1, the largest index NumPy and torch hold")
    return int(items[0]), int(items[1])


def _check_index_range(x_shape, kernel, pads, dilation, padding) -> None:
    """Every padded input extent and dilated kernel span must be an index NumPy and torch can hold."""
    for axis, name in ((0, "height"), (1, "width")):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        if span > INDEX_LIMIT:
            fail("dilation", dilation, f"the dilated kernel {name} {span} exceeds 2**63 - 1")
        padded = x_shape[2 + axis] + pads[2 * axis] + pads[2 * axis + 1]
        if padded > INDEX_LIMIT:
            fail("padding", padding, f"the padded input {name} {padded} exceeds 2**63 - 1")


def checked_array(name: str, value, ndim: int) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        fail(name, value, "expected a numpy.ndarray")
    if value.ndim != ndim:
        fail(name, value, f"expected {ndim} dimensions, got {value.ndim}")
    if value.dtype not in SUPPORTED_DTYPES:
        fail(name, value, "dtype must be float32 or float64")
    return value


def _padding(value, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]):
    """Normalize padding to (top, bottom, left, right)."""
    if isinstance(value, str):
        if value == "valid":
            return (0, 0, 0, 0)
        if value != "same":
            fail("padding", value, "expected an int, a pair of ints, 'same' or 'valid'")
        if stride != (1, 1):
            fail("padding", value, f"'same' requires stride 1, got stride={stride}")
        pads = []
        for k, d in zip(kernel, dilation, strict=True):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)
    ph, pw = int_pair("padding", value, 0)
    return (ph, ph, pw, pw)


@dataclass(frozen=True)
class Conv2dProblem:
    """A validated conv2d call: arrays as given (any layout) and normalized geometry."""

    x: np.ndarray
    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]  # top, bottom, left, right
    dilation: tuple[int, int]
    groups: int

    def tap_gathered(self) -> Conv2dProblem:
        """An equivalent problem whose input holds only what the windows read, so that work and memory follow the
        output, not the stride, the padding or the dilation.

        Along an axis whose padded extent is longer than its (window, tap) pairs, the input is replaced by the rows
        those pairs read, window after window (zeros where a tap reads padding), with stride = kernel size, dilation 1
        and no padding: the windows are then consecutive and undilated, and there are as many as before. The other
        axes keep their input and padding, and a stride longer than their padded extent becomes that extent (one
        window either way). So every number of the result is at most the output's (window, tap) pairs.
        """
        x, stride, dilation, padding = self.x, list(self.stride), list(self.dilation), list(self.padding)
        for axis in (0, 1):
            kernel = self.weight.shape[2 + axis]
            before, after = padding[2 * axis : 2 * axis + 2]
            rows = tap_rows(x.shape[2 + axis], kernel, stride[axis], dilation[axis], before, after)
            if rows is None:
                stride[axis] = min(stride[axis], before + x.shape[2 + axis] + after)
                continue
            x = np.take(x, np.maximum(rows, 0), axis=2 + axis)
            x[(slice(None),) * (2 + axis) + (rows < 0,)] = 0
            stride[axis], dilation[axis], padding[2 * axis : 2 * axis + 2] = kernel, 1, (0, 0)
        if x is self.x and tuple(stride) == self.stride:
            return self
        return replace(self, x=x, stride=tuple(stride), dilation=tuple(dilation), padding=tuple(padding))

    def with_numbers_up_to(self, limit: int) -> Conv2dProblem:
        """This problem, or its :meth:`tap_gathered` equivalent when a stride, a padded extent or a dilated kernel
        span is past ``limit`` (for libraries whose shape arithmetic is exact only up to some size)."""
        kernel = self.weight.shape[2:]
        top, bottom, left, right = self.padding
        extents = (self.x.shape[2] + top + bottom, self.x.shape[3] + left + right)
        spans = [d * (k - 1) + 1 for d, k in zip(self.dilation, kernel, strict=True)]
        return self.tap_gathered() if max(*self.stride, *extents, *spans) > limit else self

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        """(N, C_out, H_out, W_out) by the contract's formula."""
        top, bottom, left, right = self.padding
        n, _, h, w = self.x.shape
        c_out, _, kh, kw = self.weight.shape
        return (
            n,
            c_out,
            output_size(h, kh, self.stride[0], top + bottom, self.dilation[0]),
            output_size(w, kw, self.stride[1], left + right, self.dilation[1]),
        )

    def padded_input(self) -> np.ndarray:
        """The input with its zero border, as one array (a copy only when there is padding)."""
        top, bottom, left, right = self.padding
        if not any(self.padding):
            return self.x
        return np.pad(self.x, ((0, 0), (0, 0), (top, bottom), (left, right)))


def check_sizes_and_groups(x: np.ndarray, weight: np.ndarray, groups) -> None:
    """Every dimension of ``x`` and ``weight`` is at least 1 and ``groups`` is an int >= 1, or ConvArgumentError."""
    if 0 in x.shape:
        fail("x", x, "every dimension must be >= 1")
    if 0 in weight.shape:
        fail("weight", weight, "every dimension must be >= 1")
    if not is_int(groups) or groups < 1:
        fail("groups", groups, "expected an int >= 1")


def normalize(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Conv2dProblem:
    """Validate the contract's arguments and return the normalized problem, or raise ConvArgumentError."""
    x = checked_array("x", x, 4)
    weight = checked_array("weight", weight, 4)
    if weight.dtype != x.dtype:
        fail("weight", weight, f"dtype must match x ({x.dtype})")
    if bias is not None:
        bias = checked_array("bias", bias, 1)
        if bias.dtype != x.dtype:
            fail("bias", bias, f"dtype must match x ({x.dtype})")
    check_sizes_and_groups(x, weight, groups)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups:
        fail("groups", groups, f"must divide the input channels C_in={c_in}")
    if c_out % groups:
        fail("groups", groups, f"must divide the output channels C_out={c_out}")
    if weight.shape[1] * groups != c_in:
        fail("weight", weight, f"expected shape[1] == C_in / groups = {c_in // groups}")
    if bias is not None and bias.shape != (c_out,):
        fail("bias", bias, f"expected shape ({c_out},)")
    stride = int_pair("stride", stride, 1)
    dilation = int_pair("dilation", dilation, 1)
    kernel = weight.shape[2:]
    pads = _padding(padding, kernel, stride, dilation)
    _check_index_range(x.shape, kernel, pads, dilation, padding)
    problem = Conv2dProblem(x, weight, bias, stride, pads, dilation, int(groups))
    for axis, extent in (("height", 2), ("width", 3)):
        if problem.output_shape[extent] < 1:
            fail(
                "weight",
                weight,
                f"dilated kernel {axis} {dilation[extent - 2] * (kernel[extent - 2] - 1) + 1} exceeds the padded "
                f"input {axis} {x.shape[extent] + pads[2 * (extent - 2)] + pads[2 * (extent - 2) + 1]}",
            )
    return problem

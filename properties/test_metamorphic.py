"""Metamorphic laws: relations between calls of the same implementation, with no oracle involved.

All laws run on small-integer data, where an exact-summation implementation must satisfy them bitwise; a normwise
one must satisfy them within the sum of its bounds on the calls involved.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.oracle import explicit_padding, reference_conv2d
from convcheck.properties.reproductions import reproducible
from convcheck.properties.strategies import exact_cases
from convcheck.properties.support import allowed_difference, call_or_skip, examples, require, supports_value
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.family("metamorphic")

LAW_EXAMPLES = 0.5


class Side(NamedTuple):
    out: np.ndarray
    tolerance: object  # 0.0 or an elementwise bound


def evaluate(impl, x, weight, bias=None, **geometry) -> Side:
    """One call of ``impl`` with how far it may be from exact."""
    __tracebackhide__ = True
    out = call_or_skip(impl, x, weight, bias, **geometry)
    return Side(out, allowed_difference([impl], x, weight, bias, **geometry))


def part(side: Side, index) -> Side:
    """The same outputs (and their tolerances) indexed."""
    return Side(side.out[index], side.tolerance[index] if np.ndim(side.tolerance) else side.tolerance)


def assert_law(law: str, lhs: Side, rhs: Side, impl, case, relation: str) -> None:
    __tracebackhide__ = True
    assert_close(lhs.out, rhs.out, lhs.tolerance + rhs.tolerance, f"law '{law}'", impl, case, relation)


def cases(impl, data, **constraints):
    return data.draw(exact_cases(impl.capabilities, **constraints), label="case")


@reproducible
def check_linear_in_the_input(impl, case, a: int, b: int) -> None:
    __tracebackhide__ = True
    (x1, weight, _), (x2, _, _) = case.arrays(), case.reseeded().arrays()
    first, second = evaluate(impl, x1, weight, **case.geometry()), evaluate(impl, x2, weight, **case.geometry())
    combined = evaluate(impl, a * x1 + b * x2, weight, **case.geometry())
    mixed = Side(a * first.out + b * second.out, abs(a) * first.tolerance + abs(b) * second.tolerance)
    assert_law("linearity in x", combined, mixed, impl, case, f"a*f(x1) + b*f(x2), a={a}, b={b}, x2 from seed+1")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_linear_in_the_input(impl, data):
    """f(a*x1 + b*x2) == a*f(x1) + b*f(x2)."""
    __tracebackhide__ = True
    case = cases(impl, data, bias=False)
    a, b = data.draw(st.integers(-3, 3), label="a"), data.draw(st.integers(-3, 3), label="b")
    check_linear_in_the_input(impl, case=case, a=a, b=b)


@reproducible
def check_linear_in_the_weight(impl, case, a: int, b: int) -> None:
    __tracebackhide__ = True
    (x, w1, _), (_, w2, _) = case.arrays(), case.reseeded().arrays()
    first, second = evaluate(impl, x, w1, **case.geometry()), evaluate(impl, x, w2, **case.geometry())
    combined = evaluate(impl, x, a * w1 + b * w2, **case.geometry())
    mixed = Side(a * first.out + b * second.out, abs(a) * first.tolerance + abs(b) * second.tolerance)
    assert_law("linearity in w", combined, mixed, impl, case, f"a*f(x; w1) + b*f(x; w2), a={a}, b={b}")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_linear_in_the_weight(impl, data):
    """f(x; a*w1 + b*w2) == a*f(x; w1) + b*f(x; w2)."""
    __tracebackhide__ = True
    case = cases(impl, data, bias=False)
    a, b = data.draw(st.integers(-3, 3), label="a"), data.draw(st.integers(-3, 3), label="b")
    check_linear_in_the_weight(impl, case=case, a=a, b=b)


@reproducible
def check_bias_adds_a_constant(impl, case) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    with_bias = evaluate(impl, x, weight, bias, **case.geometry())
    without = evaluate(impl, x, weight, None, **case.geometry())
    shifted = Side(without.out + bias[:, None, None], without.tolerance)
    assert_law("bias adds a constant", with_bias, shifted, impl, case, "f(x, w, bias=None) + bias[:, None, None]")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_bias_adds_a_per_channel_constant(impl, data):
    """f(x; w, b) == f(x; w) + b[c_out]."""
    __tracebackhide__ = True
    require(impl, impl.capabilities.bias, "no bias")
    check_bias_adds_a_constant(impl, case=cases(impl, data, bias=True))


@reproducible
def check_stride_is_subsampling(impl, case) -> None:
    __tracebackhide__ = True
    strided = evaluate(impl, *case.arrays(), **case.geometry())
    dense = evaluate(impl, *case.arrays(), **{**case.geometry(), "stride": 1})
    sh, sw = case.stride
    subsampled = part(dense, (..., slice(None, None, sh), slice(None, None, sw)))
    assert_law("stride is subsampling", strided, subsampled, impl, case, f"f(x, stride=1)[..., ::{sh}, ::{sw}]")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_stride_subsamples_the_stride_one_output(impl, data):
    """f(x; stride=(sh, sw)) == f(x; stride=1)[..., ::sh, ::sw]."""
    __tracebackhide__ = True
    require(impl, supports_value(impl.capabilities.strides, lambda s: s > 1), "stride 1 only")
    check_stride_is_subsampling(impl, case=cases(impl, data, padding_modes=("pair", "valid")))


@reproducible
def check_dilation_is_a_zero_inserted_kernel(impl, case) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    dh, dw = case.dilation
    inserted = np.zeros(weight.shape[:2] + (dh * (case.kh - 1) + 1, dw * (case.kw - 1) + 1), dtype=weight.dtype)
    inserted[:, :, ::dh, ::dw] = weight
    dilated = evaluate(impl, x, weight, bias, **case.geometry())
    plain = evaluate(impl, x, inserted, bias, **{**case.geometry(), "dilation": 1})
    assert_law("dilation is a zero-inserted kernel", dilated, plain, impl, case, "f(x, zero-inserted w, dilation=1)")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_dilation_equals_a_zero_inserted_kernel(impl, data):
    """f(x; w, dilation=d) == f(x; w with d-1 zeros between taps, dilation=1)."""
    __tracebackhide__ = True
    require(impl, supports_value(impl.capabilities.dilations, lambda d: d > 1), "dilation 1 only")
    require(impl, impl.capabilities.kernel_sizes is None, "only some kernel sizes")
    check_dilation_is_a_zero_inserted_kernel(impl, case=cases(impl, data))


@reproducible
def check_padding_is_explicit_zero_padding(impl, case) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    top, bottom, left, right = explicit_padding(case.padding, (case.kh, case.kw), case.dilation)
    padded_x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    implicit = evaluate(impl, x, weight, bias, **case.geometry())
    explicit = evaluate(impl, padded_x, weight, bias, **{**case.geometry(), "padding": 0})
    relation = f"f(np.pad(x, ((0, 0), (0, 0), ({top}, {bottom}), ({left}, {right}))), padding=0)"
    assert_law("padding is explicit zero padding", implicit, explicit, impl, case, relation)


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_padding_equals_explicit_zero_padding(impl, data):
    """f(x; padding=p) == f(np.pad(x, p); padding=0), for pairs, 'same' (extra zero bottom/right) and 'valid'."""
    __tracebackhide__ = True
    check_padding_is_explicit_zero_padding(impl, case=cases(impl, data))


@reproducible
def check_batch_independence(impl, case, item: int) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    whole = evaluate(impl, x, weight, bias, **case.geometry())
    reversed_batch = evaluate(impl, x[::-1], weight, bias, **case.geometry())
    single = evaluate(impl, x[item : item + 1], weight, bias, **case.geometry())
    assert_law("batch independence", reversed_batch, part(whole, slice(None, None, -1)), impl, case, "f(x)[::-1]")
    assert_law("batch independence", single, part(whole, slice(item, item + 1)), impl, case, f"f(x)[{item}:{item + 1}]")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_batch_items_are_independent(impl, data):
    """f(x)[reversed batch] == f(x[reversed batch]) and f(x)[i] == f(x[i:i+1])[0]."""
    __tracebackhide__ = True
    case = cases(impl, data)
    check_batch_independence(impl, case=case, item=data.draw(st.integers(0, case.n - 1), label="item"))


@reproducible
def check_groups_are_independent(impl, case) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    c_in, c_out = case.c_in // case.groups, case.c_out // case.groups
    grouped = evaluate(impl, x, weight, bias, **case.geometry())
    parts = [
        evaluate(
            impl,
            x[:, k * c_in : (k + 1) * c_in],
            weight[k * c_out : (k + 1) * c_out],
            None if bias is None else bias[k * c_out : (k + 1) * c_out],
            **{**case.geometry(), "groups": 1},
        )
        for k in range(case.groups)
    ]
    joined = Side(np.concatenate([p.out for p in parts], axis=1), _concat_tolerance(parts))
    assert_law("groups are independent convolutions", grouped, joined, impl, case, "concat of per-group f(groups=1)")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_groups_equal_concatenated_per_group_convolutions(impl, data):
    """f(x; groups=g) == concat_k f(x[:, group k]; w[group k outputs]; groups=1) along channels."""
    __tracebackhide__ = True
    require(impl, impl.capabilities.groups, "groups=1 only")
    check_groups_are_independent(impl, case=cases(impl, data, min_groups=2))


def _concat_tolerance(parts):
    if all(np.ndim(p.tolerance) == 0 for p in parts):
        return max(p.tolerance for p in parts)
    return np.concatenate([np.broadcast_to(p.tolerance, p.out.shape) for p in parts], axis=1)


@reproducible
def check_additivity_over_input_channels(impl, case) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    whole = evaluate(impl, x, weight, bias, **case.geometry())
    parts = [evaluate(impl, x[:, c : c + 1], weight[:, c : c + 1], **case.geometry()) for c in range(case.c_in)]
    total = sum(p.out for p in parts) + (0 if bias is None else bias[:, None, None])
    summed = Side(total, sum(p.tolerance for p in parts))
    assert_law("additivity over input channels", whole, summed, impl, case, "sum over c of f(x[:, c:c+1], w[:, c:c+1])")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_input_channels_contribute_additively(impl, data):
    """f(x; w, b) == sum_c f(x[:, c]; w[:, c]) + b, for groups=1."""
    __tracebackhide__ = True
    check_additivity_over_input_channels(impl, case=replace(cases(impl, data), groups=1))


@reproducible
def check_translation_equivariance(impl, case, ty: int, tx: int) -> None:
    __tracebackhide__ = True
    x, weight, bias = case.arrays()
    full = evaluate(impl, x, weight, bias, **case.geometry())
    (sh, sw) = case.stride
    shifted = evaluate(impl, x[..., ty * sh :, tx * sw :], weight, bias, **case.geometry())
    cropped = part(full, (..., slice(ty, None), slice(tx, None)))
    assert_law("translation equivariance", shifted, cropped, impl, case, f"f(x)[..., {ty}:, {tx}:]")


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_translating_the_input_translates_the_output(impl, data):
    """Without padding, dropping ty*sh rows and tx*sw columns of x drops ty rows and tx columns of f(x)."""
    __tracebackhide__ = True
    case = cases(impl, data, padding_modes=("valid", "none"))
    rows, cols = reference_conv2d(*case.arrays(), **case.geometry()).shape[2:]
    ty = data.draw(st.integers(0, rows - 1), label="ty")
    tx = data.draw(st.integers(0, cols - 1), label="tx")
    check_translation_equivariance(impl, case=case, ty=ty, tx=tx)


@reproducible
def check_delta_kernel_copies(impl, case, depthwise: bool, a: int, b: int) -> None:
    __tracebackhide__ = True
    x, _, _ = case.arrays()
    weight = np.zeros((case.c_in, 1 if depthwise else case.c_in, case.kh, case.kw), dtype=x.dtype)
    weight[np.arange(case.c_in), 0 if depthwise else np.arange(case.c_in), a, b] = 1
    out = evaluate(impl, x, weight, **case.geometry())
    top, bottom, left, right = explicit_padding(case.padding, (case.kh, case.kw), case.dilation)
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    (sh, sw), (dh, dw) = case.stride, case.dilation
    rows = len(range(0, padded.shape[2] - dh * (case.kh - 1), sh))
    cols = len(range(0, padded.shape[3] - dw * (case.kw - 1), sw))
    copied = padded[:, :, a * dh :: sh, b * dw :: sw][:, :, :rows, :cols]
    relation = f"np.pad(x)[:, :, {a * dh}::{sh}, {b * dw}::{sw}] (delta at tap ({a}, {b}), depthwise={depthwise})"
    assert_law("a delta kernel copies its input", out, Side(copied, 0.0), impl, case, relation)


@examples(LAW_EXAMPLES)
@given(data=st.data())
def test_a_delta_kernel_reproduces_its_input(impl, data):
    """A kernel that is 1 at tap (a, b) and 0 elsewhere copies the padded input, offset by the tap and strided."""
    __tracebackhide__ = True
    case = cases(impl, data, bias=False)
    depthwise = bool(impl.capabilities.groups and data.draw(st.booleans(), label="depthwise"))
    case = replace(case, c_out=case.c_in, groups=case.c_in if depthwise else 1)
    a, b = data.draw(st.integers(0, case.kh - 1), label="a"), data.draw(st.integers(0, case.kw - 1), label="b")
    check_delta_kernel_copies(impl, case=case, depthwise=depthwise, a=a, b=b)

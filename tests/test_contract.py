"""The contract module: normalization, validation messages, the output-size formula, the registry's mechanics."""

import numpy as np
import pytest
from convcheck.impls import Capabilities, ConvArgumentError, Entry, normalize, output_size
from convcheck.impls.registry import load_spec
from convcheck.properties.invalid_calls import INVALID_CLASSES, invalid_calls
from hypothesis import given, settings
from hypothesis import strategies as st

from convcheck import impls

X = np.zeros((2, 4, 6, 5), dtype=np.float32)
W = np.zeros((6, 2, 3, 2), dtype=np.float32)


def test_registry_holds_the_required_implementations():
    assert {"loop", "im2col", "scipy", "torch"} <= set(impls.REGISTRY)


@pytest.mark.parametrize(
    ("arguments", "stride", "padding", "dilation"),
    [
        ({}, (1, 1), (0, 0, 0, 0), (1, 1)),
        ({"stride": (2, 3), "padding": (1, 0)}, (2, 3), (1, 1, 0, 0), (1, 1)),
        ({"stride": np.int64(2), "dilation": [2, 1]}, (2, 2), (0, 0, 0, 0), (2, 1)),
        ({"padding": "valid"}, (1, 1), (0, 0, 0, 0), (1, 1)),
        ({"padding": "same"}, (1, 1), (1, 1, 0, 1), (1, 1)),  # kernel 3x2: odd total pad goes right
        ({"padding": "same", "dilation": (2, 3)}, (1, 1), (2, 2, 1, 2), (2, 3)),
    ],
)
def test_normalize_gives_pairs_and_explicit_padding(arguments, stride, padding, dilation):
    problem = normalize(X, W, None, groups=2, **arguments)
    assert (problem.stride, problem.padding, problem.dilation) == (stride, padding, dilation)


def test_output_size_is_the_seed_formula():
    assert output_size(6, 3, 2, 2, 1) == 3  # the seed's size lab
    assert output_size(8, 3, 1, 2, 1) == 8  # the conv2d checklist lab
    assert output_size(7, 3, 1, 0, 2) == 3  # dilation 2: the window spans 5


@pytest.mark.parametrize("kind", INVALID_CLASSES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_every_invalid_class_raises_conv_argument_error_naming_the_argument(kind, data):
    call = data.draw(invalid_calls(kind))
    with pytest.raises(ConvArgumentError) as raised:
        normalize(*call.arrays(), **call.geometry())
    message = str(raised.value)
    assert message.split("=", 1)[0] == call.argument, message
    assert ": " in message, message  # "<argument>=<value>: <why>"


def test_empty_arrays_are_refused():
    with pytest.raises(ConvArgumentError, match="x="):
        normalize(X[:, :, :0], W, None, padding=2, groups=2)


def test_bool_is_not_an_integer_argument():
    with pytest.raises(ConvArgumentError, match="stride=True"):
        normalize(X, W, None, stride=True, groups=2)


def test_nan_and_infinity_are_not_argument_errors():
    x = X.copy()
    x[0, 0, 0, 0], x[1, 1, 1, 1] = np.nan, np.inf
    normalize(x, W, None, groups=2)


def test_an_outside_callable_declares_capabilities_by_attributes():
    def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        raise NotImplementedError

    conv2d.error_model = "normwise"
    conv2d.capabilities = {"strides": (1,), "kernel_sizes": ((3, 3),)}
    conv2d.max_gflop = 2.0
    entry = Entry.from_callable("outside", conv2d)
    assert entry.error_model == "normwise"
    assert entry.max_gflop == 2.0
    outside = {"memory_follows_output": False}  # an outside callable promises it only when it declares it
    assert entry.capabilities == Capabilities(strides=(1,), kernel_sizes=((3, 3),), **outside)
    assert not entry.supports(normalize(X, W, None, groups=2))  # kernel 3x2 is outside
    assert Entry.from_callable("plain", lambda *a, **k: None).capabilities == Capabilities(**outside)


def test_load_spec_names_a_callable_and_rejects_a_malformed_spec():
    entry = load_spec("again=convcheck.impls.loop:sliding_window")
    assert entry.name == "again"
    assert entry.function is impls.REGISTRY["loop"].function
    for spec in ("noequals", "name=module_without_attribute", "=convcheck.impls.loop:sliding_window"):
        with pytest.raises(ValueError, match="NAME=MODULE:ATTR"):
            load_spec(spec)


def test_an_unknown_error_model_is_refused():
    with pytest.raises(ValueError, match="error_model"):
        Entry("bad", print, error_model="roughly")


def test_a_configuration_outside_the_capabilities_is_refused_after_validation():
    winograd_like = impls.implementation("w", capabilities=Capabilities(kernel_sizes=((3, 3),)))(lambda p: None)
    with pytest.raises(impls.UnsupportedConfiguration, match="kernel"):
        winograd_like(X, W, groups=2)
    with pytest.raises(ConvArgumentError):  # validation comes first
        winograd_like(X, W, groups=3)


def test_argument_forms_are_declared_and_checked():
    """One-int strides, dilations and padding, symmetric padding, padding strings, bias and odd kernels: each
    declaration names what it refuses, on the normalized problem and on the arguments as spelled."""
    x, weight, bias = np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 3, 2)), np.zeros(3)
    cases = [
        ({"square_strides": True}, {"stride": (1, 2)}, "stride"),
        ({"square_dilations": True}, {"dilation": (2, 1)}, "dilation"),
        ({"symmetric_padding": True}, {"padding": "same"}, "padding"),  # kW = 2: one zero on the right only
        ({"int_padding": True}, {"padding": (1, 0)}, "padding"),
        ({"padding_strings": ("valid",)}, {"padding": "same"}, "'same'"),
        ({"bias": False}, {}, "bias"),
        ({"odd_kernels": True}, {}, "kernel"),
    ]
    for declared, arguments, refused in cases:
        capabilities = Capabilities.from_dict(declared)
        problem = normalize(x, weight, bias, **arguments)
        assert refused in (capabilities.why_unsupported(problem, arguments) or ""), (declared, arguments)
        assert Capabilities().why_unsupported(problem, arguments) is None
    square = Capabilities(square_strides=True, int_padding=True, padding_strings=())
    plain = normalize(x, np.zeros((3, 2, 3, 3)), None, stride=2, padding=1)
    assert square.why_unsupported(plain, {"stride": 2, "padding": 1}) is None
    assert square.why_unsupported(plain, {"stride": (2, 2), "padding": (1, 1)}) is None  # spelled as one int


def test_an_entry_is_called_in_the_argument_forms_it_declares():
    """An equal pair reaches a one-int entry as one int, 'valid' as 0; parameters it may leave out are left out."""
    seen = []

    def course(x, weight, bias=None, stride=1, padding=0):
        seen.append((stride, padding))
        return np.zeros(1)

    course.capabilities = {"square_strides": True, "square_dilations": True, "int_padding": True,
                           "dilations": [1], "groups": False}  # fmt: skip
    entry = Entry.from_callable("course", course)
    assert entry.omitted == {"dilation", "groups"}
    entry(X, W, None, stride=(2, 2), padding="valid", dilation=(1, 1))
    entry(X, W, None, stride=(1, 2), padding=(1, 1))
    assert seen == [(2, 0), ((1, 2), 1)]  # an unequal pair is not the entry's form: its declaration refuses it
    with pytest.raises(impls.UnsupportedConfiguration, match="groups"):
        entry(X, W, None, groups=2)


@pytest.mark.parametrize(
    ("signature", "named"),
    [
        ("x, w", "'bias'"),
        ("x, weight, bias=None, *, stride=1", "'padding'"),
        ("x, weight, bias, s, p, d, g, extra", "extra"),
    ],
)
def test_a_callable_that_cannot_take_the_contract_call_is_refused_in_one_line(signature, named):
    namespace = {}
    exec(f"def conv2d({signature}): pass", namespace)
    with pytest.raises(impls.registry.SignatureError, match=named) as raised:
        Entry.from_callable("mine", namespace["conv2d"])
    assert "\n" not in str(raised.value)
    assert "conv2d(x, weight, bias=None" in str(raised.value)  # the contract's call, for comparison


def test_an_outside_callable_declares_argument_forms_and_an_unknown_one_is_refused():
    def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        raise NotImplementedError

    conv2d.capabilities = {"square_strides": True, "padding_strings": [], "kernel_sizes": [[3, 3]]}
    entry = Entry.from_callable("course", conv2d)
    declared = {"square_strides": True, "padding_strings": (), "kernel_sizes": ((3, 3),)}
    assert entry.capabilities == Capabilities(**declared, memory_follows_output=False)
    conv2d.capabilities = {"square_stride": True}
    with pytest.raises(ValueError, match="square_stride"):
        Entry.from_callable("typo", conv2d)

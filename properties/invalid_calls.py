"""The invalid-call catalogue: every class of contract violation, as data, and calls that print and replay.

An :class:`InvalidClass` names one way to break the contract: how it changes a valid call's arrays and keywords, the
invalid values it draws from, the argument a ``ValueError`` must name, and what an entry must declare to be asked it
(a groups-free entry is not asked about groups; an entry that takes one int for the stride is never handed a pair).
An :class:`InvalidCall` is one such call made from a small valid :class:`ConvCase`: the class's name, the case and
the drawn value, so that it prints as code and replays itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from convcheck.impls import Capabilities
from convcheck.properties.cases import ConvCase
from convcheck.properties.strategies import built_once, conv_cases
from hypothesis import strategies as st


def _unchanged(x, weight, bias, value):
    return x, weight, bias


def _always(capabilities: Capabilities) -> bool:
    return True


def takes_groups(capabilities: Capabilities) -> bool:
    return capabilities.groups


def _takes_dilation(capabilities: Capabilities) -> bool:
    return capabilities.dilations is None or any(d > 1 for d in capabilities.dilations)


def _takes_same(capabilities: Capabilities) -> bool:
    return "same" in capabilities.padding_strings and not capabilities.int_padding


def _other_float(dtype) -> type:
    return np.float64 if dtype == np.float32 else np.float32


@dataclass(frozen=True)
class InvalidClass:
    """One class of invalid call: what changes, and the argument whose ``ValueError`` message must name it."""

    name: str
    argument: str  # the argument the error names
    shown: str = ""  # how the arrays change, as a person reads it
    arrays: Callable = _unchanged  # (x, weight, bias, value) -> the invalid call's arrays
    keywords: Mapping = field(default_factory=dict)  # keyword arguments the class fixes (a value or f(case))
    keyword: str | None = None  # the keyword that takes the drawn value (None: the value picks an array change)
    values: tuple = (None,)  # the invalid values drawn from
    needs: Callable[[Capabilities], bool] = _always  # whether an entry's declaration lets it be asked

    def values_for(self, capabilities: Capabilities) -> tuple:
        """The values spelled in forms ``capabilities`` declare: no pair and no string where one int is declared."""
        one_int = {
            "stride": capabilities.square_strides,
            "dilation": capabilities.square_dilations,
            "padding": capabilities.int_padding,
        }.get(self.keyword, False)
        return tuple(v for v in self.values if not (one_int and isinstance(v, (tuple, str))))

    def asked_of(self, capabilities: Capabilities) -> bool:
        return self.needs(capabilities) and bool(self.values_for(capabilities))


CATALOGUE = (
    InvalidClass("x with 3 dimensions", "x", "x=x[0]", lambda x, w, b, v: (x[0], w, b)),
    InvalidClass("weight with 5 dimensions", "weight", "weight=weight[None]", lambda x, w, b, v: (x, w[None], b)),
    InvalidClass(
        "channel mismatch", "weight", "weight with twice the input channels",
        lambda x, w, b, v: (x, np.concatenate([w, w], axis=1), b),
    ),
    InvalidClass(
        "groups not dividing C_in", "groups", "3 input channels, 2 output channels",
        lambda x, w, b, v: (x[:, :1].repeat(3, axis=1), w[:2, :1], None if b is None else b[:2]),
        keywords={"groups": 2}, needs=takes_groups,
    ),
    InvalidClass(
        "groups not dividing C_out", "groups", "2 input channels, 3 output channels, no bias",
        lambda x, w, b, v: (x[:, :1].repeat(2, axis=1), w[:1, :1].repeat(3, axis=0), None),
        keywords={"groups": 2}, needs=takes_groups,
    ),
    InvalidClass("groups < 1", "groups", keyword="groups", values=(0, -1), needs=takes_groups),
    InvalidClass("stride < 1", "stride", keyword="stride", values=(0, -1, (1, 0), (0, 2))),
    InvalidClass("stride not an integer", "stride", keyword="stride", values=(1.5, (1, 0.5), "1", (1, 1, 1))),
    InvalidClass("dilation < 1", "dilation", keyword="dilation", values=(0, -2, (1, 0)), needs=_takes_dilation),
    InvalidClass("negative padding", "padding", keyword="padding", values=(-1, (0, -1), (-2, 1))),
    InvalidClass("unknown padding", "padding", keyword="padding", values=("full", "SAME", "causal", 1.5)),
    InvalidClass(
        "'same' with stride > 1", "padding", keywords={"padding": "same"}, keyword="stride",
        values=(2, (1, 2), (3, 1)), needs=_takes_same,
    ),
    InvalidClass(
        "kernel larger than the padded input", "weight", "a kernel one row taller than x",
        lambda x, w, b, v: (x, np.zeros((*w.shape[:2], x.shape[2] + 1, 1), w.dtype), b),
        keywords={"padding": 0, "dilation": 1},
    ),
    InvalidClass(
        "dilated kernel larger than the padded input", "weight", "a 2x1 kernel dilated by x's height",
        lambda x, w, b, v: (x, np.ones((*w.shape[:2], 2, 1), w.dtype), b),
        keywords={"padding": 0, "dilation": lambda case: case.h}, needs=_takes_dilation,
    ),
    InvalidClass(
        "bias of the wrong shape", "bias", "bias of shape {value}",
        lambda x, w, b, v: (x, w, np.zeros((len(w) + 1,) if v == "(C_out + 1,)" else (len(w), 1), x.dtype)),
        values=("(C_out + 1,)", "(C_out, 1)"), needs=lambda capabilities: capabilities.bias,
    ),
    InvalidClass(
        "mixed dtypes", "weight", "weight in the other float dtype",
        lambda x, w, b, v: (x, w.astype(_other_float(w.dtype)), b),
    ),
    InvalidClass(
        "integer arrays", "x", "x and weight as int64, no bias",
        lambda x, w, b, v: (x.astype(np.int64), w.astype(np.int64), None),
    ),
    InvalidClass(
        "complex arrays", "x", "x and weight as complex128, no bias",
        lambda x, w, b, v: (x.astype(np.complex128), w.astype(np.complex128), None),
    ),
    InvalidClass("a Python list", "x", "x as a nested list", lambda x, w, b, v: (x.tolist(), w, b)),
)  # fmt: skip
BY_NAME = {invalid.name: invalid for invalid in CATALOGUE}
INVALID_CLASSES = tuple(BY_NAME)


@dataclass(frozen=True)
class InvalidCall:
    """A call that breaks the contract in one named way: the class, the valid case it is made from and the drawn
    value. It prints as code and replays itself."""

    kind: str  # a name of CATALOGUE
    case: ConvCase
    value: object = None

    @property
    def invalid(self) -> InvalidClass:
        return BY_NAME[self.kind]

    @property
    def argument(self) -> str:
        return self.invalid.argument

    def arrays(self) -> tuple:
        """Fresh (x, weight, bias) of the invalid call."""
        return self.invalid.arrays(*self.case.arrays(), self.value)

    def geometry(self) -> dict:
        """The keyword arguments of the invalid call."""
        return {**self.case.geometry(), **self.changed_keywords()}

    def changed_keywords(self) -> dict:
        keywords = {key: value(self.case) if callable(value) else value for key, value in self.invalid.keywords.items()}
        if self.invalid.keyword is not None:
            keywords[self.invalid.keyword] = self.value
        return keywords

    def changes(self) -> list[str]:
        """What differs from the valid call, in words and as ``name=value``."""
        shown = [self.invalid.shown.format(value=self.value)] if self.invalid.shown else []
        return shown + [f"{name}={value!r}" for name, value in self.changed_keywords().items()]

    def descriptor(self) -> str:
        """One line: the class and what is invalid, e.g. ``stride < 1: stride=0 (from n1 ic1 ...)``."""
        return f"{self.kind}: {', '.join(self.changes())} (from {self.case.descriptor()})"

    def code(self) -> str:
        """A Python expression that rebuilds this call."""
        value = f", value={self.value!r}" if self.value is not None else ""
        return f"InvalidCall({self.kind!r}, {self.case.code()}{value})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.descriptor())


def small_cases(capabilities: Capabilities = Capabilities()) -> st.SearchStrategy[ConvCase]:
    """The small valid cases invalid calls are made from, inside ``capabilities`` (dtypes, kernel sizes, bias, the
    argument forms): integer padding pairs, one group, stride and dilation 1 (the invalid value alone is unusual)."""
    spelled_once = capabilities.square_strides or capabilities.square_dilations or capabilities.int_padding

    def plain(case: ConvCase) -> ConvCase:
        return replace(
            case, groups=1, c_in=max(case.c_in // case.groups, 1), stride=(1, 1), dilation=(1, 1), ints=spelled_once,
            data=None,
        )  # fmt: skip

    return conv_cases(capabilities, values=("int",), layouts=False, padding_modes=("pair",)).map(plain)


@built_once
@st.composite
def invalid_calls(draw, kind: str, capabilities: Capabilities = Capabilities()) -> InvalidCall:
    """A call that breaks the contract in exactly the named way, made from a small valid case, spelled in the argument
    forms ``capabilities`` declare."""
    invalid = BY_NAME[kind]
    case = draw(small_cases(capabilities))
    return InvalidCall(kind, case, draw(st.sampled_from(invalid.values_for(capabilities))))

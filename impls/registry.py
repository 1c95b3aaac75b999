"""The registry: what each implementation is, what it declares, and how implementations are found.

An entry is a name, a callable with the contract's signature, and its declarations: capabilities (the part of the
contract it covers), an error model, and a cost hint. Entries come from modules of this package (any module-level
:class:`Entry`), from installed packages (entry-point group ``convcheck.impls``), or from ``NAME=MODULE:ATTR`` specs.
"""

from __future__ import annotations

import enum
import importlib
import importlib.metadata
import os
import pkgutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace

from convcheck.impls.contract import Conv2dProblem, ConvArgumentError, normalize
from convcheck.impls.signature import CONV2D, SignatureError, implemented_call, omitted_parameters, where


class ErrorModel(str, enum.Enum):
    """How far a correct result may be from the exact one (``properties/errors.py`` computes the bounds)."""

    EXACT_SUMMATION = "exact-summation"  # each output a plain sum of its products: elementwise bound, exact on integers
    NORMWISE = "normwise"  # transforms (FFT, Winograd) spread rounding over a plane: a bound relative to its norms

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__

    @property
    def exact_on_integers(self) -> bool:
        """Whether small-integer data must give the exact result, bitwise."""
        return self is ErrorModel.EXACT_SUMMATION


ERROR_MODELS = tuple(model.value for model in ErrorModel)
ENTRY_POINT_GROUP = "convcheck.impls"
_NOT_IMPLEMENTATIONS = {"backward", "contract", "registry", "signature", "template"}


DEFAULT_FORMS = {"stride": 1, "padding": 0, "dilation": 1}  # the contract's defaults, as a call leaves them out
DEFAULTS = {"bias": None, **DEFAULT_FORMS, "groups": 1}


class UnsupportedConfiguration(NotImplementedError):
    """A valid call outside what an implementation declares it supports."""


class SpecError(ValueError):
    """A ``NAME=MODULE:ATTR`` spec that does not name a callable; the message says what is wrong."""


@dataclass(frozen=True)
class Capabilities:
    """The part of the contract an implementation covers; None (or the default) means every valid value.

    Besides value ranges, a partial implementation can declare the argument forms it takes: one stride (one dilation)
    for both axes, given as one int; the same zero border on opposite sides; one padding int for all four sides; which
    of the padding strings it accepts; no bias; odd kernel sizes only.
    """

    dtypes: tuple[str, ...] = ("float32", "float64")
    strides: tuple[int, ...] | None = None
    dilations: tuple[int, ...] | None = None
    kernel_sizes: tuple[tuple[int, int], ...] | None = None
    groups: bool = True
    square_strides: bool = False  # stride is one int, the same for both axes
    square_dilations: bool = False  # dilation is one int, the same for both axes
    symmetric_padding: bool = False  # top == bottom and left == right ('same' only where that holds)
    int_padding: bool = False  # padding is one int for all four sides (no pair, no string)
    padding_strings: tuple[str, ...] = ("same", "valid")  # the padding strings it accepts
    bias: bool = True
    odd_kernels: bool = False  # kH and kW odd
    # Work and memory follow the output, whatever the stride, padding and dilation (the extreme-argument family's
    # memory law and its paddings of 2**61). None: True for entries of this package, False for outside callables.
    memory_follows_output: bool | None = None

    def why_unsupported(self, problem: Conv2dProblem, arguments: Mapping | None = None) -> str | None:
        """The reason a problem is outside these capabilities, or None when it is covered. ``arguments`` (the call's
        ``stride``, ``padding`` and ``dilation`` as given) are checked for the declared forms too."""
        kernel = tuple(problem.weight.shape[2:])
        top, bottom, left, right = problem.padding
        checks = [
            (str(problem.x.dtype) in self.dtypes, f"dtype {problem.x.dtype}"),
            (self.strides is None or set(problem.stride) <= set(self.strides), f"stride {problem.stride}"),
            (self.dilations is None or set(problem.dilation) <= set(self.dilations), f"dilation {problem.dilation}"),
            (self.kernel_sizes is None or kernel in self.kernel_sizes, f"kernel {kernel}"),
            (self.groups or problem.groups == 1, f"groups {problem.groups}"),
            (not self.square_strides or problem.stride[0] == problem.stride[1], f"stride {problem.stride}"),
            (not self.square_dilations or problem.dilation[0] == problem.dilation[1], f"dilation {problem.dilation}"),
            (not self.symmetric_padding or (top, left) == (bottom, right), f"padding {problem.padding}"),
            (not self.int_padding or len(set(problem.padding)) == 1, f"padding {problem.padding}"),
            (self.bias or problem.bias is None, "bias"),
            (not self.odd_kernels or all(k % 2 for k in kernel), f"kernel {kernel}"),
        ]
        if arguments is not None:
            stride, padding, dilation = self.spelled(
                *(arguments.get(key, value) for key, value in DEFAULT_FORMS.items())
            )
            checks += [
                (not self.square_strides or isinstance(stride, int), f"stride {stride!r} (not one int)"),
                (not self.square_dilations or isinstance(dilation, int), f"dilation {dilation!r} (not one int)"),
                (not self.int_padding or isinstance(padding, int), f"padding {padding!r} (not one int)"),
                (not isinstance(padding, str) or padding in self.padding_strings, f"padding {padding!r}"),
            ]
        return next((f"{what} is not supported" for ok, what in checks if not ok), None)

    def spelled(self, stride, padding, dilation) -> tuple:
        """``stride``, ``padding`` and ``dilation`` in the forms these capabilities declare: an equal pair as one int
        where one int is declared, ``'valid'`` as 0 where one padding int is. The
        contract gives both spellings one meaning; any other value (an unequal pair, an invalid one) is unchanged."""
        if self.square_strides:
            stride = _one_int(stride)
        if self.square_dilations:
            dilation = _one_int(dilation)
        if self.int_padding:
            padding = 0 if padding == "valid" else _one_int(padding)
        return stride, padding, dilation

    @classmethod
    def from_dict(cls, declared: Mapping) -> Capabilities:
        """Capabilities from a dict of field names (an outside callable's ``capabilities`` attribute)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(declared) - known)
        if unknown:
            raise ValueError(f"capabilities: unknown field(s) {unknown}; expected some of {sorted(known)}")

        def as_tuple(value):
            return tuple(as_tuple(item) for item in value) if isinstance(value, list) else value

        return cls(**{key: as_tuple(value) for key, value in declared.items()})


def _one_int(value):
    """An equal pair of ints as that int; anything else as it is."""
    pair = isinstance(value, (tuple, list)) and len(value) == 2 and value[0] == value[1]
    if pair and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value[0]
    return value


@dataclass(frozen=True)
class KnownFailure:
    """A failure an entry declares, not run (reported as xfail): in a property family or a test (by name), for every
    dtype or only ``dtypes`` (the entry's other dtypes are then tested as usual)."""

    where: str  # a property family ("special_values") or a test name
    reason: str
    dtypes: tuple[str, ...] | None = None

    def applies(self, family: str | None, test: str, dtypes) -> bool:
        """Whether it covers a test of ``family`` named ``test`` run with ``dtypes``."""
        return self.where in (family, test) and (self.dtypes is None or set(dtypes) <= set(self.dtypes))


def known_failures(declared) -> tuple[KnownFailure, ...]:
    """Declared failures from :class:`KnownFailure` objects or a mapping of family (or test name) to reason."""
    if isinstance(declared, Mapping):
        return tuple(KnownFailure(where, reason) for where, reason in declared.items())
    return tuple(declared or ())


DECLARED_ATTRIBUTES = {  # what an outside callable may declare with its attributes, besides capabilities: defaults
    "error_model": ErrorModel.EXACT_SUMMATION.value,
    "max_gflop": None,
    "examples": 1.0,
    "call_time_s": None,
    "expected_failures": (),
}


def declared_attributes(function: Callable) -> dict:
    """The :data:`DECLARED_ATTRIBUTES` of an outside callable (absent ones: the defaults), known failures converted
    (:func:`known_failures`)."""
    declared = {name: getattr(function, name, default) for name, default in DECLARED_ATTRIBUTES.items()}
    return dict(declared, expected_failures=known_failures(declared["expected_failures"]))


class Declarations:
    """What every entry's declarations share (conv2d's :class:`Entry` and the backward calls' ``GradientEntry``,
    frozen dataclasses with the fields ``error_model``, ``examples``, ``expected_failures`` and ``capabilities``):
    their checks and the known failures."""

    def __post_init__(self):
        if not 0 < self.examples <= 1:
            raise ValueError(f"examples={self.examples!r}: expected a share of the examples, in (0, 1]")
        if self.error_model not in ERROR_MODELS:
            raise ValueError(f"error_model={self.error_model!r}: expected one of {ERROR_MODELS}")
        object.__setattr__(self, "error_model", ErrorModel(self.error_model))
        object.__setattr__(self, "expected_failures", known_failures(self.expected_failures))

    def known_failure(self, family: str | None, test: str = "") -> KnownFailure | None:
        """The declared failure that covers a test of ``family`` named ``test`` on this entry's dtypes, if any."""
        dtypes = self.capabilities.dtypes
        return next((f for f in self.expected_failures if f.applies(family, test, dtypes)), None)


@dataclass(frozen=True, repr=False)
class Entry(Declarations):
    """One registered conv2d: callable with the contract's signature, plus its declarations."""

    name: str
    function: Callable = field(repr=False)
    error_model: ErrorModel = ErrorModel.EXACT_SUMMATION  # a string of ERROR_MODELS is converted
    capabilities: Capabilities = Capabilities()
    max_gflop: float | None = None  # cost hint: the largest workload (GFLOP) it runs in reasonable time
    # cost hint: the share of each property test's examples drawn for it (below 1 for an entry whose every new shape
    # costs a compilation: the property tests draw a new shape for nearly every example)
    examples: float = 1.0
    # cost hint: how long a correct call may take at most (a compilation), in seconds: its time limit in an isolated
    # test is never lower
    call_time_s: float | None = None
    unavailable: str | None = None  # why it cannot run on this machine, if it cannot
    origin: str = ""
    # Known failures, not run (a mapping of family or test name to reason is converted).
    expected_failures: tuple[KnownFailure, ...] = field(default=(), hash=False)
    # The ValueError subclass its invalid-argument errors must be (entries of this package: ConvArgumentError).
    argument_error: type[ValueError] = ValueError
    library: str | None = None  # the distribution under test, whose version a run reports ("jax", "onnxruntime")
    omitted: frozenset[str] = frozenset()  # contract parameters the function does not take (it declares their default)

    def __repr__(self) -> str:  # short: entries appear in Hypothesis's falsifying examples
        return f"Entry({self.name!r})"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis's printer would list a dataclass's fields
        printer.text(repr(self))

    def __call__(self, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        """Call the function with stride, padding and dilation in the forms it declares
        (:meth:`Capabilities.spelled`), leaving out the parameters it does not take."""
        stride, padding, dilation = self.capabilities.spelled(stride, padding, dilation)
        arguments = {"bias": bias, "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        for name in self.omitted:
            value = arguments.pop(name)
            if value is not None if DEFAULTS[name] is None else value != DEFAULTS[name]:
                raise UnsupportedConfiguration(f"{self.name}: takes no {name}, called with {name}={value!r}")
        positional = [arguments.pop("bias")] if "bias" in arguments else []
        return self.function(x, weight, *positional, **arguments)

    def supports(self, problem: Conv2dProblem, arguments: Mapping | None = None) -> bool:
        return self.capabilities.why_unsupported(problem, arguments) is None

    @classmethod
    def from_callable(cls, name: str, function: Callable, origin: str = "") -> Entry:
        """Wrap an outside callable; optional attributes ``error_model``, ``capabilities`` (a dict of
        :class:`Capabilities` fields), ``max_gflop`` and ``expected_failures`` declare what it covers (default:
        the whole contract, no known failure)."""
        if isinstance(function, Entry):
            return replace(function, name=name, origin=origin or function.origin)
        if not callable(function):
            raise ValueError(f"{name}={function!r}: not callable")
        capabilities = getattr(function, "capabilities", None) or {}
        if isinstance(capabilities, Mapping):
            capabilities = Capabilities.from_dict(capabilities)
        if capabilities.memory_follows_output is None:
            capabilities = replace(capabilities, memory_follows_output=False)
        optional = {
            "bias": not capabilities.bias,
            "dilation": capabilities.dilations == (1,),
            "groups": not capabilities.groups,
        }
        omitted = omitted_parameters(function, frozenset(key for key, free in optional.items() if free))
        return cls(
            name=name,
            function=function,
            capabilities=capabilities,
            origin=origin,
            omitted=omitted,
            **declared_attributes(function),
        )


def implementation(
    name: str,
    *,
    error_model: str = "exact-summation",
    capabilities: Capabilities = Capabilities(),
    max_gflop: float | None = None,
    unavailable: str | None = None,
    expected_failures=(),
    library: str | None = None,
    examples: float = 1.0,
    call_time_s: float | None = None,
):
    """Decorate an algorithm ``f(problem) -> ndarray`` into a registry entry that honors the contract.

    The entry validates and normalizes the arguments, refuses configurations outside its capabilities with
    :class:`UnsupportedConfiguration`, and only then runs the algorithm.
    """

    if capabilities.memory_follows_output is None:
        capabilities = replace(capabilities, memory_follows_output=True)

    def decorate(algorithm: Callable[[Conv2dProblem], object]) -> Entry:
        def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
            problem = normalize(x, weight, bias, stride, padding, dilation, groups)
            arguments = {"stride": stride, "padding": padding, "dilation": dilation}
            reason = capabilities.why_unsupported(problem, arguments)
            if reason:
                raise UnsupportedConfiguration(f"{name}: {reason}")
            return algorithm(problem)

        conv2d.__doc__ = algorithm.__doc__
        conv2d.__qualname__ = conv2d.__name__ = f"{name}_conv2d"
        return Entry(
            name,
            conv2d,
            error_model,
            capabilities,
            max_gflop,
            examples,
            call_time_s,
            unavailable,
            origin=algorithm.__module__,
            expected_failures=known_failures(expected_failures),
            argument_error=ConvArgumentError,
            library=library,
        )

    return decorate


def entry_of_callable(name: str, function: Callable, origin: str = ""):
    """The entry of an outside callable: an :class:`Entry` for a conv2d, a
    :class:`convcheck.impls.backward.GradientEntry` for a conv_transpose2d or a conv2d_backward (which one:
    :func:`convcheck.impls.signature.implemented_call`)."""
    if isinstance(function, Entry) or implemented_call(function) == CONV2D:
        return Entry.from_callable(name, function, origin=origin)
    from convcheck.impls.backward.registry import GradientEntry  # which imports this module

    return GradientEntry.from_callable(name, function, origin=origin)


def load_spec(spec: str, path: str | None = None):
    """The entry of ``NAME=MODULE:ATTR`` (the ``--impl`` option's syntax; :func:`entry_of_callable`); ``MODULE`` is
    imported as by ``python -m`` (the working directory first on the path), or from the folder ``path`` when given.
    Raises :class:`SpecError` saying what is wrong, in one line."""
    name, sep, target = spec.partition("=")
    module_name, colon, attribute = target.partition(":")
    if not (sep and colon and name and module_name and attribute):
        raise SpecError("expected NAME=MODULE:ATTR")
    folder = path or os.getcwd()
    if folder not in sys.path and (path or "" not in sys.path):
        sys.path.insert(0, folder)
    try:
        target_object = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name.partition(".")[0]:
            raise SpecError(f"cannot import {module_name!r}: {error} ({where(error)})") from None
        raise SpecError(f"cannot import {module_name!r}: no such module in {folder} or on the path") from None
    except SyntaxError as error:
        raise SpecError(f"cannot import {module_name!r}: {error.msg} ({error.filename}:{error.lineno})") from None
    except Exception as error:  # the module itself failed: where, in one line
        raise SpecError(f"cannot import {module_name!r}: {type(error).__name__}: {error} ({where(error)})") from None
    for part in attribute.split("."):
        if not hasattr(target_object, part):
            raise SpecError(f"{module_name!r} has no attribute {attribute!r}")
        target_object = getattr(target_object, part)
    if not callable(target_object):
        raise SpecError(f"{target} is a {type(target_object).__name__}, not a callable")
    try:
        return entry_of_callable(name, target_object, origin=target)
    except SignatureError as error:
        raise SpecError(str(error)) from None
    except (TypeError, ValueError) as error:
        raise SpecError(f"its declarations are invalid: {error}") from None


def _module_entries(package: str = __package__):
    package_module = importlib.import_module(package)
    for info in pkgutil.iter_modules(package_module.__path__):
        if info.name.startswith("_") or info.name in _NOT_IMPLEMENTATIONS:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        yield from (value for value in vars(module).values() if isinstance(value, Entry))


def _plugin_entries():
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        yield Entry.from_callable(point.name, point.load(), origin=point.value)


def discover(package: str = __package__, plugins: bool = True) -> dict[str, Entry]:
    """Every entry of the package's modules and of installed plug-ins, available or not, by name."""
    found: dict[str, Entry] = {}
    for entry in [*_module_entries(package), *(_plugin_entries() if plugins else ())]:
        if entry.name in found and found[entry.name] is not entry:
            raise ValueError(f"implementation name {entry.name!r} is registered twice ({entry.origin})")
        found[entry.name] = entry
    return dict(sorted(found.items()))

"""Entries of the transposed convolution and of conv2d's gradients: a registry per call, found like the forward's.

An entry is a name, the call it implements (``conv_transpose2d`` or ``conv2d_backward``), the callable with that
call's signature, and its declarations: its capabilities (the forward's, where they apply), the error model, whether
its library is missing, its known failures (:class:`convcheck.impls.registry.KnownFailure`, as a conv2d's). Every
module of this subpackage (but the contract, the autograd wrapper and this one) is an implementation file; its
module-level :class:`GradientEntry` objects are its entries; an outside callable becomes one with
:meth:`GradientEntry.from_callable`. They are not forward entries: the forward discovery does not look
into this subpackage, and the forward suite never sees them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from convcheck.impls.backward.contract import normalize_backward, normalize_transposed
from convcheck.impls.contract import ConvArgumentError
from convcheck.impls.registry import (
    Capabilities,
    Declarations,
    ErrorModel,
    KnownFailure,
    UnsupportedConfiguration,
    declared_attributes,
)
from convcheck.impls.signature import AUTOGRAD, BACKWARD, TRANSPOSED, implemented_call, omitted_parameters

OPERATIONS = {TRANSPOSED: normalize_transposed, BACKWARD: normalize_backward}  # call -> its contract
NOT_APPLICABLE = {  # call -> the forward's capabilities that mean nothing for it
    TRANSPOSED: {"padding_strings"},
    BACKWARD: {"bias"},
}
_NOT_IMPLEMENTATIONS = {"autograd", "contract", "registry"}


@dataclass(frozen=True, repr=False)
class GradientEntry(Declarations):
    """One registered implementation of ``operation``: the validated callable plus its declarations."""

    operation: str
    name: str
    function: Callable = field(repr=False)
    error_model: ErrorModel = ErrorModel.EXACT_SUMMATION
    # what it covers, the forward's fields (but NOT_APPLICABLE's): its cases are drawn inside; memory_follows_output
    # (the extreme-argument family's memory law): True for the entries of this package, False for outside callables
    capabilities: Capabilities = Capabilities()
    unavailable: str | None = None  # why it cannot run on this machine, if it cannot
    library: str | None = None
    origin: str = ""
    argument_error: type[ValueError] = ConvArgumentError
    # conv_transpose2d: takes an output padding smaller than the stride only (torch allows one smaller than the
    # dilation too)
    output_padding_below_stride: bool = False
    max_gflop: float | None = None  # cost hint: the largest workload, in GFLOP, it runs in a second or two (benchmarks)
    examples: float = 1.0  # cost hint: the share of each property test's examples drawn for it (see Entry.examples)
    call_time_s: float | None = None  # cost hint: the longest a correct call may take (see Entry.call_time_s)
    # with groups, a NaN or an infinity in grad_out (in x, for conv_transpose2d) may make the other groups' outputs
    # NaN: grad_x and the transposed output in its span, grad_weight (products across groups that the sum discards)
    non_finite_crosses_groups: bool = False
    algorithm: Callable | None = field(default=None, repr=False)  # the undecorated f(problem)
    # Known failures, not run (a mapping of family or test name to reason is converted), as a conv2d's.
    expected_failures: tuple[KnownFailure, ...] = field(default=(), hash=False)
    autograd: str | None = None  # conv2d_backward: the framework whose autograd derives the gradients of a conv2d

    def __post_init__(self):
        super().__post_init__()
        if self.error_model is not ErrorModel.EXACT_SUMMATION:
            raise ValueError(f"error_model={self.error_model.value!r}: {self.operation}'s families judge "
                             f"{ErrorModel.EXACT_SUMMATION.value!r} only")  # fmt: skip

    def __repr__(self) -> str:
        return f"GradientEntry({self.operation}:{self.name})"

    def _repr_pretty_(self, printer, cycle) -> None:  # Hypothesis's printer would list a dataclass's fields
        printer.text(repr(self))

    def __call__(self, *arguments, **keywords):
        return self.function(*arguments, **keywords)

    @property
    def dtypes(self) -> tuple[str, ...]:
        return self.capabilities.dtypes

    @property
    def convcheck_call(self) -> str:
        """The call it implements, as an outside callable declares it."""
        return self.operation

    def why_unsupported(self, problem) -> str | None:
        """The reason a valid problem is outside what this entry declares (its dtypes, its output padding), or
        None."""
        if str(problem.x.dtype) not in self.dtypes:
            return f"dtype {problem.x.dtype} is not supported"
        extra = getattr(problem, "output_padding", (0, 0))
        if self.output_padding_below_stride and any(e >= s for e, s in zip(extra, problem.stride, strict=True)):
            return f"output_padding {extra} not below the stride {problem.stride} is not supported"
        return None

    @classmethod
    def from_callable(cls, name: str, function: Callable, origin: str = "") -> GradientEntry:
        """Wrap an outside conv_transpose2d or conv2d_backward (which, :func:`implemented_call` reads from it), or a
        framework's conv2d declared ``"conv2d_autograd"`` (:func:`convcheck.impls.backward.autograd.autograd_entry`).
        An optional ``capabilities`` attribute (a dict of :class:`Capabilities` fields that apply to its call, and
        for conv_transpose2d ``output_padding_below_stride``) declares what it covers; default: the whole contract.
        The other attributes are a conv2d's (:func:`convcheck.impls.registry.declared_attributes`). The callable is
        called as it is: its own validation is what the invalid-argument properties check."""
        if isinstance(function, GradientEntry):
            return replace(function, name=name, origin=origin or function.origin)
        operation = implemented_call(function)
        if operation == AUTOGRAD:
            from convcheck.impls.backward.autograd import autograd_entry  # which imports this module

            return autograd_entry(name, function, origin)
        if operation not in OPERATIONS:
            raise ValueError(f"{name}: {getattr(function, '__qualname__', function)} implements {operation}")
        declared = dict(getattr(function, "capabilities", None) or {})
        below_stride = declared.pop("output_padding_below_stride", False) if operation == TRANSPOSED else False
        unfit = sorted(NOT_APPLICABLE[operation] & set(declared))
        if unfit:
            raise ValueError(f"capabilities: {unfit} do not apply to {operation}")
        capabilities = Capabilities.from_dict(declared)
        if capabilities.memory_follows_output is None:  # as for conv2d: not claimed unless declared
            capabilities = replace(capabilities, memory_follows_output=False)
        omitted_parameters(function, frozenset(), operation)  # it can take the call, or a SignatureError says why
        return cls(
            operation, name, function, capabilities=capabilities, origin=origin, argument_error=ValueError,
            output_padding_below_stride=bool(below_stride), **declared_attributes(function),
        )  # fmt: skip


def _registered(operation: str):
    """The decorator factory of ``operation``'s entries (see :func:`transposed_implementation`)."""
    contract = OPERATIONS[operation]

    def factory(name: str, *, error_model=None, unavailable=None, library=None, dtypes=None,
                memory_follows_output: bool = True, **declared):  # fmt: skip
        capabilities = Capabilities(memory_follows_output=memory_follows_output)
        if dtypes is not None:
            capabilities = replace(capabilities, dtypes=tuple(dtypes))

        def decorate(algorithm: Callable) -> GradientEntry:
            def call(*arguments, **keywords):
                problem = contract(*arguments, **keywords)
                reason = entry.why_unsupported(problem)
                if reason:
                    raise UnsupportedConfiguration(f"{name}: {reason}")
                return algorithm(problem)

            call.__doc__ = algorithm.__doc__
            call.__qualname__ = call.__name__ = f"{name}_{operation}"
            entry = GradientEntry(
                operation,
                name,
                call,
                ErrorModel(error_model or ErrorModel.EXACT_SUMMATION),
                capabilities,
                unavailable=unavailable,
                library=library,
                origin=algorithm.__module__,
                algorithm=algorithm,
                **declared,
            )
            return entry

        return decorate

    return factory


transposed_implementation = _registered(TRANSPOSED)
transposed_implementation.__doc__ = """Decorate ``f(ConvTranspose2dProblem) -> ndarray`` into a conv_transpose2d entry
that validates with the contract and refuses what it does not declare (``dtypes``, ``output_padding_below_stride``)
with UnsupportedConfiguration before it runs; ``memory_follows_output=False`` leaves it out of the memory law."""
backward_implementation = _registered(BACKWARD)
backward_implementation.__doc__ = """Decorate ``f(Conv2dBackwardProblem) -> (grad_x, grad_weight, grad_bias)`` into a
conv2d_backward entry that validates with the contract and refuses undeclared ``dtypes`` before it runs."""


def discover(package: str = __package__) -> dict[str, dict[str, GradientEntry]]:
    """Every entry of the subpackage's modules, available or not: call -> name -> entry."""
    found: dict[str, dict[str, GradientEntry]] = {operation: {} for operation in OPERATIONS}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.name.startswith("_") or info.name in _NOT_IMPLEMENTATIONS:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for entry in (value for value in vars(module).values() if isinstance(value, GradientEntry)):
            if entry.name in found[entry.operation]:
                raise ValueError(f"{entry.operation} implementation {entry.name!r} is registered twice")
            found[entry.operation][entry.name] = entry
    return {operation: dict(sorted(entries.items())) for operation, entries in found.items()}

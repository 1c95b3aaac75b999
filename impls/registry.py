"""The registry: what each implementation is, what it declares, and how implementations are found.

An entry is a name, a callable with the contract's signature, and its declarations: capabilities (the part of the
contract it covers), an error model, and a cost hint. Entries come from modules of this package (any module-level
:class:`Entry`), from installed packages (entry-point group ``convcheck.impls``), or from ``NAME=MODULE:ATTR`` specs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from impls.contract import Conv2dProblem, normalize

ERROR_MODELS = ("exact-summation", "normwise")
ENTRY_POINT_GROUP = "convcheck.impls"
_NOT_IMPLEMENTATIONS = {"contract", "registry", "template"}


class UnsupportedConfiguration(NotImplementedError):
    """A valid call outside what an implementation declares it supports."""


@dataclass(frozen=True)
class Capabilities:
    """The part of the contract an implementation covers; None means every valid value."""

    dtypes: tuple[str, ...] = ("float32", "float64")
    strides: tuple[int, ...] | None = None
    dilations: tuple[int, ...] | None = None
    kernel_sizes: tuple[tuple[int, int], ...] | None = None
    groups: bool = True

    def why_unsupported(self, problem: Conv2dProblem) -> str | None:
        """The reason a problem is outside these capabilities, or None when it is covered."""
        kernel = tuple(problem.weight.shape[2:])
        checks = (
            (str(problem.x.dtype) in self.dtypes, f"dtype {problem.x.dtype}"),
            (self.strides is None or set(problem.stride) <= set(self.strides), f"stride {problem.stride}"),
            (self.dilations is None or set(problem.dilation) <= set(self.dilations), f"dilation {problem.dilation}"),
            (self.kernel_sizes is None or kernel in self.kernel_sizes, f"kernel {kernel}"),
            (self.groups or problem.groups == 1, f"groups {problem.groups}"),
        )
        return next((f"{what} is not supported" for ok, what in checks if not ok), None)


@dataclass(frozen=True)
class Entry:
    """One registered conv2d: callable with the contract's signature, plus its declarations."""

    name: str
    function: Callable = field(repr=False)
    error_model: str = "exact-summation"
    capabilities: Capabilities = Capabilities()
    max_gflop: float | None = None  # cost hint: the largest workload (GFLOP) it runs in reasonable time
    unavailable: str | None = None  # why it cannot run on this machine, if it cannot
    origin: str = ""
    # Known failures, not run: property family ("special_values") or test name -> the reason.
    expected_failures: Mapping[str, str] = field(default_factory=dict, hash=False)
    library: str | None = None  # the distribution under test, whose version a run reports ("jax", "onnxruntime")

    def __post_init__(self):
        if self.error_model not in ERROR_MODELS:
            raise ValueError(f"error_model={self.error_model!r}: expected one of {ERROR_MODELS}")

    def __call__(self, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return self.function(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)

    def supports(self, problem: Conv2dProblem) -> bool:
        return self.capabilities.why_unsupported(problem) is None

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
        if isinstance(capabilities, dict):
            capabilities = Capabilities(**capabilities)
        return cls(
            name=name,
            function=function,
            error_model=getattr(function, "error_model", "exact-summation"),
            capabilities=capabilities,
            max_gflop=getattr(function, "max_gflop", None),
            origin=origin,
            expected_failures=dict(getattr(function, "expected_failures", None) or {}),
        )


def implementation(
    name: str,
    *,
    error_model: str = "exact-summation",
    capabilities: Capabilities = Capabilities(),
    max_gflop: float | None = None,
    unavailable: str | None = None,
    expected_failures: Mapping[str, str] | None = None,
    library: str | None = None,
):
    """Decorate an algorithm ``f(problem) -> ndarray`` into a registry entry that honors the contract.

    The entry validates and normalizes the arguments, refuses configurations outside its capabilities with
    :class:`UnsupportedConfiguration`, and only then runs the algorithm.
    """

    def decorate(algorithm: Callable[[Conv2dProblem], object]) -> Entry:
        def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
            problem = normalize(x, weight, bias, stride, padding, dilation, groups)
            reason = capabilities.why_unsupported(problem)
            if reason:
                raise UnsupportedConfiguration(f"{name}: {reason}")
            return algorithm(problem)

        conv2d.__doc__ = algorithm.__doc__
        conv2d.__qualname__ = conv2d.__name__ = f"{name}_conv2d"
        origin = algorithm.__module__
        known = dict(expected_failures or {})
        return Entry(name, conv2d, error_model, capabilities, max_gflop, unavailable, origin, known, library)

    return decorate


def load_spec(spec: str) -> Entry:
    """An entry from ``NAME=MODULE:ATTR`` (the ``--impl`` option's syntax)."""
    name, sep, target = spec.partition("=")
    module_name, colon, attribute = target.partition(":")
    if not (sep and colon and name and module_name and attribute):
        raise ValueError(f"--impl={spec!r}: expected NAME=MODULE:ATTR")
    target_object = importlib.import_module(module_name)
    for part in attribute.split("."):
        target_object = getattr(target_object, part)
    return Entry.from_callable(name, target_object, origin=target)


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

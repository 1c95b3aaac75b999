"""convcheck implementations: every conv2d under test, behind one contract.

``REGISTRY`` maps a name to an :class:`Entry` callable as
``conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)``. Entries that cannot run on this machine
are listed in ``UNAVAILABLE`` with the reason. Both are found on first use (``import impls`` alone imports the
contract and the registry's names, no implementation), and no implementation imports its library before its first
call.
"""

from convcheck.impls.contract import Conv2dProblem, ConvArgumentError, normalize, output_size
from convcheck.impls.registry import Capabilities, Entry, UnsupportedConfiguration, discover, implementation, load_spec

_FOUND = ("REGISTRY", "UNAVAILABLE")  # module attributes made by the first access to either

__all__ = [
    "REGISTRY",
    "UNAVAILABLE",
    "Capabilities",
    "Conv2dProblem",
    "ConvArgumentError",
    "Entry",
    "UnsupportedConfiguration",
    "discover",
    "implementation",
    "load_spec",
    "normalize",
    "output_size",
]


def __getattr__(name: str):
    """``REGISTRY`` (the entries that can run here, by name) and ``UNAVAILABLE`` (the others, with the reason),
    discovered at the first access to either."""
    if name not in _FOUND:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = discover()
    registry = {key: entry for key, entry in found.items() if entry.unavailable is None}
    unavailable = {key: entry.unavailable for key, entry in found.items() if entry.unavailable}
    globals().update(REGISTRY=registry, UNAVAILABLE=unavailable)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *_FOUND})

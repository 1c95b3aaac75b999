"""convcheck implementations: every conv2d under test, behind one contract.

``REGISTRY`` maps a name to an :class:`Entry` callable as
``conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)``. Entries that cannot run on this machine
are listed in ``UNAVAILABLE`` with the reason.
"""

from impls.contract import Conv2dProblem, ConvArgumentError, normalize, output_size
from impls.registry import Capabilities, Entry, UnsupportedConfiguration, discover, implementation, load_spec

_ALL = discover()
REGISTRY: dict[str, Entry] = {name: entry for name, entry in _ALL.items() if entry.unavailable is None}
UNAVAILABLE: dict[str, str] = {name: entry.unavailable for name, entry in _ALL.items() if entry.unavailable}

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

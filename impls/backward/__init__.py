"""The transposed convolution and conv2d's gradients: their contract, their registry and their implementations.

``ENTRIES`` maps each call (``conv_transpose2d``, ``conv2d_backward``) to its entries that can run here, by name;
``UNAVAILABLE`` the others (call -> name -> reason). Both are found on first use; no implementation imports its
library before its first call.
"""

from convcheck.impls.backward.contract import (
    Conv2dBackwardProblem,
    ConvTranspose2dProblem,
    normalize_backward,
    normalize_transposed,
    transposed_output_size,
)
from convcheck.impls.backward.registry import BACKWARD, TRANSPOSED, GradientEntry, discover

__all__ = [
    "BACKWARD",
    "ENTRIES",
    "TRANSPOSED",
    "UNAVAILABLE",
    "Conv2dBackwardProblem",
    "ConvTranspose2dProblem",
    "GradientEntry",
    "discover",
    "normalize_backward",
    "normalize_transposed",
    "transposed_output_size",
]


def __getattr__(name: str):
    """``ENTRIES`` and ``UNAVAILABLE``, discovered at the first access to either."""
    if name not in ("ENTRIES", "UNAVAILABLE"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = discover()
    entries = {op: {key: e for key, e in named.items() if e.unavailable is None} for op, named in found.items()}
    unavailable = {op: {key: e.unavailable for key, e in named.items() if e.unavailable} for op, named in found.items()}
    globals().update(ENTRIES=entries, UNAVAILABLE=unavailable)
    return globals()[name]

"""The library a framework entry calls: found without importing it, imported at the entry's first call.

Importing torch, JAX, ONNX Runtime and OpenCV takes seconds together; a process that calls none of them (one that
imports the contract or a strategy, lists the registry, or checks one outside callable) should not pay for them. An
entry module declares its library once, at module level, as a :class:`Library`: ``unavailable()`` is the reason for
the entry's declaration when a package is not installed (``importlib.util.find_spec`` looks for it on the path and
imports nothing), and the entry calls ``load()`` for the modules (imported on the first call, found in
``sys.modules`` after that).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


class Library:
    """The modules an entry calls (``Library("jax", "jax.lax", install="jax")``); ``install`` names what installs
    them, for the reason given when one is missing."""

    def __init__(self, *modules: str, install: str):
        self.modules = modules
        self.install = install

    def __repr__(self) -> str:
        return f"Library({', '.join(map(repr, self.modules))}, install={self.install!r})"

    def packages(self) -> list[str]:
        """The top-level packages of the modules, in order."""
        return list(dict.fromkeys(module.partition(".")[0] for module in self.modules))

    def unavailable(self) -> str | None:
        """Why an entry calling these modules cannot run here (a package is not installed), or None; imports
        nothing (a submodule's package would be imported to find it, so only the top-level packages are looked
        for)."""
        for package in self.packages():
            try:
                found = importlib.util.find_spec(package)
            except ImportError:
                found = None
            if found is None:
                return f"{package} is not installed (pip install {self.install})"
        return None

    def load(self) -> tuple[ModuleType, ...]:
        """The modules, in the order given: imported on the first call, found in ``sys.modules`` afterwards."""
        try:
            return tuple(importlib.import_module(module) for module in self.modules)
        except ImportError as error:
            reason = self.unavailable() or f"{self.install} is installed but cannot be imported"
            raise ImportError(f"{reason}: {error}") from error

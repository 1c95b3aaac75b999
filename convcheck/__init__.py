"""convcheck: a property-based verification suite for 2-D convolutions.

Installed, it is one package: ``convcheck.impls`` (the contract, the registry and the implementations) and
``convcheck.properties`` (the property suite, its pytest plug-in and the ``convcheck`` command). In a checkout of the
repository they are its ``impls/`` and ``properties/`` folders, found next to this one.

PYTEST_DONT_REWRITE: this module alone, which asserts nothing. The ``convcheck`` command imports it before pytest
starts, and pytest would warn on every run that it cannot rewrite it; the suite's modules are rewritten as usual.
"""

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent
if not (Path(__file__).resolve().parent / "impls").is_dir() and (_CHECKOUT / "impls" / "contract.py").is_file():
    __path__.append(str(_CHECKOUT))  # a checkout: convcheck.impls is ./impls, convcheck.properties ./properties

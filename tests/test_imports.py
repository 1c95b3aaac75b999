"""Imports cost what they use: the contract, the registry's names, a case's strategies and the registry itself load
no framework; an entry imports its library at its first call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from convcheck.impls._library import Library

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("torch", "jax", "jaxlib", "onnxruntime", "onnx", "cv2", "tensorflow", "mygrad")
LOADED = "import json, sys; print(json.dumps(sorted(set(sys.modules) & set(sys.argv[1:]))))"


def frameworks_loaded_by(statement: str) -> list[str]:
    """The framework modules in ``sys.modules`` after ``statement`` runs in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", f"{statement}\n{LOADED}", *FRAMEWORKS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import convcheck.impls.contract",
        "import convcheck.impls.registry",
        "from convcheck.impls import Capabilities, ConvArgumentError, normalize, output_size",
        "import convcheck.properties.strategies",
        "import impls; impls.REGISTRY, impls.UNAVAILABLE",
        "from convcheck.impls import backward; backward.ENTRIES, backward.UNAVAILABLE",
        "import convcheck.properties.backward_cases, convcheck.properties.backward_errors",
        "from convcheck.impls.registry import entry_of_callable\n"
        "def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...\n"
        "conv2d.convcheck_call, conv2d.convcheck_autograd = 'conv2d_autograd', 'jax'\n"
        "entry_of_callable('mine', conv2d)",
    ],
)
def test_importing_the_contract_a_case_or_the_registry_loads_no_framework(statement):
    assert frameworks_loaded_by(statement) == []


def test_an_entry_imports_its_library_at_its_first_call():
    from convcheck import impls

    if "torch" not in impls.REGISTRY:
        pytest.skip(f"torch: {impls.UNAVAILABLE.get('torch')}")
    call = "import numpy as np, impls; impls.REGISTRY['torch'](np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))"
    assert frameworks_loaded_by(call) == ["torch"]


def test_a_missing_library_is_named_without_importing_anything():
    missing = Library("convcheck_no_such_package.sub", install="convcheck-no-such-distribution")
    assert missing.unavailable() == (
        "convcheck_no_such_package is not installed (pip install convcheck-no-such-distribution)"
    )
    with pytest.raises(ImportError, match=r"^convcheck_no_such_package is not installed \(pip install"):
        missing.load()
    assert Library("numpy", "numpy.linalg", install="numpy").unavailable() is None

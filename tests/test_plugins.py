"""Implementations from outside the package: installed plug-ins (entry points) and a copied template module.

Each check runs in a fresh interpreter, since ``impls.REGISTRY`` is built once, at import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from convcheck.impls.contract import normalize

from convcheck import impls

REPOSITORY = Path(__file__).resolve().parents[1]

PLUGIN_MODULE = '''
"""An outside package that adds two implementations through the convcheck.impls entry-point group."""
import numpy as np

from convcheck.impls.registry import implementation


@implementation("example-plugin", max_gflop=0.01)
def decorated(problem):
    """A decorated algorithm: 1x1 kernels only need a channel product (the test only calls it with those)."""
    out = np.einsum("oc,nchw->nohw", problem.weight[:, :, 0, 0], problem.x)
    return np.ascontiguousarray(out)


def plain(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """A plain callable with the contract's signature, declaring what it covers by attributes."""
    return np.zeros((x.shape[0], weight.shape[0], 1, 1), dtype=x.dtype)


plain.error_model = "normwise"
plain.capabilities = {"dtypes": ("float64",), "groups": False}
plain.max_gflop = 0.5
'''

ENTRY_POINTS = """
[convcheck.impls]
example-plugin = example_plugin:decorated
example-plain = example_plugin:plain
"""

REPORT = """
import json, sys
import numpy as np
from convcheck import impls
entries = {name: {"model": e.error_model, "dtypes": list(e.capabilities.dtypes), "groups": e.capabilities.groups,
                  "max_gflop": e.max_gflop, "origin": e.origin} for name, e in impls.REGISTRY.items()}
probe = {}
for name in sys.argv[1:]:
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    weight = np.arange(6 * 3, dtype=np.float64).reshape(6, 3, 1, 1)
    expected = impls.REGISTRY["torch"](x, weight)
    probe[name] = bool(np.array_equal(impls.REGISTRY[name](x, weight), expected))
print(json.dumps({"entries": entries, "probe": probe, "unavailable": impls.UNAVAILABLE}))
"""


def run_python(code: str, *args: str, path: list[Path]) -> dict:
    """Run ``code`` in a fresh interpreter with ``path`` first on sys.path; return its JSON report."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in path))
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=path[0], timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """A directory that looks like an installed distribution 'example-plugin' to importlib.metadata."""
    (tmp_path / "example_plugin.py").write_text(PLUGIN_MODULE)
    info = tmp_path / "example_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return tmp_path


def test_installed_plugin_entries_are_in_the_registry(plugin_site):
    report = run_python(REPORT, "example-plugin", path=[plugin_site, REPOSITORY])
    entries = report["entries"]
    assert {"example-plugin", "example-plain"} <= set(entries), sorted(entries)
    assert set(impls.REGISTRY) <= set(entries), "the package's own entries are still there"
    assert entries["example-plugin"]["max_gflop"] == 0.01
    assert entries["example-plain"] == {
        "model": "normwise",
        "dtypes": ["float64"],
        "groups": False,
        "max_gflop": 0.5,
        "origin": "example_plugin:plain",
    }
    assert report["probe"] == {"example-plugin": True}, "the decorated plug-in validates and computes"


def test_plugin_with_a_taken_name_is_refused(plugin_site):
    info = plugin_site / "example_plugin-0.1.dist-info" / "entry_points.txt"
    info.write_text("[convcheck.impls]\nloop = example_plugin:plain\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, (plugin_site, REPOSITORY))))
    result = subprocess.run(
        [sys.executable, "-c", "import impls; impls.REGISTRY"], capture_output=True, text=True, env=env
    )
    assert result.returncode != 0
    assert "'loop' is registered twice" in result.stderr


def test_template_is_not_registered_but_works():
    from convcheck.impls import template

    assert template.my_conv.name not in impls.REGISTRY, "template.py is excluded from discovery by name"
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 7, 6))[:, :, ::-1]  # a negative-stride view
    weight = rng.standard_normal((6, 2, 2, 3))
    bias = rng.standard_normal(6)
    geometry = {"stride": (2, 1), "padding": "valid", "dilation": (1, 2), "groups": 2}
    out = template.my_conv(x, weight, bias, **geometry)
    expected = impls.REGISTRY["torch"](x, weight, bias, **geometry)
    assert out.shape == normalize(x, weight, bias, **geometry).output_shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    out = template.my_conv(x, weight, bias, padding="same", groups=2)
    np.testing.assert_allclose(out, impls.REGISTRY["torch"](x, weight, bias, padding="same", groups=2), atol=1e-12)


def test_a_module_dropped_into_impls_of_a_checkout_is_discovered(tmp_path):
    """One new file in ``impls/`` of a checkout (here a copy of this one) is an entry of ``convcheck.impls``."""
    for folder in ("convcheck", "impls", "properties"):
        shutil.copytree(REPOSITORY / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(tmp_path / "impls" / "template.py", tmp_path / "impls" / "my_conv.py")
    code = textwrap.dedent(
        """
        import json
        from convcheck import impls
        print(json.dumps({"file": impls.__file__, "registry": sorted(impls.REGISTRY),
                          "origin": impls.REGISTRY["my-conv"].origin}))
        """
    )
    report = run_python(code, path=[tmp_path])
    assert Path(report["file"]).parent == tmp_path / "impls", "the copy, not the repository's package, was imported"
    assert report["origin"] == "convcheck.impls.my_conv"
    assert set(impls.REGISTRY) | {"my-conv"} <= set(report["registry"])


def test_installed_plugin_entries_are_parametrized_in_the_property_suite(plugin_site, pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(map(str, (plugin_site, REPOSITORY))))
    suite = str(REPOSITORY / "properties")
    result = pytester.runpytest_subprocess(
        suite, "--collect-only", "-q", "-p", "no:cacheprovider", "-k", "plugin or plain"
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*test_matches_oracle_within_error_bound[[]example-plain[]]",
            "*test_output_shape_matches_formula[[]example-plugin[]]",
        ],
        consecutive=False,
    )

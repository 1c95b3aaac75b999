"""The framework entries: optional libraries, and the library behaviour behind every declaration they make.

Each declared deviation has a test here that calls the library itself on the smallest case: when a release fixes
the deviation, its test fails, and the declaration (a capability left out, an expected failure, an error model)
must be lifted.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from convcheck.impls import ConvArgumentError, UnsupportedConfiguration
from convcheck.properties.oracle import reference_conv2d

from convcheck import impls

REPOSITORY = Path(__file__).resolve().parents[1]
FRAMEWORKS = {  # entry name -> the top-level modules it needs
    "torch": ("torch",),
    "torch-cuda": ("torch",),
    "jax": ("jax",),
    "onnxruntime": ("onnxruntime", "onnx"),
    "opencv": ("cv2",),
    "tensorflow": ("tensorflow",),
    "mygrad": ("mygrad",),
}

WITHOUT_FRAMEWORKS = """
import importlib.util, json, sys

BLOCKED = set(sys.argv[1:])


class NotInstalled:
    \"\"\"A finder that makes the blocked top-level packages look uninstalled.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, NotInstalled())
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name in BLOCKED else find_spec(name, *a)
from convcheck import impls

print(json.dumps({"registry": sorted(impls.REGISTRY), "unavailable": impls.UNAVAILABLE}))
"""


def entry(name: str):
    """The registered entry, or a skip when its library is not installed here."""
    if name not in impls.REGISTRY:
        pytest.skip(f"{name}: {impls.UNAVAILABLE.get(name, 'not registered')}")
    return impls.REGISTRY[name]


def test_every_framework_entry_is_registered_available_or_not():
    assert set(FRAMEWORKS) <= set(impls.REGISTRY) | set(impls.UNAVAILABLE)


def test_missing_libraries_leave_their_entries_unavailable_with_the_reason():
    """``import impls`` works without any framework; each framework entry is listed with why it cannot run."""
    blocked = sorted({module for modules in FRAMEWORKS.values() for module in modules})
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(WITHOUT_FRAMEWORKS), *blocked],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)),
        cwd=REPOSITORY,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"loop", "im2col", "scipy", "einsum", "fft", "winograd"} <= set(report["registry"])
    assert not set(FRAMEWORKS) & set(report["registry"])
    for name, modules in FRAMEWORKS.items():
        reason = report["unavailable"][name]
        assert "not installed" in reason
        assert any(module in reason for module in modules), reason


@pytest.mark.parametrize("name", sorted(FRAMEWORKS))
def test_an_entry_names_the_installed_distribution_it_tests(name):
    """The run's header reports ``importlib.metadata.version(entry.library)``."""
    version = importlib.metadata.version(entry(name).library)
    assert version[0].isdigit()


@pytest.mark.parametrize("name", sorted(set(FRAMEWORKS) - {"torch-cuda"}))
def test_an_invalid_call_is_refused_before_the_library_sees_it(name):
    x = np.zeros((1, 2, 4, 4), dtype=np.float32)
    with pytest.raises(ConvArgumentError, match="groups"):
        entry(name)(x, np.zeros((2, 1, 3, 3), dtype=np.float32), groups=3)


def test_jax_float64_leaves_x64_mode_off():
    """x64 is switched on around the call only; the process keeps JAX's default (float32)."""
    conv2d = entry("jax")
    import jax

    out = conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))
    assert out.dtype == np.float64
    assert not jax.config.jax_enable_x64
    assert jax.numpy.ones(1).dtype == np.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jax_grouped_convolution_leaks_nan_across_groups_in_float64_only(dtype):
    """The deviation behind the jax entry's declared special_values failure, on its smallest case."""
    conv2d = entry("jax")
    x = np.array([np.nan, 1.0], dtype=dtype).reshape(1, 2, 1, 1)
    weight = np.array([1.0, -2.0], dtype=dtype).reshape(2, 1, 1, 1)
    out = conv2d(x, weight, groups=2).ravel()
    assert np.isnan(out[0])
    assert np.isnan(out[1]) == (dtype == "float64")  # IEEE, per group: -2.0


def test_onnxruntime_has_no_float64_conv_on_the_cpu():
    """Why the onnxruntime entry declares float32 only: a float64 Conv model does not load."""
    entry("onnxruntime")
    import onnxruntime
    from onnx import TensorProto, helper

    values = [helper.make_tensor_value_info(name, TensorProto.DOUBLE, [1, 1, 3, 3]) for name in ("x", "w")]
    output = helper.make_tensor_value_info("y", TensorProto.DOUBLE, [1, 1, 1, 1])
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "conv", values, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)], ir_version=10)
    with pytest.raises(Exception, match="NOT_IMPLEMENTED"):
        onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with pytest.raises(UnsupportedConfiguration, match="float64"):
        impls.REGISTRY["onnxruntime"](np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)))


def integer_case(dtype: str, kernel: tuple[int, int], dilation: int = 1):
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(1, 1, 40, 40)).astype(dtype)
    weight = rng.integers(-3, 4, size=(1, 1, *kernel)).astype(dtype)
    return x, weight, {"dilation": dilation}


def test_onnxruntime_computes_output_sizes_in_double_precision():
    """Why the onnxruntime entry hands over a tap-gathered problem past 2**53: the library's own call on a 1-wide
    input padded by 2**52 on both sides under stride 2**53 gives two outputs where the formula gives one."""
    entry("onnxruntime")
    from convcheck.impls.onnxruntime_conv import EXACT_SHAPES, session

    x, weight = np.full((1, 1, 1, 1), 2, dtype=np.float32), np.array([[[[1, 0]]]], dtype=np.float32)
    pad, stride = EXACT_SHAPES // 2, EXACT_SHAPES
    (y,) = session(False, (1, stride), (0, pad, 0, pad), (1, 1), 1).run(None, {"x": x, "weight": weight})
    assert impls.output_size(1, 2, stride, 2 * pad, 1) == 1
    assert y.shape == (1, 1, 1, 2)
    assert impls.REGISTRY["onnxruntime"](x, weight, stride=(1, stride), padding=(0, pad)).shape == (1, 1, 1, 1)


@pytest.mark.parametrize(
    ("dtype", "kernel", "dilation", "direct"),
    [
        ("float32", (9, 14), 1, True),  # 126 taps
        ("float32", (10, 13), 1, False),  # 130 taps: the DFT
        ("float32", (4, 4), 4, False),  # a 13x13 zero-inserted kernel, 169 taps
        ("float64", (7, 7), 1, True),  # 49 taps
        ("float64", (5, 10), 1, False),  # 50 taps: the DFT
        ("float64", (3, 3), 3, True),  # a 7x7 zero-inserted kernel, 49 taps
        ("float64", (3, 3), 4, False),  # a 9x9 zero-inserted kernel, 81 taps
    ],
)
def test_opencv_switches_to_a_dft_inside_the_contract(dtype, kernel, dilation, direct):
    """Why the opencv entry declares the normwise model: integer data stay exact below OpenCV's DFT threshold
    (kernel area 130 for float32, 50 for float64) and do not above it, dilated kernels included."""
    conv2d = entry("opencv")
    x, weight, geometry = integer_case(dtype, kernel, dilation)
    exact = np.array_equal(conv2d(x, weight, **geometry), reference_conv2d(x, weight, **geometry))
    assert exact == direct


def test_mygrad_refuses_a_dilated_kernel_that_fits():
    """Why the mygrad entry declares dilation 1 only: MyGrad compares k*d, not d*(k-1)+1, with the input extent."""
    entry("mygrad")
    from mygrad.nnet import conv_nd

    x, weight = np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1))  # a 1x1 kernel spans one element at any dilation
    with pytest.raises(ValueError, match="dilated window"):
        conv_nd(x, weight, stride=1, dilation=(1, 2))
    assert conv_nd(x, weight, stride=1, dilation=1).shape == (1, 1, 1, 1)


def test_tensorflow_onednn_loses_an_output_row_on_a_strided_batch():
    """The deviation behind the tensorflow entry's declared receptive_field failure, on the case it shrank to."""
    conv2d = entry("tensorflow")
    x = np.zeros((12, 1, 2, 3), dtype=np.float32)
    x[6:, 0, 1, :] = np.arange(1, 19, dtype=np.float32).reshape(6, 3)
    weight = np.ones((1, 1, 1, 2), dtype=np.float32)
    out = conv2d(x, weight, stride=(1, 2))
    assert np.array_equal(impls.REGISTRY["im2col"](x, weight, stride=(1, 2))[6:, 0, 1, 0], [3, 9, 15, 21, 27, 33])
    # the row is never written: zeros or whatever the buffer held (TF_ENABLE_ONEDNN_OPTS=0 gives 3, 9, 15, ...)
    assert not np.any(out[6:, 0, 1, 0] == [3, 9, 15, 21, 27, 33])


ABORTING_XLA_CASE = """
import numpy as np
from convcheck.impls import backward
from convcheck.properties.backward_oracle import reference_conv_transpose2d, reference_input_gradient

rng = np.random.default_rng(0)
x, weight = rng.random((1, 1, 3, 2)), rng.random((1, 1, 2, 3))
out = backward.ENTRIES[backward.TRANSPOSED]["jax"](x, weight, stride=(2, 1), padding=(1, 0))
assert np.allclose(out, reference_conv_transpose2d(x, weight, stride=(2, 1), padding=(1, 0)))
grad_x, _, _ = backward.ENTRIES[backward.BACKWARD]["jax"](x, rng.random((1, 1, 4, 4)), weight, stride=(2, 1),
                                                          padding=(1, 0))
assert np.allclose(grad_x, reference_input_gradient(x, weight, (4, 4), stride=(2, 1), padding=(1, 0)))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_gradient_entries_compute_what_xlas_simplifier_aborts_on():
    """XLA 0.10.2's algebraic simplifier aborts the process compiling an lhs-dilated convolution of a 3x2 input by a
    2x3 kernel at stride (2, 1) and padding (1, 0): the transposed convolution and the vjp's input gradient of that
    case. The entries stuff and pad the input behind an optimization barrier instead, and take grad_x from that."""
    run = subprocess.run([sys.executable, "-c", ABORTING_XLA_CASE], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed")
def test_onnxruntime_transposed_wrong_past_int64_is_handed_over_in_compact_form():
    """ONNX Runtime's ConvTranspose adds both rows of a 2x8 input into the one output row when the stride is 2**62 and
    the padding 2**61 (both rows land outside it: zeros); the entry hands such numbers over in compact form."""
    from convcheck.impls.backward import ENTRIES, TRANSPOSED
    from convcheck.impls.backward.onnxruntime_transposed import session

    x, weight = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 2, 8), np.ones((1, 1, 1, 1), dtype=np.float32)
    (direct,) = session(False, (2**62, 1), (2**61, 0), (0, 0), (1, 1), 1).run(None, {"x": x, "weight": weight})
    assert np.array_equal(direct.ravel(), x[0, 0, 0] + x[0, 0, 1])
    out = ENTRIES[TRANSPOSED]["onnxruntime"](x, weight, stride=(2**62, 1), padding=(2**61, 0))
    assert np.array_equal(out, np.zeros((1, 1, 1, 8), dtype=np.float32))

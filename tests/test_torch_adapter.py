"""The torch adapter's defense against the crash the property suite found in torch 2.13's CPU conv2d."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="torch is not installed")
torch_conv = pytest.importorskip("convcheck.impls.torch_conv")
ROOT = Path(__file__).resolve().parents[1]


def test_torch_gets_c_ordered_operands_and_shares_c_ordered_memory():
    """torch 2.13's CPU conv2d crashed on this channels-last weight (bias, stride 3, padding 2, dilation 3, width 1)."""
    script = (
        "import numpy as np; from convcheck.impls import REGISTRY\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.standard_normal((4, 7, 21, 1), dtype=np.float32)\n"
        "w = np.ascontiguousarray(rng.standard_normal((1, 3, 1, 7), dtype=np.float32)).transpose(0, 3, 1, 2)\n"
        "b = np.ones(1, np.float32)\n"
        "y = REGISTRY['torch'](x, w, b, stride=3, padding=2, dilation=3)\n"
        "z = REGISTRY['loop'](x, w, b, stride=3, padding=2, dilation=3)\n"
        "assert np.allclose(y, z, rtol=1e-5, atol=1e-5), (y, z)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    ordered = np.zeros((2, 3, 4, 5), np.float32)
    assert np.shares_memory(torch_conv.as_tensor(ordered).numpy(), ordered)
    one_channel_last = np.zeros((2, 4, 5, 1), np.float32).transpose(0, 3, 1, 2)  # NumPy calls it C-contiguous
    assert one_channel_last.flags.c_contiguous
    assert torch_conv.as_tensor(one_channel_last).stride() == (20, 20, 5, 1)


def test_the_cuda_entry_asks_a_fresh_interpreter_and_leaves_this_process_alone():
    """Asking this process would initialize the CUDA driver, after which the suite's forked children cannot use it."""
    import torch
    from convcheck.impls.torch_cuda import cuda_build, why_unavailable

    assert why_unavailable(None) == "torch is a CPU-only build"
    assert why_unavailable("13.0") in (None, "no CUDA device")  # a GPU, or (this machine's torch) none
    assert not torch.cuda.is_initialized()
    assert cuda_build() == torch.version.cuda


def test_the_cuda_build_is_read_without_importing_torch():
    script = (
        "import sys; from convcheck.impls.torch_cuda import cuda_build; print(cuda_build(), 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    import torch

    assert result.stdout.split() == [str(torch.version.cuda), "False"]

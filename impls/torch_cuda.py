"""``torch.nn.functional.conv2d`` on a CUDA device (cuDNN), in true float32/float64: TF32 is off.

TF32 (on by default for cuDNN convolutions on Ampere and later) rounds the operands to 10 mantissa bits, far outside
any float32 error model, so both TF32 switches are turned off for the duration of each call and restored after.

Error model: **normwise**. cuDNN chooses its algorithm per shape by heuristics, and the candidates include FFT,
tiled FFT and Winograd algorithms, which spread rounding over a tile or plane. ``torch.backends.cudnn.deterministic``
does not rule them out (they are deterministic); it only excludes algorithms whose result depends on the order of
atomic additions. We keep it on, with ``benchmark`` off, so that a configuration gives the same bits on every run
(a failing example shrinks and replays reliably), and we declare the model that covers whatever cuDNN picks. The
other choice, ``torch.backends.cudnn.enabled = False``, would force PyTorch's own im2col + cuBLAS path (an
exact-summation method) but would no longer test the kernels people actually run on a GPU.

Registered as unavailable where torch is not installed, is a CPU-only build or finds no CUDA device; it is then
listed in ``impls.UNAVAILABLE`` and never run. The build is read from torch's ``version.py`` without importing torch;
for a CUDA build, a fresh interpreter is asked whether CUDA is available: asking this process
(``torch.cuda.is_available()``) initializes the CUDA driver here, and a child forked afterwards (the suite runs each
property test in one) cannot use CUDA at all.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import implementation
from convcheck.impls.torch_conv import TORCH, torch_conv2d

PROBE = "import torch; print(torch.cuda.is_available())"


def cuda_build() -> str | None:
    """The CUDA version torch was built for (``torch.version.cuda``), None for a CPU-only build; read from torch's
    ``version.py`` (which imports nothing) where torch is not imported yet."""
    if "torch" in sys.modules:
        return sys.modules["torch"].version.cuda
    location = Path(importlib.util.find_spec("torch").origin).parent / "version.py"
    spec = importlib.util.spec_from_file_location("torch_build", location)
    version = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(version)
    except OSError:  # no such file: ask torch itself
        torch, _ = TORCH.load()
        return torch.version.cuda
    return version.cuda


def why_unavailable(cuda: str | None) -> str | None:
    """Why this machine cannot run the entry of a torch built for ``cuda`` (None: CPU-only), or None; this process's
    CUDA state is left as it is."""
    if cuda is None:
        return "torch is a CPU-only build"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():  # already initialized here: asking costs nothing more
        return None if torch.cuda.is_available() else "no CUDA device"
    try:
        probe = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as failed:
        return f"could not ask a fresh interpreter whether CUDA is available ({failed})"
    return None if probe.stdout.strip() == "True" else "no CUDA device"


UNAVAILABLE = TORCH.unavailable() or why_unavailable(cuda_build())


@implementation("torch-cuda", error_model="normwise", max_gflop=500.0, unavailable=UNAVAILABLE, library="torch")
def torch_cuda(problem: Conv2dProblem) -> np.ndarray:
    """The framework kernel on the GPU, TF32 off, deterministic algorithm choice."""
    torch, _ = TORCH.load()
    matmul = torch.backends.cuda.matmul
    saved = matmul.allow_tf32
    matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True, allow_tf32=False):
            return torch_conv2d(problem, device="cuda")
    finally:
        matmul.allow_tf32 = saved

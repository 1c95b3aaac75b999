"""The gradient side of the workloads: one benchmark per (entry, direction, workload), plus torch's and the GEMM rows
of each direction, grouped by workload and direction (``benchmarks.gradients``).

- ``transposed``: every conv_transpose2d entry of the run (``convcheck.impls.backward.ENTRIES`` plus any ``--impl``);
  torch's entry (``F.conv_transpose2d``) is the ``torch`` row and the reference of the others.
- ``backward``: every conv2d_backward entry, the whole call (each computes the three gradients in one call, none one
  alone); the ``torch`` row is ``aten.convolution_backward`` of the three, and torch's entry, autograd through
  ``F.conv2d`` (a forward convolution, then the same backward), is the row ``torch-autograd``.
- ``grad_x``, ``grad_w``: torch's ``aten.convolution_backward`` asked for that gradient only; ``grad_w``'s GEMM rows
  (``grad_x``'s product is the transposed convolution's: its GEMM rows are in the ``transposed`` group).

Every row is paired with its direction's GEMM row and torch's, and verified once against the float64 reference within
the entry's error bound (``convcheck.properties.scalable``). An entry skips, with the reason, a workload above its
cost hint (``max_gflop``, against the direction's GFLOP) or outside what it declares.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from convcheck.impls import backward as backward_calls
from convcheck.impls import normalize

from benchmarks import gemm, gradients
from benchmarks.gradients import (
    BACKWARD,
    GRAD_W,
    GRAD_X,
    GRADIENT_WORKLOADS,
    TRANSPOSED,
    GradientWorkload,
    references,
)
from benchmarks.report import GEMM, LIBRARY_GEMM, REFERENCE
from benchmarks.timing import gemm_row, run, skip_large_gemm_rows_untimed, verify

AUTOGRAD = "torch-autograd"  # the row of torch's conv2d_backward entry: the reference is torch's backward alone
TRANSPOSED_CALL, BACKWARD_CALL = gradients.CALLS[TRANSPOSED], gradients.CALLS[BACKWARD]


def workloads_of(*directions: str):
    """The gradient workloads of these directions as the ``workload`` parameter."""
    chosen = [workload for workload in GRADIENT_WORKLOADS if workload.direction in directions]
    return pytest.mark.parametrize("workload", chosen, ids=[f"{w.name}-{w.direction}" for w in chosen])


def torch_reference(workload: GradientWorkload) -> Callable[[], object] | None:
    """torch's call of the direction: its conv_transpose2d entry, or its backward kernel."""
    if workload.direction == TRANSPOSED:
        entry = backward_calls.ENTRIES[TRANSPOSED_CALL].get(REFERENCE)
        if entry is None:
            return None
        args, kwargs = workload.call_args()
        return lambda: entry(*args, **kwargs)
    return workload.torch_call()


def paired(workload: GradientWorkload, threads: dict, subject: str) -> Callable[[], dict]:
    """The subject's references (the direction's GEMM row and torch's call), made when the row is timed."""

    def made() -> dict[str, Callable[[], object]]:
        calls = {}
        if subject != GEMM:
            calls[GEMM] = gemm_row(workload.products(), threads["blas"], None, True)[1]
        torch = torch_reference(workload)
        if subject != REFERENCE and torch is not None:
            calls[REFERENCE] = torch
        return calls

    return made


def skip_unless_runs(entry, workload: GradientWorkload) -> None:
    """Skip, with the reason, a workload above the entry's cost hint or outside what it declares."""
    hint = getattr(entry, "max_gflop", None)
    if hint is not None and workload.gflop > hint:
        pytest.skip(f"{entry.name}: cost hint max_gflop={hint} < {workload.gflop:.3g} GFLOP of {workload.group}")
    if entry.error_model != "exact-summation":
        pytest.skip(f"{entry.name}: no {entry.error_model} error model for {workload.direction} yet")
    x, weight, _ = workload.layer.arrays
    reason = entry.capabilities.why_unsupported(normalize(x, weight, None, **workload.geometry()))
    reason = reason or entry.why_unsupported(workload.problem())
    if reason:
        pytest.skip(f"{entry.name}: {reason} ({workload.group})")


def against_references(workload: GradientWorkload, results) -> list[tuple]:
    """Each result of the direction's call with its float64 reference and bound."""
    return [(result, *reference) for result, reference in zip(results, references(workload), strict=True)]


def timed_entry(benchmark, request, entry, workload: GradientWorkload, threads, name: str) -> None:
    """Time ``entry`` on ``workload`` as the row ``name`` and verify its results (skipped where it does not run)."""
    skip_unless_runs(entry, workload)
    args, kwargs = workload.call_args()
    out = run(benchmark, request, workload, name, lambda: entry(*args, **kwargs), threads,
              paired(workload, threads, name))  # fmt: skip
    results = [out] if workload.direction == TRANSPOSED else list(out)
    assert all(np.asarray(result).dtype == np.dtype(workload.dtype) for result in results)
    verify(benchmark, workload, entry, against_references(workload, results))


@pytest.mark.operation(TRANSPOSED_CALL)
@workloads_of(TRANSPOSED)
def test_transposed(benchmark, request, entry, workload: GradientWorkload, threads):
    """Time a conv_transpose2d ``entry`` on the adjoint of a forward layer."""
    timed_entry(benchmark, request, entry, workload, threads, entry.name)


@pytest.mark.operation(BACKWARD_CALL)
@workloads_of(BACKWARD)
def test_backward(benchmark, request, entry, workload: GradientWorkload, threads):
    """Time a conv2d_backward ``entry``'s whole call (grad_x, grad_weight, grad_bias) on a forward layer."""
    name = AUTOGRAD if entry.name == REFERENCE else entry.name
    timed_entry(benchmark, request, entry, workload, threads, name)


@workloads_of(GRAD_X, GRAD_W, BACKWARD)
def test_torch_gradients(benchmark, request, workload: GradientWorkload, threads):
    """torch's backward kernel asked for one gradient, or all three: the ``torch`` row of the direction."""
    call = workload.torch_call()
    if call is None:
        pytest.skip("torch is not installed")
    out = run(benchmark, request, workload, REFERENCE, call, threads, paired(workload, threads, REFERENCE))
    verify(benchmark, workload, SimpleNamespace(name=REFERENCE), against_references(workload, out))


@pytest.mark.parametrize("library", [None, "numpy"], ids=["any", "numpy"])
@workloads_of(TRANSPOSED, GRAD_W, BACKWARD)  # a layer's rows one after another: they share products
def test_gradient_gemm(benchmark, request, workload: GradientWorkload, library: str | None, threads):
    """The direction's matrix products, operands prepared, each in its fastest formulation (of every BLAS, or of
    ``library``'s): the roofline of the direction. grad_x's product is the transposed convolution's (its row is in
    the ``T`` group; torch's grad_x row is paired with it all the same)."""
    if library is not None and gemm.libraries() == (library,):
        pytest.skip(f"the GEMM row already uses {library}'s BLAS only (no other BLAS is installed)")
    skip_large_gemm_rows_untimed(benchmark, workload)
    name = GEMM if library is None else LIBRARY_GEMM.format(library=library)
    formulations, call, checks = gemm_row(workload.products(), threads["blas"], library, benchmark.enabled)
    results = run(benchmark, request, workload, name, call, threads, paired(workload, threads, name),
                  formulation=" + ".join(formulations))  # fmt: skip
    verify(benchmark, workload, SimpleNamespace(name=name), checks(results))

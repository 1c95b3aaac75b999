"""One benchmark per (implementation, workload), plus the GEMM rows of each workload, grouped by workload.

Implementations come from the run's registry (``impls.REGISTRY`` plus any ``--impl``), so a new file in ``impls/``
is benchmarked with no edit here. An implementation skips a workload, with the reason, when its cost hint
(``max_gflop``) is below the workload's GFLOP or its capabilities do not cover the workload.

Each benchmark times its subject with pytest-benchmark and, interleaved round by round in the same loop, the
workload's GEMM row and torch (where registered), so that the ratios to them are paired (``benchmarks.pairing``).

What is timed is verified: the result of the timed calls is checked once, after timing, against the float64
reference within the entry's error bound (``convcheck.properties.scalable``; a GEMM row's product as a sum of K
products). A wrong result fails its row with the property suite's report; ``extra_info["verified"]`` records the check
(the run table's ``check`` column, and the saved run).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from convcheck.properties.errors import normwise_term
from convcheck.properties.scalable import reference

from benchmarks import gemm
from benchmarks.report import GEMM, LIBRARY_GEMM, REFERENCE
from benchmarks.timing import gemm_row, run, skip_large_gemm_rows_untimed, verify
from benchmarks.workloads import WORKLOADS, Workload

workload_parameter = pytest.mark.parametrize("workload", WORKLOADS, ids=[workload.name for workload in WORKLOADS])


def references(workload: Workload, registry: dict, threads: dict, subject: str) -> dict[str, Callable[[], object]]:
    """The zero-argument calls a subject is paired with: the GEMM row and torch (where it runs this workload)."""
    calls = {}
    if subject != GEMM:
        product = gemm.layer_product(workload)
        calls[GEMM] = gemm.call(product, gemm.fastest(product, threads["blas"]))
    entry = registry.get(REFERENCE)
    if subject != REFERENCE and entry is not None and not entry.unavailable and entry.supports(workload.problem()):
        args, kwargs = workload.call_args()
        calls[REFERENCE] = lambda: entry(*args, **kwargs)
    return calls


def paired(request, workload: Workload, threads: dict, subject: str) -> Callable[[], dict]:
    """The subject's references, made when the row is timed."""
    return lambda: references(workload, request.getfixturevalue("registry"), threads, subject)


@functools.cache
def workload_reference(workload: Workload) -> tuple[np.ndarray, np.ndarray]:
    """The float64 result of ``workload`` and its exact-summation bound, computed once a run for the rows of every
    entry (about 260 MiB for all workloads)."""
    args, kwargs = workload.call_args()
    return reference("exact-summation", *args, **kwargs)


def entry_reference(workload: Workload, entry) -> tuple[np.ndarray, np.ndarray]:
    """The float64 result and the bound of ``entry``'s error model (a normwise entry's adds its per-plane term)."""
    expected, bound = workload_reference(workload)
    if entry.error_model == "normwise":
        (x, weight, _), kwargs = workload.call_args()
        bound = bound + normwise_term(x, weight, **kwargs)
    return expected, bound


@workload_parameter
def test_conv2d(benchmark, request, impl, workload: Workload, threads):
    """Time ``impl`` on ``workload`` (``impl`` is each entry of the run's registry)."""
    if impl.max_gflop is not None and workload.gflop > impl.max_gflop:
        pytest.skip(
            f"{impl.name}: cost hint max_gflop={impl.max_gflop} < {workload.gflop:.3g} GFLOP of {workload.name}"
        )
    problem = workload.problem()
    if not impl.supports(problem):
        pytest.skip(f"{impl.name}: {impl.capabilities.why_unsupported(problem)} ({workload.name})")
    args, kwargs = workload.call_args()
    # Transform algorithms (FFT, Winograd: the normwise error model) do fewer multiplications than the GEMM.
    below_gemm = not impl.error_model.exact_on_integers
    subject = lambda: impl(*args, **kwargs)  # noqa: E731
    out = run(benchmark, request, workload, impl.name, subject, threads, paired(request, workload, threads, impl.name),
              below_gemm=below_gemm)  # fmt: skip
    assert out.dtype == np.dtype(workload.dtype)
    verify(benchmark, workload, impl, [(out, *entry_reference(workload, impl))])


@pytest.mark.parametrize("library", [None, "numpy"], ids=["any", "numpy"])
@workload_parameter  # a workload's two rows one after the other: they share the float64 product when disabled
def test_gemm_baseline(benchmark, request, workload: Workload, library: str | None, threads):
    """The roofline: the layer's own matrix product, operands prepared, in its fastest BLAS formulation; with
    ``library``, in the fastest formulation of that library's BLAS (the limit of an implementation built on it)."""
    if library is not None and gemm.libraries() == (library,):
        pytest.skip(f"the GEMM row already uses {library}'s BLAS only (no other BLAS is installed)")
    skip_large_gemm_rows_untimed(benchmark, workload)
    name = GEMM if library is None else LIBRARY_GEMM.format(library=library)
    (formulation,), call, checks = gemm_row([gemm.layer_product(workload)], threads["blas"], library, benchmark.enabled)
    results = run(benchmark, request, workload, name, call, threads, paired(request, workload, threads, name),
                  formulation=formulation)  # fmt: skip
    verify(benchmark, workload, SimpleNamespace(name=name), checks(results))

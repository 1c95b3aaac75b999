"""One benchmark row: its subject timed paired with its references, what a row records, and the check of its result.

Shared by the forward rows (``test_conv2d.py``) and the gradient side's (``test_gradients.py``). A workload here is
anything with ``name``, ``group``, ``direction``, ``dtype``, ``flops``, ``gflop``, ``descriptor()`` and ``label()``
(:class:`benchmarks.workloads.Workload`, :class:`benchmarks.gradients.GradientWorkload`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from convcheck.properties.assertions import assert_close
from convcheck.properties.scalable import check_name, product_reference

from benchmarks import gemm
from benchmarks.control import load_average, overloaded
from benchmarks.pairing import measure


def run(
    benchmark, request, workload, name: str, subject: Callable[[], object], threads: dict,
    references: Callable[[], dict[str, Callable[[], object]]], **info,
):  # fmt: skip
    """Time ``subject`` paired with ``references()`` (zero-argument calls by name, made only when timing) and
    record everything a row needs in ``extra_info``."""
    benchmark.group = workload.group
    benchmark.extra_info.update(
        implementation=name,
        workload=workload.name,
        direction=workload.direction,
        descriptor=workload.descriptor(),
        dtype=workload.dtype,
        gflop=workload.gflop,
        threads=threads,
        **info,
    )
    calls = references() if benchmark.enabled else {}
    before = load_average()
    result, ratios = measure(benchmark, subject, calls, request.config.option)
    after = load_average()
    if benchmark.enabled:
        median = benchmark.stats.stats.median
        benchmark.extra_info.update(
            median_s=median,
            gflops=workload.flops / median / 1e9,
            ratios={reference: spread.as_dict() for reference, spread in ratios.items()},
            load={"before": before, "after": after, "flagged": overloaded([before, after], threads["requested"])},
        )
    return result


def verify(benchmark, workload, entry, checks: Sequence[tuple[object, np.ndarray, object]]) -> None:
    """Check timed results against the float64 reference (once, after timing): each ``(result, expected, bound)``;
    record the check in the row's ``extra_info`` and fail the row with the suite's report when a result is outside
    its bound."""
    record = {"reference": "float64", "check": check_name(checks[0][2]), "passed": False}
    benchmark.extra_info["verified"] = record
    worst = 0.0
    for index, (result, expected, bound) in enumerate(checks):
        result = np.asarray(result)
        part = f" (result {index + 1} of {len(checks)})" if len(checks) > 1 else ""
        what = f"the benchmarked result{part} of {workload.group} ({workload.label()})"
        assert_close(result, expected, bound, what, entry, None, f"the float64 reference, {check_name(bound)}")
        error = np.abs(result - expected) / np.maximum(bound, np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(error, initial=0.0)))
    record.update(passed=True, worst_error_per_bound=worst)


UNTIMED_GEMM_GFLOP = 0.5  # the largest layer whose GEMM rows the untimed single pass runs


def skip_large_gemm_rows_untimed(benchmark, workload) -> None:
    """In the untimed single pass (``--benchmark-disable``, the test command's), skip the GEMM rows of a layer past
    ``UNTIMED_GEMM_GFLOP``: a BLAS product checked against its float64 product costs seconds there and checks no
    implementation; the smaller layers' rows run the same code."""
    if not benchmark.enabled and workload.gflop > UNTIMED_GEMM_GFLOP:
        pytest.skip(f"timed runs only: a GEMM row past {UNTIMED_GEMM_GFLOP} GFLOP ({workload.gflop:.3g})")


def gemm_row(products: Sequence[gemm.Product], blas_threads: int | None, library: str | None, chosen: bool):
    """The GEMM row of ``products``: ``(formulations, call, checks)``, the call computing each product in its fastest
    formulation (``chosen``; else the first of ``library``'s, untried) and ``checks(results)`` pairing its results
    with their float64 products and bounds."""
    formulations = [
        gemm.fastest(product, blas_threads, library) if chosen else gemm.formulations(library)[0]
        for product in products
    ]
    calls = [gemm.call(product, formulation) for product, formulation in zip(products, formulations, strict=True)]

    def checks(results) -> list:
        pairs = zip(products, formulations, results, strict=True)
        return [(result, *expected_product(product, formulation)) for product, formulation, result in pairs]

    return formulations, (lambda: [call() for call in calls]), checks


@functools.lru_cache(maxsize=2)
def expected_product(product: gemm.Product, formulation: str) -> tuple[np.ndarray, np.ndarray]:
    """The float64 product of a formulation's operands (fixed-seed: the arrays its call multiplies) and its bound;
    the last two are kept, for the rows that share them (a layer's two GEMM rows, the gradients' products): up to
    about 470 MiB, for the two of the ResNet-18 stem's column product at batch 8."""
    a, b, _ = gemm.operands(product, formulation)
    return product_reference(a, b)

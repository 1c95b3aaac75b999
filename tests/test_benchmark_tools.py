"""The benchmark tooling: thread control, load flags, paired ratios, the run and comparison tables, and the plot
command, on synthetic timings and as a user meets them (``pytest benchmarks`` run by ``pytester``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from convcheck.properties.conformance import ConformanceSummary
from convcheck.properties.threads import limited_threads, thread_counts, torch_module

from benchmarks import gemm, gradients, plot, report
from benchmarks.control import IDLE_SLEEP, OPENBLAS_OVERRIDES, benchmark_environment, overloaded, spinning_settings
from benchmarks.pairing import Spread, paired_ratios
from benchmarks.workloads import BY_NAME

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_environment(monkeypatch):
    """No xdist worker or Hypothesis settings of the outer run leak into an inner pytest run, which imports this
    repository's packages (not a copy installed elsewhere)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "HYPOTHESIS_PROFILE", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


# Thread control and load flags


def test_limited_threads_sets_blas_and_torch_then_restores_them():
    before = thread_counts()
    with limited_threads(1) as inside:
        assert inside["requested"] == 1
        assert thread_counts() == {"blas": 1, "torch": 1 if before["torch"] is not None else None}
    assert thread_counts() == before


def test_a_benchmark_run_sets_threads_flags_load_and_restores_the_process(pytester, clean_environment):
    torch = torch_module()
    if torch is not None:
        original = torch.get_num_threads()
        torch.set_num_threads(2)
        pytester._request.addfinalizer(lambda: torch.set_num_threads(original))
    before = thread_counts()
    pytester.makepyfile(
        test_inner="""
        from convcheck.properties.threads import thread_counts, torch_module

        def test_inner(benchmark):
            seen = thread_counts()
            benchmark.extra_info.update(implementation="sum", workload="size_lab", gflop=1e-9)
            benchmark.extra_info["load"] = {"before": 3.0, "after": 3.5, "flagged": True}  # as on a busy machine
            benchmark(sum, [1, 2, 3])
            assert seen == {"blas": 1, "torch": 1 if torch_module() else None}
        """
    )
    storage = pytester.path / "storage"
    result = pytester.runpytest_inprocess(
        "-p", "benchmarks.conftest", "--threads=1", "--benchmark-max-time=0.01", f"--benchmark-storage={storage}"
    )
    result.assert_outcomes(passed=1)
    assert thread_counts() == before
    saved = json.loads(next(storage.glob("*/0001_*.json")).read_text())
    assert saved["convcheck"]["threads"]["requested"] == 1
    assert saved["convcheck"]["threads"]["blas"] == 1
    # The flagged row: marked in the table, named in the warning that ends the run and in the saved run.
    result.stdout.fnmatch_lines(["size_lab * sum * L * -", "warning: 1 of 1 rows were measured while the 1-minute*"])
    assert saved["convcheck"]["loaded_rows"] == ["test_inner.py::test_inner"]


def test_the_idle_sleep_settings_missing_from_the_environment_are_named():
    assert spinning_settings({}) == IDLE_SLEEP
    assert spinning_settings({"OMP_WAIT_POLICY": "passive", "OPENBLAS_THREAD_TIMEOUT": "28"}) == {
        "OPENBLAS_THREAD_TIMEOUT": "4"
    }
    assert spinning_settings(dict(IDLE_SLEEP)) == {}


@pytest.mark.parametrize("settings", ["missing", "set"])
def test_a_run_of_several_threads_warns_when_idle_threads_may_spin(pytester, clean_environment, monkeypatch, settings):
    for name, value in IDLE_SLEEP.items():
        if settings == "set":
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(
        test_inner="""
        def test_inner(benchmark):
            benchmark.extra_info.update(implementation="sum", workload="size_lab", gflop=1e-9)
            benchmark(sum, [1, 2, 3])
        """
    )
    storage = pytester.path / "storage"
    result = pytester.runpytest_inprocess(
        "-p", "benchmarks.conftest", "--threads=2", "--benchmark-max-time=0.01", f"--benchmark-storage={storage}"
    )
    result.assert_outcomes(passed=1)
    saved = json.loads(next(storage.glob("*/0001_*.json")).read_text())
    output = " ".join(result.stdout.str().split())  # the warning is wrapped
    spinning = settings == "missing"  # an in-process run (pytest.main) cannot restart with them
    assert saved["convcheck"]["idle_threads_spin"] is spinning
    assert ("idle library threads spin through the next one's rounds" in output) is spinning
    assert ("set OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4" in output) is spinning


def test_the_benchmark_environment_drops_openblas_overrides_and_adds_idle_sleep_for_several_threads():
    machine = {"PATH": "/bin", "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "262144"}
    assert benchmark_environment(machine, threads=1) == {"PATH": "/bin"}
    assert benchmark_environment(machine, threads=2) == {"PATH": "/bin", **IDLE_SLEEP}
    assert benchmark_environment({"PATH": "/bin"}, threads=1) is None
    assert benchmark_environment({"PATH": "/bin", **IDLE_SLEEP}, threads=4) is None
    chosen = {"PATH": "/bin", "OMP_WAIT_POLICY": "ACTIVE"}  # set on purpose: kept (the run warns)
    assert benchmark_environment(chosen, threads=2) == {**chosen, "OPENBLAS_THREAD_TIMEOUT": "4"}


BLAS_KERNELS = """
import json, numpy, threadpoolctl
print(json.dumps([pool.get("architecture") for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]))
"""


def test_a_timed_run_restarts_without_openblas_overrides_and_records_the_kernel(
    pytester, clean_environment, monkeypatch
):
    pytester.makepyfile(
        test_inner="""
        import json, os
        from threadpoolctl import threadpool_info
        import numpy

        def test_inner(benchmark):
            benchmark.extra_info.update(implementation="sum", workload="size_lab", gflop=1e-9)
            benchmark(sum, [1, 2, 3])
            seen = {name: os.environ.get(name) for name in os.environ if name.startswith(("OPENBLAS", "OMP"))}
            kernels = [pool.get("architecture") for pool in threadpool_info() if pool["user_api"] == "blas"]
            with open("seen.json", "w") as file:
                json.dump({"environment": seen, "kernels": kernels}, file)
        """
    )
    storage = pytester.path / "storage"
    options = ["-p", "benchmarks.conftest", "--benchmark-max-time=0.01", f"--benchmark-storage={storage}"]
    for name in (*OPENBLAS_OVERRIDES, *IDLE_SLEEP):
        monkeypatch.delenv(name, raising=False)
    machine = subprocess.run([sys.executable, "-c", BLAS_KERNELS], capture_output=True, text=True, check=True)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Prescott")  # a kernel this machine would not choose
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "65536")
    restarted = pytester.runpytest_subprocess(*options, "--threads=2")
    restarted.assert_outcomes(passed=1)
    restarted.stdout.fnmatch_lines(
        ["benchmarks: restarting without OPENBLAS_CORETYPE, without OPENBLAS_L2_SIZE, with OMP_WAIT_POLICY=PASSIVE*"]
    )
    assert restarted.stdout.str().count("restarting") == 1
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen["environment"] == IDLE_SLEEP
    assert set(seen["kernels"]) == set(json.loads(machine.stdout))  # NumPy's, SciPy's, ...: the machine's kernel
    saved = json.loads(next(storage.glob("*/0001_*.json")).read_text())
    assert saved["convcheck"]["openblas_overrides"] == {}
    assert [blas["architecture"] for blas in saved["convcheck"]["blas_kernels"]] == seen["kernels"]
    assert "idle library threads spin" not in restarted.stdout.str()


@pytest.mark.parametrize(
    ("loads", "threads", "flagged"),
    [([0.2, 1.9], 2, False), ([2.0, 2.0], 2, False), ([1.2, 2.4], 2, True), ([1.3, 0.4], 1, True), ([None], 1, False)],
)
def test_a_row_is_flagged_when_the_load_exceeds_its_threads(loads, threads, flagged):
    assert overloaded(loads, threads) is flagged


def test_a_failed_benchmark_is_not_reported_as_a_property_test_whose_process_died():
    summary = ConformanceSummary(SimpleNamespace(rootpath=ROOT), {}, "default", {})
    for nodeid, when in [
        ("benchmarks/test_conv2d.py::test_conv2d[im2col-rgb32]", "call"),  # a failed benchmark
        ("tests/test_contract.py::test_x[1]", "call"),
        ("properties/test_shape.py::test_output_shape_matches_formula[mine]", "???"),  # a crashed xdist worker's
    ]:
        summary.pytest_runtest_logreport(
            SimpleNamespace(nodeid=nodeid, when=when, outcome="failed", failed=True, user_properties=[])
        )
    assert summary.unattributed == ["properties/test_shape.py::test_output_shape_matches_formula[mine]"]


# Paired ratios on synthetic timings


def test_paired_ratios_cancel_drift_that_unpaired_medians_keep():
    rounds = np.arange(40)
    drift = 1.0 + 0.05 * rounds + 3.0 * (rounds % 7 == 0)  # a slowing machine with bursts of other work
    reference = 0.010 * drift
    subject = 1.25 * reference
    paired = paired_ratios(list(subject), list(reference))
    assert paired.median == pytest.approx(1.25)
    assert paired.q1 == pytest.approx(1.25)
    assert paired.q3 == pytest.approx(1.25)
    # Timed one after the other instead, the subject would see the later (slower) half of the drift:
    unpaired = np.median(1.25 * 0.010 * drift[20:]) / np.median(reference[:20])
    assert unpaired > 1.5


def test_ratio_spread_is_the_median_and_quartiles_of_per_round_ratios():
    subject = [2.0, 3.0, 4.0, 5.0, 6.0]
    reference = [1.0, 1.0, 1.0, 1.0, 1.0]
    assert paired_ratios(subject, reference) == Spread(4.0, 3.0, 5.0, 5)
    with pytest.raises(ValueError, match="same nonzero length"):
        paired_ratios([1.0, 2.0], [1.0])


# The tables


def row(
    implementation, median, q1=None, q3=None, ratios=None, loaded=False, workload="resnet18_conv2_b8", verified=None,
    direction=None,
) -> dict:  # fmt: skip
    """One benchmark as pytest-benchmark saves it (only the fields the tables read; no direction: as saved before
    the gradient side had rows)."""
    checked = {} if verified is None else {"verified": {"reference": "float64", "passed": verified}}
    return {
        "fullname": f"benchmarks/test_conv2d.py::test_conv2d[{implementation}-{workload}]",
        "group": workload,
        "extra_info": {
            "implementation": implementation,
            "workload": workload,
            **({} if direction is None else {"direction": direction}),
            "gflop": BY_NAME[workload].gflop,
            "ratios": ratios or {},
            "load": {"flagged": loaded},
            **checked,
        },
        "stats": {"median": median, "q1": q1 or median * 0.99, "q3": q3 or median * 1.01, "rounds": 20},
    }


def spread(median, width=0.02) -> dict:
    return {"median": median, "q1": median - width, "q3": median + width, "rounds": 20}


def test_run_table_is_compact_and_shows_ratios_with_their_spread_and_flags():
    run = {
        "benchmarks": [
            row("gemm", 0.010, ratios={"torch": spread(0.8)}, verified=True),
            row("im2col", 0.015, ratios={"gemm": spread(1.5), "torch": spread(1.2)}, loaded=True, verified=False),
            row("torch", 0.0125, ratios={"gemm": spread(1.25)}),
        ]
    }
    lines = report.run_table(report.rows(run))
    assert max(len(line) for line in lines) <= report.WIDTH
    im2col = next(line for line in lines if " im2col " in line)
    assert "1.50 [1.48-1.52]" in im2col
    assert "1.20 [1.18-1.22]" in im2col
    assert im2col.split()[-2:] == ["L", "FAIL"]  # flags, then the check of the timed result
    assert [line.split()[-1] for line in lines[2:4]] == ["ok", "-"]  # gemm verified; torch: not recorded
    assert f"{BY_NAME['resnet18_conv2_b8'].gflop / 0.015:8.1f}" in im2col
    assert [line.split()[1] for line in lines[2:5]] == ["gemm", "torch", "im2col"]  # fastest first


def test_the_gradient_side_s_rows_are_grouped_by_workload_and_direction():
    workload = "resnet18_conv2_b8"
    run = {
        "benchmarks": [
            row("torch", 0.020, ratios={"gemm": spread(1.1)}, direction="backward", verified=True),
            row("col2im", 0.013, ratios={"gemm": spread(1.3), "torch": spread(1.4)}, direction="transposed"),
            row("im2col", 0.022, ratios={"gemm": spread(1.7), "torch": spread(1.8)}),
            row("torch", 0.012, ratios={"gemm": spread(0.9)}, direction="transposed"),
            row("torch", 0.011, ratios={"gemm": spread(0.98)}, direction="forward"),
        ]
    }
    found = report.rows(run)
    assert [(r.group, r.implementation) for r in found] == [
        (workload, "torch"), (workload, "im2col"), (f"{workload} T", "torch"), (f"{workload} T", "col2im"),
        (f"{workload} bwd", "torch"),
    ]  # fmt: skip
    lines = report.run_table(found)
    assert max(len(line) for line in lines) <= report.WIDTH
    assert [line.split()[:3] for line in lines[2:9] if line] == [
        [workload, "torch", "11.000"], [workload, "im2col", "22.000"], [workload, "T", "torch"],
        [workload, "T", "col2im"], [workload, "bwd", "torch"],
    ]  # fmt: skip
    assert lines.count("") == 2
    assert lines[-1] == report.GRADIENT_LEGEND
    assert report.GRADIENT_LEGEND not in report.run_table(found[:2])  # a forward table is as before
    assert report.ratio_name(found[3], "torch") == f"{workload} T/col2im x torch"
    compared = report.compare_table(found, found, "itself")
    assert any(line.startswith(f"{workload} T ") and " col2im " in line for line in compared)


def test_a_paired_ratio_that_disagrees_with_the_ratio_of_the_medians_is_flagged_not_printed_as_a_result():
    # As measured on the ResNet-18 stem with two threads: im2col 18.5 ms, torch 7.6 ms, paired im2col/torch 0.64
    # (torch ran at about 29 ms in im2col's rounds).
    workload = "resnet18_stem_b8"
    run = {
        "benchmarks": [
            row("im2col", 0.0185, ratios={"torch": spread(0.64), "gemm": spread(3.7, 0.1)}, workload=workload),
            row("torch", 0.0076, ratios={"gemm": spread(1.52)}, workload=workload),
            row("gemm", 0.0050, ratios={"torch": spread(0.66)}, workload=workload),
        ]
    }
    found = {row.implementation: row for row in report.rows(run)}
    assert found["im2col"].disagreeing == {"torch": pytest.approx(0.0185 / 0.0076)}
    assert found["torch"].disagreeing == {}
    assert found["gemm"].disagreeing == {}
    im2col = next(line for line in report.run_table(list(found.values())) if " im2col " in line)
    assert "0.64 vs 2.43" in im2col
    assert "[0.62-0.66]" not in im2col
    assert "3.70 [3.60-3.80]" in im2col  # x GEMM agrees with 18.5 / 5.0
    assert report.flags(found["im2col"]) == "P"
    assert report.ratio_name(found["im2col"], "torch") == "resnet18_stem_b8/im2col x torch"
    compared = report.compare_table(list(found.values()), list(found.values()), "itself")
    assert "0.64? -> 0.64?" in next(line for line in compared if " im2col " in line)


def test_two_rows_that_pair_with_each_other_are_not_checked_against_their_medians():
    # The ResNet-18 downsample on a quiet machine, one thread: the GEMM row and torch's interleave the same two calls,
    # their paired ratios agree (2.69 and 1 / 0.36), and their medians (2.88) differ by the drift between the tests.
    workload = "resnet18_down_b8"
    run = {
        "benchmarks": [
            row("gemm", 0.662e-3, 0.651e-3, 0.673e-3, ratios={"torch": spread(0.36, 0.005)}, workload=workload),
            row("torch", 1.909e-3, 1.887e-3, 1.931e-3, ratios={"gemm": spread(2.69, 0.05)}, workload=workload),
        ]
    }
    assert [row.disagreeing for row in report.rows(run)] == [{}, {}]


def test_compare_table_shows_the_percent_change_and_flags_changes_beyond_the_noise():
    then = report.rows(
        {"benchmarks": [row("im2col", 0.020, ratios={"gemm": spread(2.0)}), row("torch", 0.010), row("gemm", 0.010)]}
    )
    now = report.rows(
        {
            "benchmarks": [
                row("im2col", 0.010, ratios={"gemm": spread(1.0)}),  # twice as fast: beyond the noise
                row("torch", 0.0101, q1=0.0095, q3=0.0107),  # +1%, within both runs' IQRs
                row("gemm", 0.0103, q1=0.01025, q3=0.01035),  # +3%: apart, but within the noise floor
                row("einsum", 0.3),  # not in the saved run
            ]
        }
    )
    lines = report.compare_table(now, then, "0001_saved.json")
    assert lines[0] == "compared with 0001_saved.json"
    assert max(len(line) for line in lines) <= report.WIDTH
    by_name = {line.split()[1]: line.split() for line in lines[3:-1]}
    assert by_name["im2col"][2:5] == ["20.000", "10.000", "-50.0%*"]
    assert by_name["im2col"][5:8] == ["2.00", "->", "1.00"]
    assert by_name["im2col"][8] == "-50.0%*"
    assert by_name["torch"][4] == "+1.0%"
    assert by_name["gemm"][4] == "+3.0%"
    assert by_name["einsum"][2] == "-"


# GEMM formulations


def test_every_gemm_formulation_is_the_layers_own_product():
    workload = BY_NAME["mobilenet_dw_b1"]
    product = gemm.layer_product(workload)
    results, bounds = {}, {}
    for name in gemm.formulations():
        a, b, out = gemm.operands(product, name)
        assert a.shape[-1] == b.shape[-2] == workload.depth, name
        assert 2 * out.size * workload.depth == workload.flops == product.flops, name
        results[name] = np.asarray(gemm.call(product, name)())
        # Two sums of K products in float32 differ by at most twice the bound of one (the suite's error model).
        bounds[name] = 4 * workload.depth * np.finfo(np.float32).eps / 2 * np.matmul(np.abs(a), np.abs(b))
    for name, result in results.items():  # each BLAS computes the same product from the same operands
        same = f"numpy {name.split(' ', 1)[1]}"
        assert np.all(np.abs(result - results[same]) <= bounds[name]), name
    assert len(results) == len(gemm.SHAPES) * (2 if torch_module() else 1)


@pytest.mark.parametrize("layer", ["resnet18_stem_b1", "resnet18_down_b1", "conv2d_lab"])
def test_the_gradient_side_s_products_are_its_gradients_products(layer):
    """grad_x's product is (K, C_out/G) @ (C_out/G, pixels), grad_w's (C_out/G, N*pixels) @ (N*pixels, K): each has
    the forward's FLOPs, the whole backward call both; the transposed workload's output is the forward input."""
    workload = BY_NAME[layer]
    x = workload.arrays[0]
    for direction in (gradients.TRANSPOSED, gradients.GRAD_X, gradients.GRAD_W, gradients.BACKWARD):
        side = gradients.GradientWorkload(workload, direction)
        assert sum(product.flops for product in side.products()) == side.flops
        assert side.flops == workload.flops * (2 if direction == gradients.BACKWARD else 1)
    columns, weights = gradients.GradientWorkload(workload, gradients.BACKWARD).products()
    pixels = workload.output_hw[0] * workload.output_hw[1]
    assert columns.dims == (workload.n, 1, workload.depth, workload.c_out, pixels)
    assert weights.dims == (1, 1, workload.c_out, workload.n * pixels, workload.depth)
    assert gradients.GradientWorkload(workload, gradients.TRANSPOSED).problem().output_shape == x.shape


# As a user meets it


def run_benchmarks(pytester, storage: Path, *options: str):
    """``pytest benchmarks`` of this repository on the smallest workload, saving under ``storage``."""
    return pytester.runpytest_subprocess(
        str(ROOT / "benchmarks"),
        f"--rootdir={ROOT}",
        "-p",
        "no:cacheprovider",
        "-k",
        "size_lab and (im2col or gemm or torch)",
        "--benchmark-min-rounds=2",
        "--benchmark-max-time=0.01",
        f"--benchmark-storage={storage}",
        *options,
        timeout=300,
    )


def test_compare_saves_a_first_run_says_so_once_then_compares_with_it(pytester, clean_environment):
    storage = pytester.path / "storage"
    first = run_benchmarks(pytester, storage, "--benchmark-compare", "--benchmark-compare-fail=median:1000%")
    assert first.ret == 0, first.stdout.str()
    assert first.stdout.str().count("no saved benchmark run to compare with") == 1
    assert len(list(storage.glob("*/0001_*.json"))) == 1
    first.stdout.fnmatch_lines(["*convcheck benchmarks: * threads*", "workload * x GEMM [[]IQR[]]*"])
    saved = json.loads(next(storage.glob("*/0001_*.json")).read_text())["benchmarks"]
    assert {bench["extra_info"]["verified"]["passed"] for bench in saved} == {True}  # every timed result verified

    second = run_benchmarks(pytester, storage, "--benchmark-compare", "--benchmark-compare-fail=median:1000%")
    assert second.ret == 0, second.stdout.str()
    assert "no saved benchmark run" not in second.stdout.str()
    second.stdout.fnmatch_lines(["compared with *0001_*", "size_lab * im2col * *%*"])
    assert len(list(storage.glob("*/0002_*.json"))) == 1


def test_a_wrong_benchmarked_result_fails_its_row_with_the_suite_s_report(pytester, clean_environment, monkeypatch):
    """The result that is timed is verified: a flipped kernel fails its row with the worst output and the bound."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the gallery importable from the inner run's folder
    result = pytester.runpytest_subprocess(
        str(ROOT / "benchmarks"), f"--rootdir={ROOT}", "-p", "no:cacheprovider", "--benchmark-disable",
        "-k", "size_lab and flipped", "--impl=flipped=tests.gallery.buggy:flipped_kernel",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*the benchmarked result of size_lab * [[]flipped[]]: * outputs outside the bound",
         "*worst: out[[]*", "*expected: the float64 reference, within the error bound"]
    )  # fmt: skip


def test_a_wrong_transposed_result_fails_its_row_and_the_table_says_so(pytester, clean_environment, monkeypatch):
    """The gradient side's rows are verified too: an unflipped transposed kernel fails its row with the worst output,
    and the table's check column shows FAIL beside the correct rows of its group."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    storage = pytester.path / "storage"
    result = pytester.runpytest_subprocess(
        str(ROOT / "benchmarks"), f"--rootdir={ROOT}", "-p", "no:cacheprovider", "-k",
        "conv2d_lab and transposed and (unflipped or torch)",
        "--impl=unflipped=tests.gallery.backward_bugs:kernel_not_flipped",
        "--benchmark-min-rounds=2", "--benchmark-max-time=0.01", f"--benchmark-storage={storage}",
    )  # fmt: skip
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*the benchmarked result of conv2d_lab T (transposed of *) [[]unflipped[]]: * outputs outside the bound",
         "*worst: out[[]*", "*expected: the float64 reference, within the error bound"]
    )  # fmt: skip
    for line in ("conv2d_lab T * torch * ok", "conv2d_lab T * unflipped * FAIL"):  # either may be the faster
        result.stdout.fnmatch_lines([line])
    saved = json.loads(next(storage.glob("*/0001_*.json")).read_text())["benchmarks"]
    verdicts = {bench["extra_info"]["implementation"]: bench["extra_info"]["verified"]["passed"] for bench in saved}
    assert verdicts == {"torch": True, "unflipped": False}
    assert {bench["extra_info"]["direction"] for bench in saved} == {"transposed"}


def fake_run(path: Path, threads: int | None = None) -> Path:
    """A saved run in pytest-benchmark's format, as ``pytest benchmarks`` writes it (only the fields used)."""
    benchmarks = [
        row("torch", 2e-5, workload="size_lab", ratios={"gemm": spread(20.0)}),
        row("im2col", 3e-5, workload="size_lab", ratios={"gemm": spread(30.0), "torch": spread(1.5)}),
        row("gemm", 1e-6, workload="size_lab"),
        row("torch", 1.2e-3, workload="resnet18_conv2_b1", ratios={"gemm": spread(0.8)}),
        row("im2col", 1.8e-3, workload="resnet18_conv2_b1", ratios={"gemm": spread(1.2), "torch": spread(1.5)}),
        row("gemm", 1.5e-3, workload="resnet18_conv2_b1"),
    ]
    recorded = {} if threads is None else {"convcheck": {"threads": {"requested": threads}}}
    path.write_text(json.dumps({"benchmarks": benchmarks, **recorded}))
    return path


def test_plot_writes_charts_and_a_summary(tmp_path, capsys):
    fake_run(tmp_path / "0001_before.json")
    run = fake_run(tmp_path / "0002_run.json")
    assert plot.main([str(run), "--out", str(tmp_path / "charts")]) == 0
    written = {path.name for path in (tmp_path / "charts").iterdir()}
    assert {"gflops.png", "time_vs_flops.png", "ratios.png", "summary.txt"} <= written
    assert plot.recent_runs(run) == [tmp_path / "0001_before.json", run]
    table = capsys.readouterr().out
    conv2 = next(line for line in table.splitlines() if line.startswith("resnet18_conv2_b1") and "im2col" in line)
    assert "1.20 [1.18-1.22]" in conv2
    assert "1.50 [1.48-1.52]" in conv2
    gflops = BY_NAME["resnet18_conv2_b1"].flops / 1.8e-3 / 1e9
    assert f"{gflops:.1f}" in conv2


def test_plot_charts_the_conv2d_rows_and_tables_every_row(tmp_path, capsys):
    gradient_rows = [
        row("torch", 1.1e-3, workload="resnet18_conv2_b1", direction="transposed", ratios={"gemm": spread(0.9)}),
        row("gemm", 1.2e-3, workload="resnet18_conv2_b1", direction="transposed"),
    ]
    path = fake_run(tmp_path / "0001_run.json")
    document = json.loads(path.read_text())
    document["benchmarks"] += gradient_rows
    path.write_text(json.dumps(document))
    assert {row["workload"] for row in plot.load(path)} == {"size_lab", "resnet18_conv2_b1"}
    assert len(plot.load(path)) == 6  # the conv2d rows: the charts'
    assert plot.main([str(path), "--out", str(tmp_path / "charts")]) == 0
    assert "resnet18_conv2_b1 T" in capsys.readouterr().out
    only = tmp_path / "0002_gradients.json"
    only.write_text(json.dumps({"benchmarks": gradient_rows}))
    assert plot.main([str(only), "--out", str(tmp_path / "gradient_charts")]) == 0
    out = capsys.readouterr().out
    assert "resnet18_conv2_b1 T" in out
    assert "no conv2d rows in this run: no charts" in out
    assert [path.name for path in (tmp_path / "gradient_charts").iterdir()] == ["summary.txt"]


def test_the_ratio_chart_labels_each_runs_thread_count(tmp_path):
    runs = [fake_run(tmp_path / "0001_old.json"), fake_run(tmp_path / "0002_one.json", 1)]
    runs.append(fake_run(tmp_path / "0003_two.json", 2))
    assert [plot.threads(run) for run in runs] == ["threads unrecorded", "1 thread", "2 threads"]
    series, title = plot.run_series(runs)
    assert [(label, marker) for label, marker, _ in series] == [
        ("0001, threads unrecorded", "D"),  # one marker per thread count, in sorted order
        ("0002, 1 thread", "o"),
        ("0003, 2 threads", "s"),
    ]
    assert title == (
        "paired ratios per workload, runs 0001, threads unrecorded; 0002, 1 thread; 0003, 2 threads "
        "(3 thread counts, one marker each: compare runs of one count)"
    )
    assert "thread counts" not in plot.run_series(runs[1:2])[1]

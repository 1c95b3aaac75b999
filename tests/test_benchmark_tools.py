"""The benchmark tooling: thread control, load flags, paired ratios, the run and comparison tables, and the plot
command, on synthetic timings and as a user meets them (``pytest benchmarks`` run by ``pytester``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import gemm, plot, report
from benchmarks.control import IDLE_SLEEP, overloaded, spinning_settings
from benchmarks.pairing import Spread, paired_ratios
from benchmarks.workloads import BY_NAME
from properties.threads import limited_threads, thread_counts, torch_module

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_environment(monkeypatch):
    """No xdist worker or Hypothesis settings of the outer run leak into an inner pytest run."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "HYPOTHESIS_PROFILE", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)


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
        from properties.threads import thread_counts, torch_module

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
    spinning = settings == "missing"
    assert saved["convcheck"]["idle_threads_spin"] is spinning
    assert ("the idle threads of one library keep spinning" in output) is spinning
    assert ("start the run with OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4" in output) is spinning


@pytest.mark.parametrize(
    ("loads", "threads", "flagged"),
    [([0.2, 1.9], 2, False), ([2.0, 2.0], 2, False), ([1.2, 2.4], 2, True), ([1.3, 0.4], 1, True), ([None], 1, False)],
)
def test_a_row_is_flagged_when_the_load_exceeds_its_threads(loads, threads, flagged):
    assert overloaded(loads, threads) is flagged


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
    implementation, median, q1=None, q3=None, ratios=None, loaded=False, workload="resnet18_conv2_b8", verified=None
) -> dict:
    """One benchmark as pytest-benchmark saves it (only the fields the tables read)."""
    checked = {} if verified is None else {"verified": {"reference": "float64", "passed": verified}}
    return {
        "fullname": f"benchmarks/test_conv2d.py::test_conv2d[{implementation}-{workload}]",
        "group": workload,
        "extra_info": {
            "implementation": implementation,
            "workload": workload,
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
    results, bounds = {}, {}
    for name in gemm.formulations():
        a, b, out = gemm.operands(workload, name)
        assert a.shape[-1] == b.shape[-2] == workload.depth, name
        assert 2 * out.size * workload.depth == workload.flops, name
        results[name] = np.asarray(gemm.product(workload, name)())
        # Two sums of K products in float32 differ by at most twice the bound of one (the suite's error model).
        bounds[name] = 4 * workload.depth * np.finfo(np.float32).eps / 2 * np.matmul(np.abs(a), np.abs(b))
    for name, result in results.items():  # each BLAS computes the same product from the same operands
        same = f"numpy {name.split(' ', 1)[1]}"
        assert np.all(np.abs(result - results[same]) <= bounds[name]), name
    assert len(results) == len(gemm.SHAPES) * (2 if torch_module() else 1)


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
        ["*PropertyFailure: the benchmarked result of size_lab * [[]flipped[]]: * outputs outside the bound",
         "*worst: out[[]*", "*expected: the float64 reference, within the error bound"]
    )  # fmt: skip


def fake_run(path: Path) -> Path:
    """A saved run in pytest-benchmark's format, as ``pytest benchmarks`` writes it (only the fields used)."""
    benchmarks = [
        row("torch", 2e-5, workload="size_lab", ratios={"gemm": spread(20.0)}),
        row("im2col", 3e-5, workload="size_lab", ratios={"gemm": spread(30.0), "torch": spread(1.5)}),
        row("gemm", 1e-6, workload="size_lab"),
        row("torch", 1.2e-3, workload="resnet18_conv2_b1", ratios={"gemm": spread(0.8)}),
        row("im2col", 1.8e-3, workload="resnet18_conv2_b1", ratios={"gemm": spread(1.2), "torch": spread(1.5)}),
        row("gemm", 1.5e-3, workload="resnet18_conv2_b1"),
    ]
    path.write_text(json.dumps({"benchmarks": benchmarks}))
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

"""The benchmark tooling as a user meets it: a first ``--benchmark-compare`` run saves, the next one compares, and
the plot command turns a saved run into charts and a summary table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks import plot
from benchmarks.workloads import BY_NAME

ROOT = Path(__file__).resolve().parents[1]


def run_benchmarks(storage: Path, *options: str) -> subprocess.CompletedProcess:
    """``pytest benchmarks`` on the smallest workload only, saving under ``storage``."""
    command = [sys.executable, "-m", "pytest", "benchmarks", "-p", "no:cacheprovider", "-q", "-k", "size_lab"]
    command += ["--benchmark-min-rounds=2", "--benchmark-max-time=0.01", f"--benchmark-storage={storage}", *options]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "HYPOTHESIS_"))}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_compare_saves_a_first_run_then_compares_with_it(tmp_path):
    storage = tmp_path / "storage"
    first = run_benchmarks(storage, "--benchmark-compare", "--benchmark-compare-fail=median:1000%")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "no saved benchmark run to compare with yet" in first.stdout
    saved = list(storage.glob("*/0001_*.json"))
    assert len(saved) == 1, first.stdout

    second = run_benchmarks(storage, "--benchmark-compare", "--benchmark-compare-fail=median:1000%")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "no saved benchmark run" not in second.stdout
    assert "0001" in second.stdout  # the comparison table names the saved run it compares with
    assert len(list(storage.glob("*/0002_*.json"))) == 1


def fake_run(path: Path) -> Path:
    """A saved run in pytest-benchmark's format, as ``pytest benchmarks`` writes it (only the fields used)."""
    benchmarks = []
    for workload, implementation, median in [
        ("size_lab", "torch", 2e-5),
        ("size_lab", "im2col", 3e-5),
        ("size_lab", "gemm", 1e-6),
        ("resnet18_conv2_b1", "torch", 1.2e-3),
        ("resnet18_conv2_b1", "im2col", 1.8e-3),
        ("resnet18_conv2_b1", "gemm", 1.5e-3),
    ]:
        benchmarks.append(
            {
                "group": workload,
                "extra_info": {"implementation": implementation, "workload": workload},
                "stats": {"median": median, "iqr": median / 50, "rounds": 20},
            }
        )
    path.write_text(json.dumps({"benchmarks": benchmarks}))
    return path


def test_plot_writes_charts_and_a_summary(tmp_path, capsys):
    run = fake_run(tmp_path / "0001_run.json")
    assert plot.main([str(run), "--out", str(tmp_path / "charts")]) == 0
    written = {path.name for path in (tmp_path / "charts").iterdir()}
    assert {"gflops.png", "time_vs_flops.png", "summary.txt"} <= written
    table = capsys.readouterr().out
    conv2 = next(line for line in table.splitlines() if line.startswith("resnet18_conv2_b1") and "im2col" in line)
    assert conv2.split()[-2:] == ["1.20", "1.50"]  # im2col / gemm, im2col / torch
    gflops = BY_NAME["resnet18_conv2_b1"].flops / 1.8e-3 / 1e9
    assert f"{gflops:.1f}" in conv2

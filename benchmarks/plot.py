"""Charts and a summary table of a saved benchmark run: ``python -m benchmarks.plot [RUN.json] [--out DIR]``.

Without a file it reads the latest run saved under ``.benchmarks/`` (by ``pytest benchmarks``). It writes
``gflops.png`` (GFLOP/s per implementation per workload, with the GEMM baseline), ``time_vs_flops.png`` (time
against FLOPs, log-log, per implementation) and ``summary.txt`` into ``benchmarks/charts/``, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from benchmarks.workloads import BY_NAME, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent
STORAGE = ROOT / ".benchmarks"
CHARTS = Path(__file__).resolve().parent / "charts"
GEMM = "gemm"
REFERENCE = "torch"


def latest_run(storage: Path = STORAGE) -> Path:
    """The most recently saved run (highest counter, then newest file) in any machine folder of ``storage``."""
    runs = sorted(storage.glob("*/[0-9][0-9][0-9][0-9]_*.json"), key=lambda path: (path.stat().st_mtime, path.name))
    if not runs:
        raise SystemExit(f"no saved benchmark run under {storage}: run `pytest benchmarks` first")
    return runs[-1]


def load(path: Path) -> list[dict]:
    """One row per timed benchmark: implementation, workload, median/IQR seconds, rounds, GFLOP/s, FLOPs."""
    rows = []
    for bench in json.loads(path.read_text())["benchmarks"]:
        info, stats = bench.get("extra_info", {}), bench["stats"]
        workload = info.get("workload", bench.get("group"))
        if "implementation" not in info or workload not in BY_NAME:
            continue
        flops = BY_NAME[workload].flops
        rows.append(
            {
                "implementation": info["implementation"],
                "workload": workload,
                "median": stats["median"],
                "iqr": stats["iqr"],
                "rounds": stats["rounds"],
                "flops": flops,
                "gflops": flops / stats["median"] / 1e9,
            }
        )
    return rows


def implementations(rows: list[dict]) -> list[str]:
    """Implementation names, fastest first by median GFLOP/s (the GEMM baseline last)."""
    speed: dict[str, list[float]] = {}
    for row in rows:
        speed.setdefault(row["implementation"], []).append(row["gflops"])
    names = sorted((name for name in speed if name != GEMM), key=lambda name: -statistics.median(speed[name]))
    return names + ([GEMM] if GEMM in speed else [])


def summary(rows: list[dict]) -> str:
    """A text table: per workload and implementation, time, GFLOP/s, noise and ratios to GEMM and torch."""
    by_key = {(row["workload"], row["implementation"]): row for row in rows}
    header = f"{'workload':24} {'implementation':14} {'median ms':>10} {'GFLOP/s':>8} {'IQR/med':>8} {'rounds':>7} "
    header += f"{'/gemm':>7} {'/torch':>7}"
    lines = [header, "-" * len(header)]
    for workload in WORKLOADS:
        present = [row for row in rows if row["workload"] == workload.name]
        if not present:
            continue
        gemm, torch = by_key.get((workload.name, GEMM)), by_key.get((workload.name, REFERENCE))
        for row in sorted(present, key=lambda row: row["median"]):
            ratios = [f"{row['median'] / base['median']:7.2f}" if base else f"{'-':>7}" for base in (gemm, torch)]
            lines.append(
                f"{workload.name:24} {row['implementation']:14} {row['median'] * 1e3:10.3f} {row['gflops']:8.1f} "
                f"{row['iqr'] / row['median']:8.1%} {row['rounds']:7d} {' '.join(ratios)}"
            )
        lines.append("")
    return "\n".join(lines)


def plot(rows: list[dict], out: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = implementations(rows)
    colors = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(n for n in names if n != GEMM)}
    markers = dict(zip([n for n in names if n != GEMM], "osD^v<>pXh*", strict=False))
    workloads = [w for w in WORKLOADS if any(row["workload"] == w.name for row in rows)]
    by_key = {(row["workload"], row["implementation"]): row for row in rows}
    out.mkdir(parents=True, exist_ok=True)

    # 1. GFLOP/s per implementation per workload: a dot plot, one line per workload, the GEMM baseline as a bar.
    fig, ax = plt.subplots(figsize=(12, 0.36 * len(workloads) + 2.2))
    for y, workload in enumerate(workloads):
        gemm = by_key.get((workload.name, GEMM))
        if gemm:
            ax.barh(y, gemm["gflops"], height=0.7, color="0.88", edgecolor="0.6", zorder=1)
        for name in names:
            row = by_key.get((workload.name, name))
            if row and name != GEMM:
                ax.scatter(row["gflops"], y, s=36, marker=markers[name], color=colors[name], zorder=3, label=name)
    family_edges = [i for i in range(1, len(workloads)) if workloads[i].family != workloads[i - 1].family]
    for edge in family_edges:
        ax.axhline(edge - 0.5, color="0.5", linewidth=0.6)
    ax.set_yticks(range(len(workloads)))
    ax.set_yticklabels([f"{w.name}  ({w.label()}, {w.gflop:.3g} GFLOP)" for w in workloads], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("GFLOP/s (median time; log scale) — grey bar: GEMM baseline (NumPy matmul of the im2col operands)")
    ax.grid(axis="x", which="both", color="0.9", zorder=0)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(
        unique.values(),
        unique.keys(),
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(unique),
        fontsize=8,
        frameon=False,
    )
    ax.set_title(f"conv2d throughput per workload — {title}", fontsize=10, pad=22)
    fig.tight_layout()
    first = out / "gflops.png"
    fig.savefig(first, dpi=110)
    plt.close(fig)

    # 2. Time against FLOPs, log-log, one series per implementation (float32 filled, float64 hollow).
    fig, ax = plt.subplots(figsize=(10, 6.5))
    for name in names:
        mine = [row for row in rows if row["implementation"] == name]
        color = "black" if name == GEMM else colors[name]
        marker = "x" if name == GEMM else markers[name]
        for double in (False, True):
            part = [row for row in mine if (BY_NAME[row["workload"]].dtype != "float32") == double]
            if not part:
                continue
            style = {"facecolors": "none", "edgecolors": [color]} if double and marker != "x" else {"color": color}
            ax.scatter(
                [r["flops"] for r in part],
                [r["median"] for r in part],
                marker=marker,
                s=42,
                alpha=0.85,
                label=None if double else (f"{GEMM} (baseline)" if name == GEMM else name),
                **style,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    for rate in (1e8, 1e9, 1e10, 1e11):  # lines of constant GFLOP/s
        ax.plot(xlim, [xlim[0] / rate, xlim[1] / rate], color="0.8", linewidth=0.7, zorder=0)
        x_text = min(xlim[1], ylim[1] * rate) / 1.5
        ax.annotate(
            f"{rate / 1e9:g} GFLOP/s", (x_text, x_text / rate), fontsize=7, color="0.45", ha="right", rotation=28
        )
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel("FLOPs of the workload (2·N·C_out·H_out·W_out·C_in/G·kH·kW)")
    ax.set_ylabel("median time (s)")
    ax.grid(which="major", color="0.92")
    ax.legend(fontsize=8, title="filled: float32, hollow: float64", title_fontsize=8, loc="upper left")
    ax.set_title(f"conv2d time against work — {title}", fontsize=10)
    fig.tight_layout()
    second = out / "time_vs_flops.png"
    fig.savefig(second, dpi=110)
    plt.close(fig)
    return [first, second]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plot", description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a saved run (.json); default: the latest under .benchmarks/")
    parser.add_argument("--out", type=Path, default=CHARTS, help=f"output folder (default: {CHARTS})")
    args = parser.parse_args(argv)
    path = args.run or latest_run()
    rows = load(path)
    if not rows:
        raise SystemExit(f"{path}: no convcheck benchmarks in this run")
    text = summary(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.txt").write_text(f"{path}\n\n{text}\n")
    print(text)
    for written in plot(rows, args.out, path.stem[:40]):
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

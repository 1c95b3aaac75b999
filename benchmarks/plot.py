"""Charts and a summary table of a saved benchmark run: ``python -m benchmarks.plot [RUN.json] [--out DIR]``.

Without a file it reads the latest run saved under ``.benchmarks/`` (by ``pytest benchmarks``). It writes
``gflops.png`` (GFLOP/s per implementation per workload, with the GEMM baseline), ``time_vs_flops.png`` (time
against FLOPs, log-log, per implementation), ``ratios.png`` (the paired ratios to GEMM and torch per workload, for
this run and the runs saved before it, each labelled with its thread count; ratios flagged ``P`` are left out) and
``summary.txt`` into ``benchmarks/charts/``, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from benchmarks import report
from benchmarks.report import GEMM, REFERENCE
from benchmarks.workloads import BY_NAME, FORWARD, WORKLOADS

ROOT = Path(__file__).resolve().parent.parent
STORAGE = ROOT / ".benchmarks"
CHARTS = Path(__file__).resolve().parent / "charts"
RUNS_IN_CHART = 5
MARKERS = "osD^v"  # one per thread count in the ratio chart


def latest_run(storage: Path = STORAGE) -> Path:
    """The most recently saved run (highest counter, then newest file) in any machine folder of ``storage``."""
    runs = sorted(storage.glob("*/[0-9][0-9][0-9][0-9]_*.json"), key=lambda path: (path.stat().st_mtime, path.name))
    if not runs:
        raise SystemExit(f"no saved benchmark run under {storage}: run `pytest benchmarks` first")
    return runs[-1]


def load(path: Path) -> list[dict]:
    """One row per timed conv2d benchmark of a known workload (the charts' rows; the gradient side's are in the
    table only): implementation, workload, median seconds, GFLOP/s, FLOPs, and the ``report.Row`` it comes from
    (paired ratios, flags)."""
    found = []
    for row in report.rows(json.loads(path.read_text())):
        if row.workload in BY_NAME and row.direction == FORWARD:
            flops = BY_NAME[row.workload].flops
            found.append(
                {
                    "implementation": row.implementation,
                    "workload": row.workload,
                    "median": row.time.median,
                    "flops": flops,
                    "gflops": flops / row.time.median / 1e9,
                    "row": row,
                }
            )
    return found


def threads(path: Path) -> str:
    """``"1 thread"``, ``"2 threads"``: the thread count a saved run used (``"threads unrecorded"`` before runs
    recorded it)."""
    count = ((json.loads(path.read_text()).get("convcheck") or {}).get("threads") or {}).get("requested")
    return "threads unrecorded" if count is None else f"{count} thread{'s' if count != 1 else ''}"


def implementations(rows: list[dict]) -> list[str]:
    """Implementation names, fastest first by median GFLOP/s (the GEMM baseline last)."""
    speed: dict[str, list[float]] = {}
    for row in rows:
        speed.setdefault(row["implementation"], []).append(row["gflops"])
    names = sorted((name for name in speed if name != GEMM), key=lambda name: -statistics.median(speed[name]))
    return names + ([GEMM] if GEMM in speed else [])


def summary(found: list[report.Row]) -> str:
    """The run's compact table (``benchmarks.report``), every row: time, GFLOP/s, paired ratios with their IQR,
    flags."""
    return "\n".join(report.run_table(found))


def recent_runs(path: Path, count: int = RUNS_IN_CHART) -> list[Path]:
    """``path`` and the runs saved before it in its folder, oldest first (at most ``count``)."""
    earlier = sorted(path.parent.glob("[0-9][0-9][0-9][0-9]_*.json"), key=lambda run: run.name)
    earlier = [run for run in earlier if run.name < path.name]
    return (earlier + [path])[-count:]


def run_series(runs: list[Path]) -> tuple[list[tuple[str, str, dict]], str]:
    """Each run's label (its counter and thread count), marker (one per thread count) and rows by key; and the
    ratio chart's title, which says when the thread counts differ."""
    counts = sorted({threads(run) for run in runs})
    series = [
        (f"{run.stem.split('_')[0]}, {threads(run)}", MARKERS[counts.index(threads(run)) % len(MARKERS)],
         {row["row"].key: row["row"] for row in load(run)})
        for run in runs
    ]  # fmt: skip
    mixed = f" ({len(counts)} thread counts, one marker each: compare runs of one count)" if len(counts) > 1 else ""
    return series, f"paired ratios per workload, runs {'; '.join(label for label, *_ in series)}{mixed}"


def ratio_chart(runs: list[Path], out: Path) -> Path:
    """The paired ratios (x GEMM, x torch) per workload and implementation, one marker per run, IQR as error bars;
    each run labelled with its thread count, and the title says when they differ (ratios of different thread counts
    are different measurements). A ratio that disagrees with the ratio of the medians (flag P) is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_run, title = run_series(runs)
    workloads = [w.name for w in WORKLOADS if any(key[0] == w.name for *_, rows in by_run for key in rows)]
    names = sorted({key[1] for *_, rows in by_run for key in rows} - {GEMM})
    fig, axes = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
    width = 0.8 / max(1, len(names) * len(by_run))
    for ax, reference in zip(axes, (GEMM, REFERENCE), strict=True):
        for i, name in enumerate(names):
            color = plt.get_cmap("tab10")(i % 10)
            for j, (label, marker, rows) in enumerate(by_run):
                xs, ys, low, high = [], [], [], []
                for x, workload in enumerate(workloads):
                    row = rows.get((workload, name))
                    spread = row.ratios.get(reference) if row and reference not in row.disagreeing else None
                    if spread:
                        xs.append(x - 0.4 + width * (i * len(by_run) + j + 0.5))
                        ys.append(spread.median)
                        low.append(spread.median - spread.q1)
                        high.append(spread.q3 - spread.median)
                if xs:
                    alpha = 0.35 + 0.65 * (j + 1) / len(by_run)
                    ax.errorbar(
                        xs,
                        ys,
                        yerr=[low, high],
                        fmt=marker,
                        ms=4,
                        color=color,
                        alpha=alpha,
                        label=f"{name} (run {label})",
                    )
        ax.axhline(1.0, color="0.5", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_ylabel(f"time / {reference} (paired, median and IQR)")
        ax.grid(axis="y", which="both", color="0.92")
    axes[0].legend(fontsize=7, ncol=max(1, len(by_run)), loc="upper left", frameon=False)
    axes[-1].set_xticks(range(len(workloads)))
    axes[-1].set_xticklabels(workloads, rotation=60, ha="right", fontsize=7)
    axes[0].set_title(title, fontsize=10)
    fig.tight_layout()
    path = out / "ratios.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
    ax.set_xlabel("GFLOP/s (median time; log scale) — grey bar: GEMM baseline (the layer's product, fastest BLAS)")
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
    found = report.rows(json.loads(path.read_text()))
    if not found:
        raise SystemExit(f"{path}: no convcheck benchmarks in this run")
    text = summary(found)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.txt").write_text(f"{path} ({threads(path)})\n\n{text}\n")
    print(text)
    rows = load(path)
    if not rows:
        print("no conv2d rows in this run: no charts (the gradient side's rows are in the table only)")
        return 0
    for written in [
        *plot(rows, args.out, f"{path.stem[:40]}, {threads(path)}"),
        ratio_chart(recent_runs(path), args.out),
    ]:
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The run's tables, at most 120 columns wide: one row per benchmark, and the comparison with a saved run.

Both read pytest-benchmark's JSON (the run being saved, or a saved one), so a table can be rebuilt from any run.
A change between runs is beyond the noise (``*``) when the interquartile ranges of the two runs do not overlap and
the medians differ by more than the 5% a row may spread on a quiet machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.pairing import Spread
from benchmarks.workloads import WORKLOADS

GEMM = "gemm"  # the implementation name of the GEMM rows (the roofline: the fastest BLAS installed)
LIBRARY_GEMM = "gemm[{library}]"  # the GEMM row of one library's BLAS
REFERENCE = "torch"
REFERENCES = (GEMM, REFERENCE)  # the ratio columns, in order
WIDTH = 120
NOISE_FLOOR = 5.0  # percent: the IQR/median every row of 1 ms or more keeps on a quiet machine
ORDER = {workload.name: index for index, workload in enumerate(WORKLOADS)}


@dataclass(frozen=True)
class Row:
    """One timed benchmark: per-call time (median and IQR over rounds), GFLOP/s, paired ratios and flags."""

    workload: str
    implementation: str
    time: Spread
    gflops: float
    ratios: dict[str, Spread] = field(default_factory=dict)
    loaded: bool = False  # measured while the load exceeded the threads in use
    below_gemm: bool = False  # an algorithm that does fewer multiplications than the layer's GEMM
    verified: bool | None = None  # the timed result checked against the float64 reference (None: not recorded)

    @property
    def key(self) -> tuple[str, str]:
        return self.workload, self.implementation


def rows(run: dict) -> list[Row]:
    """The convcheck rows of a pytest-benchmark JSON document, in workload order, fastest first within one."""
    found = []
    for bench in run.get("benchmarks", []):
        info, stats = bench.get("extra_info", {}), bench.get("stats", {})
        if "implementation" not in info or not stats.get("median"):
            continue
        median = stats["median"]
        time = Spread(median, stats.get("q1", median), stats.get("q3", median), stats.get("rounds", 0))
        found.append(
            Row(
                workload=info.get("workload", bench.get("group", "")),
                implementation=info["implementation"],
                time=time,
                gflops=info.get("gflop", 0.0) / time.median,
                ratios={name: Spread(**spread) for name, spread in info.get("ratios", {}).items()},
                loaded=bool(info.get("load", {}).get("flagged", False)),
                below_gemm=bool(info.get("below_gemm", False)),
                verified=info["verified"]["passed"] if "verified" in info else None,
            )
        )
    return sorted(found, key=lambda row: (ORDER.get(row.workload, len(ORDER)), row.workload, row.time.median))


def number(value: float) -> str:
    """Three significant figures, without an exponent for the values a ratio takes."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def ratio_text(row: Row, reference: str) -> str:
    if row.implementation == reference:
        return "1"
    spread = row.ratios.get(reference)
    return f"{number(spread.median)} [{number(spread.q1)}-{number(spread.q3)}]" if spread else "-"


def flags(row: Row) -> str:
    return ("L" if row.loaded else "") + ("<" if row.below_gemm else "")


RUN_HEADER = (
    f"{'workload':24} {'implementation':14} {'median ms':>9} {'GFLOP/s':>8} {'x GEMM [IQR]':>18} "
    f"{'x torch [IQR]':>18} {'IQR/med':>7} {'flags':5} {'check':5}"
)


CHECKS = {True: "ok", False: "FAIL", None: "-"}


def run_table(found: list[Row], torch_available: bool = True) -> list[str]:
    """One line per row: median time, GFLOP/s, the paired ratios with their IQR, the time's IQR/median, flags, and
    whether the timed result was verified."""
    lines = [RUN_HEADER, "-" * len(RUN_HEADER)]
    previous = None
    for row in found:
        if previous is not None and row.workload != previous:
            lines.append("")
        previous = row.workload
        torch = ratio_text(row, REFERENCE) if torch_available else "unavailable"
        lines.append(
            f"{row.workload:24} {row.implementation:14} {row.time.median * 1e3:9.3f} {row.gflops:8.1f} "
            f"{ratio_text(row, GEMM):>18} {torch:>18} {row.time.relative_iqr:7.1%} {flags(row):5} "
            f"{CHECKS[row.verified]:5}".rstrip()
        )
    lines.append(
        "x GEMM, x torch: median of per-round ratios (interleaved rounds) [interquartile range]; "
        "flags: L load above threads,"
    )
    lines.append("< fewer multiplications than the layer's GEMM (a transform algorithm: the ratio is not a roofline)")
    lines.append("check: the timed result against the float64 reference, within its error bound (ok, FAIL, - unknown)")
    return lines


def percent(now: float, then: float) -> float:
    """The change from ``then`` to ``now`` in percent (positive: larger now)."""
    return (now / then - 1.0) * 100.0


def beyond_noise(now: Spread, then: Spread) -> bool:
    """Whether a change is more than noise: the two IQRs do not overlap and the medians differ by more than
    ``NOISE_FLOOR`` (the spread a row may have on a quiet machine, so never a difference between two such runs)."""
    return not now.overlaps(then) and abs(percent(now.median, then.median)) > NOISE_FLOOR


def change(now: Spread | None, then: Spread | None) -> str:
    """``+12.3%``, with ``*`` when the change is beyond the noise."""
    if now is None or then is None:
        return "-"
    return f"{percent(now.median, then.median):+.1f}%" + ("*" if beyond_noise(now, then) else "")


COMPARE_HEADER = (
    f"{'workload':24} {'implementation':14} {'then ms':>9} {'now ms':>9} {'time':>8}  "
    f"{'x GEMM':>13} {'change':>8}  {'x torch':>13} {'change':>8}"
)


def compare_table(now: list[Row], then: list[Row], label: str) -> list[str]:
    """Each row of this run beside the same row of a saved run: times and paired ratios with their % change."""
    before = {row.key: row for row in then}
    lines = [f"compared with {label}", COMPARE_HEADER, "-" * len(COMPARE_HEADER)]
    for row in now:
        old = before.get(row.key)
        ratios = []
        for reference in REFERENCES:
            new_ratio = row.ratios.get(reference)
            old_ratio = old.ratios.get(reference) if old else None
            pair = (
                f"{number(old_ratio.median) if old_ratio else '-'} -> {number(new_ratio.median) if new_ratio else '-'}"
            )
            ratios.append(f"{pair:>13} {change(new_ratio, old_ratio):>8}")
        then_ms = f"{old.time.median * 1e3:9.3f}" if old else f"{'-':>9}"
        lines.append(
            f"{row.workload:24} {row.implementation:14} {then_ms} {row.time.median * 1e3:9.3f} "
            f"{change(row.time, old.time if old else None):>8}  {'  '.join(ratios)}"
        )
    lines.append("change of the median; * beyond the noise: interquartile ranges apart and medians more than 5% apart")
    return lines

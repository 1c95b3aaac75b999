"""The run's tables, at most 120 columns wide: one row per benchmark, and the comparison with a saved run.

Both read pytest-benchmark's JSON (the run being saved, or a saved one), so a table can be rebuilt from any run.
A change between runs is beyond the noise (``*``) when the interquartile ranges of the two runs do not overlap and
the medians differ by more than the 5% a row may spread on a quiet machine. A paired ratio is a result only while it
agrees with the ratio of the two rows' medians within the same noise: where the interleaved calls slow each other
(idle threads spinning, a cache or core that one leaves cold for the other), the reference runs at another speed in
the subject's rounds than in its own row, and the paired ratio measures that (flag ``P``, printed as "paired vs
medians").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from benchmarks.pairing import Spread
from benchmarks.workloads import DIRECTIONS, FORWARD, WORKLOADS, group_name

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
    disagreeing: dict[str, float] = field(default_factory=dict)  # reference -> ratio of the medians it disagrees with
    verified: bool | None = None  # the timed result checked against the float64 reference (None: not recorded)
    direction: str = FORWARD  # conv2d, or a call of its gradient side (``benchmarks.gradients``)

    @property
    def group(self) -> str:
        """The workload and the direction's tag: the rows a ratio is read within."""
        return group_name(self.workload, self.direction)

    @property
    def key(self) -> tuple[str, str]:
        return self.group, self.implementation


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
                direction=info.get("direction", FORWARD),
            )
        )
    return checked(sorted(found, key=order))


def order(row: Row) -> tuple:
    """Workload order, then direction (the forward first), then fastest first."""
    direction = DIRECTIONS.index(row.direction) if row.direction in DIRECTIONS else len(DIRECTIONS)
    return ORDER.get(row.workload, len(ORDER)), row.workload, direction, row.direction, row.time.median


def checked(found: list[Row]) -> list[Row]:
    """The rows with each paired ratio that disagrees with the ratio of the medians in ``disagreeing``.

    Checked where the reference's own row is in the run and does not pair with this row's subject: two rows that pair
    with each other (the GEMM row and torch's) interleave the same two calls, so their medians differ from their
    paired ratio only by the drift between the two benchmarks, which pairing removes.
    """
    by_key = {row.key: row for row in found}
    result = []
    for row in found:
        disagreeing = {}
        for reference, paired in row.ratios.items():
            own = by_key.get((row.group, reference))
            if own is not None and row.implementation not in own.ratios:
                medians = Spread(row.time.median / own.time.median, row.time.q1 / own.time.q3,
                                 row.time.q3 / own.time.q1, 0)  # fmt: skip
                if beyond_noise(paired, medians):
                    disagreeing[reference] = medians.median
        result.append(replace(row, disagreeing=disagreeing))
    return result


def ratio_name(row: Row, reference: str) -> str:
    return f"{row.group}/{row.implementation} x {reference}"


def number(value: float) -> str:
    """Three significant figures, without an exponent for the values a ratio takes."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def ratio_text(row: Row, reference: str) -> str:
    if row.implementation == reference:
        return "1"
    spread = row.ratios.get(reference)
    if spread and reference in row.disagreeing:
        return f"{number(spread.median)} vs {number(row.disagreeing[reference])}"
    return f"{number(spread.median)} [{number(spread.q1)}-{number(spread.q3)}]" if spread else "-"


def flags(row: Row) -> str:
    return ("L" if row.loaded else "") + ("P" if row.disagreeing else "") + ("<" if row.below_gemm else "")


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
        if previous is not None and row.group != previous:
            lines.append("")
        previous = row.group
        torch = ratio_text(row, REFERENCE) if torch_available else "unavailable"
        lines.append(
            f"{row.group:24} {row.implementation:14} {row.time.median * 1e3:9.3f} {row.gflops:8.1f} "
            f"{ratio_text(row, GEMM):>18} {torch:>18} {row.time.relative_iqr:7.1%} {flags(row):5} "
            f"{CHECKS[row.verified]:5}".rstrip()
        )
    lines += [
        "x GEMM, x torch: median of per-round ratios (interleaved rounds) [interquartile range]; flags: L load above "
        "threads,",
        "P a paired ratio disagrees with the ratio of the medians (printed: paired vs medians; not a result),",
        "< fewer multiplications than the layer's GEMM (a transform algorithm: the ratio is not a roofline)",
        "check: the timed result against the float64 reference, within its error bound (ok, FAIL, - unknown)",
    ]
    if any(row.direction != FORWARD for row in found):
        lines.append(GRADIENT_LEGEND)
    return lines


GRADIENT_LEGEND = (
    "workload T: its transposed convolution (the adjoint); dx, dw: one gradient alone; bwd: conv2d_backward, all three"
)


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


def ratio_value(row: Row | None, reference: str) -> str:
    """A paired ratio's median, ``?`` after one that disagrees with the ratio of the medians; ``-`` where none."""
    spread = row.ratios.get(reference) if row else None
    if spread is None:
        return "-"
    return number(spread.median) + ("?" if reference in row.disagreeing else "")


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
            pair = f"{ratio_value(old, reference)} -> {ratio_value(row, reference)}"
            ratios.append(f"{pair:>13} {change(new_ratio, old_ratio):>8}")
        then_ms = f"{old.time.median * 1e3:9.3f}" if old else f"{'-':>9}"
        lines.append(
            f"{row.group:24} {row.implementation:14} {then_ms} {row.time.median * 1e3:9.3f} "
            f"{change(row.time, old.time if old else None):>8}  {'  '.join(ratios)}"
        )
    lines.append(
        "change of the median; * beyond the noise: interquartile ranges apart and medians more than 5% apart; ? flag P"
    )
    return lines

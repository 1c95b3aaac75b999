"""Paired measurement: a subject and its references timed round by round in one loop, and the ratios that follow.

Each round times the subject, then each reference, each repeated ``inner`` times so that a round lasts at least
the minimum round time. Drift of the machine (another process, a clock change) hits both sides of a round alike,
so the per-round ratio ``subject / reference`` cancels it; the reported ratio is the median over rounds with its
interquartile range. The subject's rounds are pytest-benchmark's own (``benchmark.pedantic``); the references run
in its untimed ``teardown`` and are timed here.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from pytest_benchmark.utils import load_timer

WARMUP_ROUNDS = 2
MAX_ROUNDS = 1000


@dataclass(frozen=True)
class Spread:
    """A median with its interquartile range (of times, or of per-round ratios)."""

    median: float
    q1: float
    q3: float
    rounds: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if len(values) == 1:
            return cls(values[0], values[0], values[0], 1)
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(median, q1, q3, len(values))

    @property
    def relative_iqr(self) -> float:
        return (self.q3 - self.q1) / self.median if self.median else math.inf

    def overlaps(self, other: Spread) -> bool:
        """Whether the two interquartile ranges overlap (a difference within the noise)."""
        return self.q1 <= other.q3 and other.q1 <= self.q3

    def as_dict(self) -> dict:
        return asdict(self)


def paired_ratios(subject: Sequence[float], reference: Sequence[float]) -> Spread:
    """The per-round ratios ``subject[i] / reference[i]`` of two interleaved series, as a median with its IQR."""
    if len(subject) != len(reference) or not subject:
        raise ValueError(f"need two series of the same nonzero length, got {len(subject)} and {len(reference)}")
    return Spread.of([a / b for a, b in zip(subject, reference, strict=True)])


def call_time(function: Callable[[], object]) -> float:
    """Seconds of one call, after one warm-up call."""
    function()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def repeats(seconds: float, min_round_time: float) -> int:
    """Calls per round so that a round of calls of ``seconds`` lasts at least ``min_round_time``."""
    return max(1, math.ceil(min_round_time / max(seconds, 1e-9)))


class Repeated:
    """A function called ``inner`` times per round, timed per call."""

    def __init__(self, function: Callable[[], object], min_round_time: float, clock: Callable[[], float]):
        self.function, self.clock = function, clock
        self.seconds = call_time(function)  # a first estimate, for the round count
        self.inner = repeats(self.seconds, min_round_time)
        self.times: list[float] = []

    def round(self) -> None:
        function, loops, clock = self.function, range(self.inner), self.clock
        start = clock()
        for _ in loops:
            function()
        self.times.append((clock() - start) / self.inner)


def measure(benchmark, subject: Callable[[], object], references: dict[str, Callable[[], object]], options):
    """Time ``subject`` with pytest-benchmark, its ``references`` interleaved round by round in the same loop.

    ``options`` holds pytest-benchmark's ``benchmark_min_rounds``, ``benchmark_max_time``, ``benchmark_min_time``
    and ``benchmark_timer`` (the references are timed with the same clock as the subject). Returns the subject's
    result and ``{name: Spread}`` of the paired ratios (empty when benchmarks are disabled); each reference's
    per-call seconds in these rounds go into ``extra_info["reference_times"]`` (compared with its own row's, they
    show whether the subject's calls slowed it).
    """
    if not benchmark.enabled:
        return benchmark.pedantic(subject), {}
    min_round_time, max_time = float(options.benchmark_min_time), float(options.benchmark_max_time)
    clock = load_timer(str(options.benchmark_timer)).target  # the subject's clock, from its dotted name
    timed = Repeated(subject, min_round_time, clock)
    others = {name: Repeated(function, min_round_time, clock) for name, function in references.items()}
    round_time = sum(timer.seconds * timer.inner for timer in (timed, *others.values()))
    rounds = min(MAX_ROUNDS, max(options.benchmark_min_rounds, math.ceil(max_time / round_time)))

    def run_references():
        for timer in others.values():
            timer.round()

    result = benchmark.pedantic(
        subject, teardown=run_references, rounds=rounds, warmup_rounds=WARMUP_ROUNDS, iterations=timed.inner
    )
    own = benchmark.stats.stats.data  # per-call seconds of each timed round
    ratios, reference_times = {}, {}
    for name, timer in others.items():  # the teardown also follows the warm-up rounds (and one final call)
        times = timer.times[WARMUP_ROUNDS : WARMUP_ROUNDS + len(own)]
        ratios[name] = paired_ratios(own, times)
        reference_times[name] = Spread.of(times).as_dict()
    benchmark.extra_info["reference_times"] = reference_times
    return result, ratios

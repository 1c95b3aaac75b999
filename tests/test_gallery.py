"""The property suite tests itself: it must catch every known bug of the gallery and flag no correct entry.

The suite runs once as a user would run it, ``pytest properties --impl NAME=MODULE:ATTR ...`` on every gallery
entry (the real layers only on the entries meant for them, see :func:`selection`), in a fresh interpreter (pytester)
with the derandomized ``gallery`` Hypothesis profile (no shrinking, no database), and its verdicts are read from its
``--conformance-json`` report. A bug counts as caught only by a failure in a property family that should catch it
(declared below, per bug; only those run on it): a failure somewhere else could hide a blind spot of the family meant
for it.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import pytest

from tests.gallery import buggy, correct
from tests.test_reports import SCREEN, reports_that_do_not_replay, screen_lines

ROOT = Path(__file__).resolve().parents[1]
WORKERS = "2"  # pytest-xdist workers of the gallery run
PAIRWISE = "test_agrees_with_the_referees"  # the agreement of each entry with the referee implementations
# Whether these fail depends on the run's history (ids reused, a workspace already grown by earlier calls), which a
# reproduction in a fresh interpreter does not have: their reports are not replayed.
NONDETERMINISTIC = {"nondeterministic_order", "cached_by_id", "output_in_shared_workspace"}

# Each known bug and the property families (``properties/test_<family>.py``) that should catch it.
GEOMETRY = {"agreement", "exactness", "metamorphic", "receptive_field"}
PADDING = {"agreement", "exactness", "metamorphic", "padding_only"}
BIAS = {"agreement", "exactness", "metamorphic", "padding_only"}
KNOWN_BUGS: dict[str, set[str]] = {
    "flipped_kernel": {"golden", *GEOMETRY},
    "padding_one_side": PADDING,
    "stride_swapped": {"shape", *GEOMETRY},
    "padding_swapped": {"shape", *PADDING},
    "kernel_transposed": {"golden", "shape", *GEOMETRY},
    "ceil_output_size": {"golden", "shape"},
    "last_row_lost": {"golden", *GEOMETRY},
    "window_off_by_one": {"golden", *GEOMETRY},
    "stride_phase": {"shape", *GEOMETRY},
    "dilation_height_only": {"shape", *GEOMETRY},
    "int_dilation_height_only": {"shape", *GEOMETRY},
    "dilation_minus_one": {"shape", *GEOMETRY},
    "same_padding_wrong_side": PADDING,
    "edge_padding": PADDING,
    "border_without_bias": {"padding_only", "agreement", "exactness"},
    "groups_interleaved": {"agreement", "exactness", "metamorphic"},
    "channels_unchecked": {"invalid_arguments"},
    "dtypes_unchecked": {"invalid_arguments"},
    "channel_block_remainder": {"agreement"},
    "batch_mixed": {"agreement", "exactness", "metamorphic"},
    "bias_dropped": BIAS,
    "bias_per_group": BIAS,
    "bias_on_last_axis": {"golden", "shape", *BIAS},
    "float16_accumulation": {"agreement"},
    "float32_accumulation": {"agreement"},
    "float64_output": {"hygiene"},
    "nondeterministic_order": {"hygiene"},
    "fft_circular_padding": PADDING,
    "fft_single_precision": {"agreement", "metamorphic", "padding_only"},
    "memory_order_read": {"hygiene", "agreement"},
    "input_scaled_in_place": {"hygiene", "agreement", "exactness"},
    "non_contiguous_output": {"hygiene"},
    "output_buffer_reused": {"hygiene", "metamorphic"},
    "nan_swallowed": {"special_values"},
    "grouped_1x1_fast_path": {"agreement", "exactness", "metamorphic"},
    "odd_width_3x3_fast_path": {"agreement", "exactness", "metamorphic"},
    "depthwise_multiplier_order": {"agreement", "exactness", "metamorphic"},
    "stem_padding_even": {"shape", "agreement", "exactness", "metamorphic"},
    "column_block_remainder_32": {"agreement", "exactness"},
    "row_buffer_64": {"agreement", "exactness"},
    "batch_tail_4": {"agreement", "exactness", "metamorphic"},
    "batch_tail_8": {"agreement", "exactness", "metamorphic"},
    "channel_remainder_16": {"agreement", "exactness", "metamorphic"},
    "square_layer_height_from_width": {"shape", *GEOMETRY},
    "padded_plane_allocated": {"extreme_arguments"},
    "cached_by_id": {"state"},
    "output_in_shared_workspace": {"state"},
    "textbook_padding_counted_once": {"shape", "agreement", "golden"},
    # Size classes of real networks: only layers past small drawn sizes reach the first six; the ordinary strategies
    # reach the last four too (kernels up to 31, dilations up to 24, depthwise groups, a kernel as large as the input).
    "batch_block_16": {"real_layers"},
    "batch_block_32": {"real_layers"},
    "output_block_64": {"real_layers"},
    "output_block_128": {"real_layers"},
    "input_block_64": {"real_layers"},
    "input_block_128": {"real_layers"},
    "row_band_64k": {"real_layers", "agreement"},
    "column_band_256k": {"real_layers"},
    "kernel_table_11": {"real_layers", *GEOMETRY},
    "dilation_past_3": {"real_layers", *GEOMETRY},
    "groups_past_8": {"real_layers", *GEOMETRY},
    "whole_input_window": {"real_layers", *GEOMETRY},
}
CORRECT = (
    "einsum_float64", "reversed_taps", "fft_per_channel", "tensordot_windows", "square_int_layer", "textbook_int_only"
)  # fmt: skip


def bug_id(name: str) -> str:
    return f"bug_{name}"


def correct_id(name: str) -> str:
    return f"ok_{name}"


def selection(bugs, correct=()) -> str:
    """A ``-k`` expression: each bug's properties in the families meant to catch it (a failure elsewhere counts for
    nothing), but not the pairwise comparison (a failure there may be the other entry's, and the family's oracle test
    runs the same cases); every property of the ``correct`` entries."""
    clauses = [
        f"({bug_id(bug)} and ({' or '.join(f'test_{family}' for family in sorted(KNOWN_BUGS[bug]))}) "
        f"and not {PAIRWISE})"
        for bug in bugs
    ]
    return " or ".join(clauses + [correct_id(name) for name in correct])


def public_functions(module) -> set[str]:
    functions = {name for name, value in vars(module).items() if inspect.isfunction(value)}
    return {name for name in functions if getattr(module, name).__module__ == module.__name__ and name[0] != "_"}


def test_gallery_declares_at_least_15_documented_bugs():
    """Every buggy callable is declared here with existing families, and each gallery callable has a docstring."""
    assert len(KNOWN_BUGS) >= 15
    assert public_functions(buggy) == set(KNOWN_BUGS)
    assert set(CORRECT) <= public_functions(correct)
    families = set().union(*KNOWN_BUGS.values())
    assert {family for family in families if not (ROOT / "properties" / f"test_{family}.py").exists()} == set()
    for name in (*KNOWN_BUGS, *CORRECT):
        function = getattr(buggy if name in KNOWN_BUGS else correct, name)
        assert (function.__doc__ or "").strip(), f"{name} has no docstring naming what it does"


@pytest.mark.gallery
def test_property_suite_catches_every_known_bug_and_flags_no_correct_entry(run_suite, capsys):
    """Each known bug fails a property of a family meant to catch it; each correct entry fails none; each bug's first
    report fits one screen; the first report of each bug and of each family replays the same failure in a fresh
    interpreter (one for all of them, each reproduction in a namespace of its own)."""
    entries = {bug_id(name): f"{buggy.__name__}:{name}" for name in KNOWN_BUGS}
    entries.update({correct_id(name): f"{correct.__name__}:{name}" for name in CORRECT})
    with capsys.disabled():
        print(f"\nknown-bug gallery: the property suite on {len(KNOWN_BUGS)} bugs and {len(CORRECT)} correct entries "
              f"(-n {WORKERS}; several minutes on 2 cores) ...", flush=True)  # fmt: skip
    start = time.perf_counter()
    options = [f"--impl={name}={target}" for name, target in entries.items()]
    # A bug is caught by its first failure (only the families meant for it run), so each worker stops testing it there.
    stop = "--repeats-before-stop=1"
    run = run_suite("properties", "-q", "-n", WORKERS, stop, "-k", selection(KNOWN_BUGS, CORRECT), *options)
    seconds = time.perf_counter() - start
    assert run.report is not None, f"the gallery run did not complete:\n{run.output[-5000:]}"
    failed: dict[str, set[str]] = {name: set() for name in entries}
    for failure in run.report["failures"]:
        failed[failure["implementation"]].add(failure["family"])
    missed = {name: sorted(families) for name, families in KNOWN_BUGS.items() if not failed[bug_id(name)] & families}
    flagged = {name: sorted(failed[correct_id(name)]) for name in CORRECT if failed[correct_id(name)]}
    unrun = [name for name in entries if name not in run.report["results"]]
    with capsys.disabled():
        print(f"known-bug gallery: caught {len(KNOWN_BUGS) - len(missed)} of {len(KNOWN_BUGS)} bugs, flagged "
              f"{len(flagged)} of {len(CORRECT)} correct entries ({seconds:.0f} s)", flush=True)  # fmt: skip
    assert not unrun, f"no property ran for {unrun}"
    assert not missed, "not caught by a family meant for it: " + "; ".join(
        f"{name} ({getattr(buggy, name).__doc__.strip()}) expected in {families}, failed in "
        f"{sorted(failed[bug_id(name)]) or 'nothing'}"
        for name, families in missed.items()
    )
    assert not flagged, f"correct but flagged: {flagged}"
    reports = {}
    for failure in run.report["failures"]:
        reports.setdefault(failure["implementation"], []).append(failure)
    long = {name: failures[0]["message"] for name, failures in reports.items()
            if screen_lines(failures[0]["message"]) > SCREEN}  # fmt: skip
    assert not long, "first reports longer than one screen:\n" + "\n\n".join(f"{n}:\n{m}" for n, m in long.items())
    replayed = {}  # the first report of each bug, and the first of each family
    for name, failures in reports.items():
        for failure in failures:
            if name.removeprefix("bug_") in NONDETERMINISTIC or not failure["reproduce"]:
                continue
            if failure is failures[0] or all(family != failure["family"] for _, family in replayed):
                replayed.setdefault((name, failure["family"]), failure["message"])
    problems = reports_that_do_not_replay(list(replayed.values()))
    assert not problems, "reproductions that do not fail the same way:\n" + "\n\n".join(problems)

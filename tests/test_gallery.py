"""The property suite tests itself: it must catch every known bug of the gallery and flag no correct entry.

The suite runs as a user would run it, ``pytest properties --impl NAME=MODULE:ATTR ...``, in a subprocess with the
``gallery`` Hypothesis profile (no shrinking, no database), and its JUnit XML report is read back. A bug counts as
caught only by a failure in a property family that should catch it (declared below, per bug): a failure somewhere
else could hide a blind spot of the family meant for it. A failure whose message names another gallery entry (a
pairwise comparison with it) is not counted against this one: it may be the other entry's fault.

The buggy and the correct entries run in two concurrent subprocesses, so that a correct entry is compared only with
the registered implementations, never with the bugs.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.gallery import buggy, correct

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600
WORKERS = 2  # pytest-xdist workers for the buggy run, None for one process (on 2 cores: 52 s with 2, 71 s without)

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
    "padded_plane_allocated": {"extreme_arguments"},
    "cached_by_id": {"state"},
    "output_in_shared_workspace": {"state"},
}
CORRECT = ("einsum_float64", "reversed_taps", "fft_per_channel", "tensordot_windows")


def bug_id(name: str) -> str:
    return f"bug_{name}"


def correct_id(name: str) -> str:
    return f"ok_{name}"


@dataclass
class Outcome:
    """One gallery entry's results in the property suite: failures as (family, test, message), and counts."""

    passed: int = 0
    skipped: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)


def suite_command(entries: dict[str, str], junit: Path, workers: int | None = None) -> list[str]:
    """``python -m pytest properties --impl ...`` selecting only ``entries`` (id -> MODULE:ATTR)."""
    command = [sys.executable, "-m", "pytest", "properties", "-p", "no:cacheprovider", "-q"]
    command += ["--hypothesis-profile=gallery", f"--junitxml={junit}", "-k", " or ".join(entries)]
    command += [f"--impl={name}={target}" for name, target in entries.items()]
    return command + (["-n", str(workers)] if workers else [])


def read_junit(junit: Path, names: list[str]) -> dict[str, Outcome]:
    """Per gallery entry, its outcomes: family from the module (``test_<family>``), entry from the test id."""
    outcomes = {name: Outcome() for name in names}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test, _, ids = case.get("name", "").partition("[")
        entry = next((part for part in ids.rstrip("]").split("-") if part in outcomes), None)
        if entry is None:
            continue
        family = case.get("classname", "").rpartition(".")[2].removeprefix("test_")
        problems = [*case.iter("failure"), *case.iter("error")]
        if problems:
            message = "\n".join(f"{p.get('message', '')}\n{p.text or ''}" for p in problems)
            outcomes[entry].failures.append((family, test, message))
        elif case.find("skipped") is not None:
            outcomes[entry].skipped += 1
        else:
            outcomes[entry].passed += 1
    return outcomes


def blames_another_entry(message: str, entry: str, names: list[str]) -> bool:
    return any(re.search(rf"(?<!\w){re.escape(other)}(?!\w)", message) for other in names if other != entry)


@dataclass
class GalleryRun:
    outcomes: dict[str, Outcome]
    seconds: float
    logs: dict[str, str]

    def catching_families(self, name: str) -> set[str]:
        """The families with a failure of ``name`` that no other gallery entry can be blamed for."""
        entry, names = bug_id(name), [bug_id(n) for n in KNOWN_BUGS]
        return {family for family, _, message in self.outcomes[entry].failures
                if not blames_another_entry(message, entry, names)}  # fmt: skip


class _CatchSummary:
    """Prints the catch count at the end of the terminal report."""

    def __init__(self, lines: list[str]):
        self.lines = lines

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.section("known-bug gallery")
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def gallery_run(tmp_path_factory, request) -> GalleryRun:
    """Run the property suite once on every buggy entry and once on every correct one, concurrently."""
    folder = tmp_path_factory.mktemp("gallery")
    runs = {
        "buggy": {bug_id(name): f"{buggy.__name__}:{name}" for name in KNOWN_BUGS},
        "correct": {correct_id(name): f"{correct.__name__}:{name}" for name in CORRECT},
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "HYPOTHESIS_"))}
    start = time.perf_counter()
    processes = {
        kind: subprocess.Popen(
            suite_command(entries, folder / f"{kind}.xml", WORKERS if kind == "buggy" else None),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for kind, entries in runs.items()
    }
    try:
        logs = {kind: process.communicate(timeout=TIMEOUT_S)[0] for kind, process in processes.items()}
    finally:
        for process in processes.values():
            process.kill()  # only a run still going after the timeout
    seconds = time.perf_counter() - start
    outcomes: dict[str, Outcome] = {}
    for kind, entries in runs.items():
        junit = folder / f"{kind}.xml"
        if processes[kind].returncode not in (0, 1) or not junit.exists():
            pytest.fail(f"the {kind} gallery run did not complete (exit {processes[kind].returncode}):\n{logs[kind]}")
        outcomes.update(read_junit(junit, list(entries)))
    run = GalleryRun(outcomes, seconds, logs)
    caught = [name for name in KNOWN_BUGS if run.catching_families(name) & KNOWN_BUGS[name]]
    flagged = [name for name in CORRECT if outcomes[correct_id(name)].failures]
    lines = [
        f"the property suite caught {len(caught)} of {len(KNOWN_BUGS)} known bugs "
        f"and flagged {len(flagged)} of {len(CORRECT)} correct entries ({seconds:.0f} s)",
        *(f"  missed: {name} (expected in {sorted(KNOWN_BUGS[name])})" for name in KNOWN_BUGS if name not in caught),
        *(f"  flagged: {name}" for name in flagged),
    ]
    print("\n".join(lines))
    request.config.pluginmanager.register(_CatchSummary(lines), "convcheck-gallery-summary")
    return run


def describe(outcome: Outcome) -> str:
    lines = [f"passed {outcome.passed}, skipped {outcome.skipped}, failed {len(outcome.failures)}"]
    lines += [
        f"  {family}: {test}: {message.strip().splitlines()[0][:300]}" for family, test, message in outcome.failures
    ]
    return "\n".join(lines)


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
@pytest.mark.parametrize("name", list(KNOWN_BUGS))
def test_property_suite_catches(gallery_run, name):
    """The known bug fails at least one property of a family meant to catch it."""
    outcome = gallery_run.outcomes[bug_id(name)]
    assert outcome.passed + outcome.skipped + len(outcome.failures), f"no property ran for {bug_id(name)}"
    families = gallery_run.catching_families(name)
    assert families & KNOWN_BUGS[name], (
        f"{name} ({getattr(buggy, name).__doc__.strip()}) was not caught by any of {sorted(KNOWN_BUGS[name])}; "
        f"its results:\n{describe(outcome)}"
    )


@pytest.mark.gallery
@pytest.mark.parametrize("name", CORRECT)
def test_property_suite_accepts_correct(gallery_run, name):
    """A correct, differently written implementation passes every property: no failure, no error."""
    outcome = gallery_run.outcomes[correct_id(name)]
    assert outcome.passed, f"no property passed for {correct_id(name)}:\n{describe(outcome)}"
    assert not outcome.failures, f"{name} is correct but was flagged:\n{describe(outcome)}"

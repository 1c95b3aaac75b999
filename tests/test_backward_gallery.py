"""The backward properties catch every classic backward bug of the gallery and flag no correct entry.

Each property of ``properties/test_transposed.py`` and ``properties/test_backward.py`` (its strategy and its check)
runs in this process on the bugs of ``tests/gallery/backward_bugs.py`` and on correct entries: derandomized in the
test, so that a catch or a miss is a property of the code, and with random seeds from the command line, which
measures how often each bug is caught in ordinary runs, and how often the correct entries are flagged:

    python -m tests.test_backward_gallery --runs 5 [--bug NAME ...] [--property NAME ...]

That the correct entries (the package's ``loop`` and ``torch``) pass is checked by the property suite itself, which
the test command runs: the same strategies and checks, in the run's profile.
"""

from __future__ import annotations

import argparse
from collections import Counter

import pytest
from convcheck.impls.backward import BACKWARD, ENTRIES, TRANSPOSED, GradientEntry
from convcheck.properties import (
    simplify,
    test_backward,
    test_backward_extreme,
    test_backward_laws,
    test_transposed,
    test_transposed_laws,
)
from convcheck.properties.backward_cases import backward_cases, transposed_cases
from convcheck.properties.backward_extreme_cases import extreme_backward_cases, extreme_transposed_cases
from convcheck.properties.failures import PropertyFailure
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.gallery import backward_bugs

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NaN by design

EXAMPLES = 40  # per property and entry: the default profile's count
# of EXAMPLES per call and property, as the property modules scale it (``@examples``); 0.5 for the others
SHARE = {
    TRANSPOSED: {"oracle": 1.0, "special": 0.15, "state": 0.15},
    BACKWARD: {"oracle": 1.0, "groups": 0.25, "special": 0.25, "state": 0.25},
}
PROPERTIES = {  # operation -> property -> (strategy of an entry's cases or of the check's keywords, check)
    TRANSPOSED: {
        "oracle": (lambda e: transposed_cases(e), test_transposed.check_matches_oracle),
        "exactness": (lambda e: transposed_cases(e, values=("int",)), test_transposed.check_matches_oracle),
        "shape": (lambda e: transposed_cases(e, values=("int",)), test_transposed.check_output_shape),
        "adjoint": (
            lambda e: transposed_cases(e, values=("int",), adjoint_only=True),
            test_transposed.check_adjoint,
        ),
        "differences": (test_transposed_laws.difference_arguments, test_transposed_laws.check_central_differences),
        "linearity": (test_transposed_laws.linearity_arguments, test_transposed_laws.check_linear_in_the_input),
        "groups": (test_transposed_laws.grouped_cases, test_transposed_laws.check_groups_are_independent),
        "appends": (test_transposed_laws.output_padded_cases, test_transposed_laws.check_output_padding_appends),
        "special": (test_transposed_laws.non_finite_arguments, test_transposed_laws.check_non_finite_propagation),
        "state": (test_transposed_laws.state_arguments, test_transposed_laws.check_calls_keep_no_state),
        "extreme": (extreme_transposed_cases, test_backward_extreme.check_extreme_transposed),
    },
    BACKWARD: {
        "oracle": (lambda e: backward_cases(e), test_backward.check_matches_oracle),
        "exactness": (lambda e: backward_cases(e, values=("int",)), test_backward.check_matches_oracle),
        "shapes": (lambda e: backward_cases(e, values=("int",)), test_backward.check_shapes),
        "adjoint": (lambda e: backward_cases(e, values=("int",)), test_backward.check_adjoint_identities),
        "unread": (lambda e: backward_cases(e), test_backward.check_unread_inputs),
        "differences": (test_backward_laws.difference_arguments, test_backward_laws.check_central_differences),
        "linearity": (test_backward_laws.linearity_arguments, test_backward_laws.check_linear_in_grad_out),
        "groups": (test_backward_laws.grouped_cases, test_backward_laws.check_groups_are_independent),
        "special": (test_backward_laws.non_finite_arguments, test_backward_laws.check_non_finite_propagation),
        "state": (test_backward_laws.state_arguments, test_backward_laws.check_calls_keep_no_state),
        "extreme": (extreme_backward_cases, test_backward_extreme.check_extreme_gradients),
    },
}
KNOWN_BUGS = {  # each bug and the properties meant to catch it
    "output_padding_at_start": {"appends", "oracle", "exactness"},
    "kernel_not_flipped": {"oracle", "exactness", "adjoint"},
    "padding_not_cropped": {"shape", "oracle", "exactness"},
    "padding_cropped_at_end": {"oracle", "exactness", "adjoint"},
    "input_gradient_overwritten": {"oracle", "exactness", "adjoint"},
    "weight_gradient_of_last_image": {"oracle", "exactness", "adjoint"},
    "bias_gradient_not_summed_over_batch": {"oracle", "exactness", "adjoint"},
    "input_gradient_unused_rows_at_start": {"unread", "oracle", "exactness", "adjoint"},
    "float32_accumulation": {"oracle", "differences"},
    "float64_input_gradient_through_float32": {"differences", "oracle"},
    "weight_gradient_in_a_kept_buffer": {"linearity", "state", "groups", "oracle", "exactness", "adjoint"},
    "non_finite_grad_out_zeroed": {"special"},
    "groups_interleaved": {"groups", "oracle", "exactness", "adjoint", "differences"},
    "output_in_a_kept_buffer": {"state", "linearity"},
    "nan_output_zeroed": {"special"},
    "full_canvas_allocated": {"extreme"},
    "padded_input_allocated": {"extreme"},
}
CORRECT = {operation: ("loop", "torch") for operation in PROPERTIES}


def property_run(entry, strategy, check, seeded: int | None, examples: int = EXAMPLES):
    """One property as a Hypothesis test of ``entry``: derandomized, or with the random seed ``seeded``."""

    @settings(
        max_examples=examples, database=None, derandomize=seeded is None, deadline=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(data=st.data())
    def run(data):
        drawn = data.draw(strategy(entry))  # a case, or the check's keywords
        check(entry, **drawn) if isinstance(drawn, dict) else check(entry, drawn)

    return run if seeded is None else seed(seeded)(run)


def failing_properties(entry, seeded: int | None = None, names=None, first: bool = False) -> set[str]:
    """The properties (of ``names``, default all) that fail on ``entry``; with ``first``, the first one only."""
    failed = set()
    for name, (strategy, check) in PROPERTIES[entry.operation].items():
        if names is not None and name not in names:
            continue
        try:
            with simplify.disabled():  # a catch needs no simpler case
                property_run(entry, strategy, check, seeded, round(EXAMPLES * SHARE[entry.operation].get(name, 0.5)))()
        except PropertyFailure:
            failed.add(name)
            if first:
                break
    return failed


def test_backward_gallery_declares_every_bug():
    """Every bug of the gallery module is declared here, with a docstring saying what it does wrong."""
    bugs = {
        name: value for name, value in vars(backward_bugs).items()
        if isinstance(value, GradientEntry) and value.origin == backward_bugs.__name__
    }  # fmt: skip
    assert set(bugs) == set(KNOWN_BUGS)
    assert all((bug.function.__doc__ or "").strip() for bug in bugs.values())


@pytest.mark.parametrize("bug", KNOWN_BUGS)
def test_each_backward_bug_is_caught_by_a_property_meant_for_it(bug):
    """Only the properties meant for the bug run, up to the first that fails: a failure elsewhere counts for
    nothing."""
    entry = getattr(backward_bugs, bug)
    failed = failing_properties(entry, names=KNOWN_BUGS[bug], first=True)
    assert failed, f"{bug} ({entry.function.__doc__.strip()}) is caught by none of {sorted(KNOWN_BUGS[bug])}"


def test_a_failure_replays_from_its_reproduction():
    """The code a failure carries fails the same way in a fresh namespace."""
    check = PROPERTIES[TRANSPOSED]["exactness"][1]
    entry = backward_bugs.kernel_not_flipped
    with pytest.raises(PropertyFailure) as first:
        property_run(entry, *PROPERTIES[TRANSPOSED]["exactness"], None)()
    assert check.__name__ in (first.value.reproduce or "")
    with pytest.raises(PropertyFailure) as replayed:
        exec(first.value.reproduce, {})
    assert str(replayed.value).splitlines()[0] == str(first.value).splitlines()[0]


def main() -> None:
    """Print how many of ``--runs`` randomized runs catch each bug, and by which of the properties meant for it; then
    how many runs flag each correct entry, and by which properties."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bug", action="append", choices=sorted(KNOWN_BUGS), help="only these bugs (repeatable)")
    every = sorted({name for properties in PROPERTIES.values() for name in properties})
    parser.add_argument(
        "--property", action="append", choices=every, help="only these properties, on the bugs meant for them and on "
        "the correct entries (repeatable)",
    )  # fmt: skip
    arguments = parser.parse_args()
    runs, bugs, chosen = arguments.runs, arguments.bug, set(arguments.property or every)
    seeds = [1000 + run * 7919 for run in range(runs)]
    for bug, meant in KNOWN_BUGS.items():
        if (bugs and bug not in bugs) or not meant & chosen:
            continue
        entry, by = getattr(backward_bugs, bug), Counter()
        caught = 0
        for seeded in seeds:
            failed = failing_properties(entry, seeded, meant & chosen)
            caught += bool(failed)
            by.update(failed)
        print(f"{bug}: caught in {caught} of {runs} runs ({', '.join(f'{k} {v}' for k, v in sorted(by.items()))})")
    for operation, names in CORRECT.items() if not bugs else ():
        for name in names:
            entry = ENTRIES[operation][name]
            flagged = Counter(p for seeded in seeds for p in failing_properties(entry, seeded, chosen))
            print(f"{operation} {name} (correct): flagged {sum(flagged.values())} times {dict(flagged)}", flush=True)


if __name__ == "__main__":
    main()

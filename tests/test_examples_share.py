"""An entry's declared share of the examples (``examples``, a cost hint) scales every property test's example
count for that entry alone."""

from __future__ import annotations

import collections

import pytest
from convcheck.impls.registry import Entry


def test_a_declared_quarter_of_the_examples_draws_a_quarter(run_suite, tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    monkeypatch.setenv("CONVCHECK_CALLS", str(calls))
    run = run_suite(
        "properties/test_shape.py", "properties/test_agreement.py", "-k", "test_matches_oracle_within or shape",
        "--convcheck=every_example=tests.counted:every_example", "--convcheck=quarter=tests.counted:quarter",
        profile="default",
    )  # fmt: skip
    assert run.report is not None, run.output[-3000:]
    assert run.report["verdict"] == "pass", run.output[-3000:]
    counts = collections.Counter(calls.read_text().split())
    assert 0.15 < counts["quarter"] / counts["every_example"] < 0.35, counts
    assert "quarter (exact-summation, 0.25 of the examples)" in run.output


@pytest.mark.parametrize("share", [0, 1.5, -0.25])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match=f"examples={share}"):
        Entry("shared", print, examples=share)

"""The time limit of an implementation call in an isolated test: a floor, then a multiple of the entry's slowest
completed call in the run; ``--call-timeout`` fixes it; after an import, at least the floor."""

import pytest
from convcheck.properties.time_limits import FACTOR, FLOOR_S, CallLimits


def test_an_entry_none_of_whose_calls_has_ended_gets_the_floor():
    assert CallLimits().limit("mine") == FLOOR_S


def test_the_limit_follows_the_slowest_completed_call_of_the_entry():
    limits = CallLimits()
    limits.completed("mine", FLOOR_S / FACTOR / 10)
    assert limits.limit("mine") == FLOOR_S  # fast calls: the floor
    limits.completed("mine", 2 * FLOOR_S / FACTOR)
    limits.completed("mine", FLOOR_S / FACTOR)  # a faster call later lowers nothing
    assert limits.limit("mine") == pytest.approx(2 * FLOOR_S)
    assert limits.limit("other") == FLOOR_S  # each entry by its own calls


def test_a_fixed_limit_overrides_what_the_entry_has_shown():
    limits = CallLimits(fixed=1.5)
    limits.completed("mine", 10.0)
    assert limits.limit("mine") == 1.5
    assert CallLimits(fixed=0).limit("mine") is None  # --call-timeout=0: no limit


def test_after_an_import_a_call_gets_at_least_the_floor():
    assert CallLimits(fixed=1).limit("mine", imported=True) == FLOOR_S
    assert CallLimits(fixed=2 * FLOOR_S).limit("mine", imported=True) == 2 * FLOOR_S
    assert CallLimits(fixed=0).limit("mine", imported=True) is None


def test_the_description_says_where_the_limit_comes_from():
    limits = CallLimits()
    assert "no call of it has ended" in limits.describe("mine")
    limits.completed("mine", 1.0)
    assert limits.describe("mine").startswith(f"{FACTOR:g} s ({FACTOR:g} times its slowest completed call")
    assert "its slowest call so far took 1 s" in limits.describe("mine")
    assert CallLimits(fixed=1).describe("mine") == "1 s (--call-timeout)"
    assert (
        CallLimits(fixed=1).describe("mine", imported=True)
        == f"{FLOOR_S:g} s (--call-timeout, at least {FLOOR_S:g} s after an import)"
    )


def test_an_entry_that_declares_slow_calls_never_gets_less():
    limits = CallLimits(declared={"compiles": 60.0})
    limits.completed("compiles", 0.2)
    assert limits.limit("compiles") == 60.0
    assert limits.limit("other") == FLOOR_S
    assert "it declares calls of up to 60 s (call_time_s)" in limits.describe("compiles")
    limits.completed("compiles", 4.0)  # what it shows still raises the limit past the declaration
    assert limits.limit("compiles") == pytest.approx(4.0 * FACTOR)


def test_the_jax_entries_declare_their_compilations():
    from convcheck.impls import REGISTRY, backward

    entries = [REGISTRY["jax"], *(entries["jax"] for entries in backward.ENTRIES.values())]
    assert all(entry.call_time_s is not None and entry.call_time_s >= 30 for entry in entries)  # 6-7 s seen, loaded

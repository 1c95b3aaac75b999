"""The convcheck pytest plug-in: the run's registry, the property suite's settings, and its conformance reports.

Installed with convcheck (entry point ``pytest11``), so it is active in any project's pytest run, but it only acts
on tests that ask for an ``impl``: the property suite of this package, and the benchmarks of this repository.

- The run's registries, one per call (conv2d, conv_transpose2d, conv2d_backward): the package's entries
  (``impls.REGISTRY``, ``impls.backward.ENTRIES``), the entries other plug-ins return from the
  ``pytest_convcheck_entries`` hook (how :func:`convcheck.properties.runner.check_implementation` hands its callable
  over), and ``--impl NAME=MODULE:ATTR`` specs, each in the registry of the call it implements
  (:func:`convcheck.impls.signature.implemented_call`). ``--convcheck NAME=MODULE:ATTR`` does the same and also adds
  the property suite to the run and keeps only the named entries under test, each in its call's families (the
  package's torch and im2col entries remain as the agreement family's referees).
- Settings for the run that asks, restored afterwards: the Hypothesis profile (``--hypothesis-profile``,
  ``HYPOTHESIS_PROFILE``, ``ci`` when ``CI`` is set, else ``default``), and each property's example count, scaled
  from that profile by its ``examples`` marker when the test runs.
- Declarations read from markers and parameters: a property module's ``family`` marker (and ``operation``: the call
  whose entries its tests take as ``entry``), the ``impl`` parameter;
  the failures an entry declares become xfail (not run, or run with ``--run-declared-failures`` so that a stale
  declaration shows as XPASS).
- The conformance table at the end of the run, and with ``--conformance-json``/``--conformance-md`` the same verdicts
  as files (see :mod:`convcheck.properties.conformance`).
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from convcheck.impls.signature import CONV2D
from convcheck.properties import isolation, profiles, shrinking, stopping
from convcheck.properties.conformance import ConformanceSummary, library_version, run_seed
from convcheck.properties.items import call_of, entry_under_test
from convcheck.properties.threads import limited_threads
from hypothesis import settings

if TYPE_CHECKING:  # the implementations are imported by the runs that test them, not by every pytest run
    from convcheck.impls import Entry
    from convcheck.impls.backward import GradientEntry

SUITE = Path(__file__).resolve().parent
REGISTRY_KEY = pytest.StashKey[dict]()  # call -> the run's entries of that call
PROFILE_KEY = pytest.StashKey[tuple[str, str]]()  # (the run's profile, the profile before the run)
CANDIDATES_KEY = pytest.StashKey[dict]()  # call -> the names --convcheck put under test (empty: every entry)
SETTINGS_KEY = pytest.StashKey[settings]()  # an item's Hypothesis settings for this run
SELECTABLE = re.compile(r"[A-Za-z0-9_.+-]+")  # what a -k expression can name
KEYWORDS = {"and", "or", "not", "True", "False", "None"}


class Hooks:
    """Hooks other plug-ins may implement."""

    @pytest.hookspec
    def pytest_convcheck_entries(self, config) -> list[Entry]:
        """Entries to add to this run's registries (besides the package's and ``--impl``): conv2d
        :class:`Entry` objects or conv_transpose2d and conv2d_backward ``GradientEntry`` objects."""


class RunRegistry(dict):
    """The run's entries by name; prints as the names only (it appears in Hypothesis's falsifying examples)."""

    def __repr__(self) -> str:
        return f"<registry: {', '.join(self)}>"


def pytest_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(Hooks)


def pytest_addoption(parser):
    group = parser.getgroup("convcheck", "convcheck: conv2d conformance")
    spec_help = (
        "an outside conv2d, conv_transpose2d or conv2d_backward callable (repeatable); MODULE is importable from the "
        "working directory"
    )
    group.addoption("--impl", action="append", default=[], metavar="NAME=MODULE:ATTR", help=f"register {spec_help}")
    group.addoption(
        "--convcheck", action="append", default=[], metavar="NAME=MODULE:ATTR",
        help=f"run the convcheck property suite on {spec_help}, and on no other entry",
    )  # fmt: skip
    group.addoption("--conformance-json", metavar="PATH", help="write the conformance verdicts as JSON")
    group.addoption("--conformance-md", metavar="PATH", help="write the conformance table as Markdown")
    group.addoption(
        "--run-declared-failures", action="store_true",
        help="run the failures entries declare (expected_failures): one that passes shows as XPASS",
    )  # fmt: skip
    isolation.add_options(parser)
    stopping.add_options(parser)
    shrinking.add_options(parser)
    group.addoption(
        "--example-database", default=None, metavar="PATH|none",
        help="where Hypothesis keeps failing examples (default: the profile's, .hypothesis/); 'none' keeps nothing",
    )  # fmt: skip


def load_entry(spec: str, option: str):
    """The entry of ``--impl``/``--convcheck`` ``spec``, or a one-line usage error naming the problem."""
    from convcheck.impls.registry import SpecError, load_spec

    try:
        entry = load_spec(spec)
    except SpecError as error:
        raise pytest.UsageError(f"{option} {spec}: {error}") from None
    if not SELECTABLE.fullmatch(entry.name) or entry.name in KEYWORDS:
        raise pytest.UsageError(
            f"{option} {spec}: the name {entry.name!r} cannot be selected with -k; use letters, digits, '_', '-', '.'"
        )
    return entry


def run_registries(config) -> dict[str, RunRegistry]:
    """The run's entries of each call (conv2d, conv_transpose2d, conv2d_backward), built on first use (importing
    the implementations only for runs that test them)."""
    if REGISTRY_KEY not in config.stash:
        from convcheck.impls import backward

        from convcheck import impls

        registries = {CONV2D: RunRegistry(impls.REGISTRY)}
        registries.update((call, RunRegistry(entries)) for call, entries in backward.ENTRIES.items())
        for entries in config.hook.pytest_convcheck_entries(config=config):
            for entry in entries:
                registries[call_of(entry)][entry.name] = entry
        candidates: dict[str, list[str]] = {}
        for option in ("--impl", "--convcheck"):
            for spec in config.getoption(option.lstrip("-").replace("-", "_")):
                entry = load_entry(spec, option)
                registry = registries[call_of(entry)]
                if entry.name in registry:
                    detail = f"the name {entry.name!r} is already registered for {call_of(entry)}"
                    raise pytest.UsageError(f"{option} {spec}: {detail}")
                registry[entry.name] = entry
                if option == "--convcheck":
                    candidates.setdefault(call_of(entry), []).append(entry.name)
        config.stash[REGISTRY_KEY] = registries
        config.stash[CANDIDATES_KEY] = candidates
    return config.stash[REGISTRY_KEY]


def run_registry(config) -> RunRegistry:
    """The run's conv2d entries."""
    return run_registries(config)[CONV2D]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Set the run up when it runs the property suite (or checks a callable); any other run is left alone."""
    config.addinivalue_line("markers", "family(name): the property family of the tests of a module")
    config.addinivalue_line("markers", "examples(factor): run factor times the profile's example count")
    config.addinivalue_line("markers", "operation(call): the call whose entries a module's tests take as 'entry'")
    checks = config.getoption("convcheck")
    if not (checks or config.getoption("impl") or any(_inside_suite(arg) for arg in config.args)):
        return
    if checks and not any(_inside_suite(arg) for arg in config.args):
        if config.args_source == pytest.Config.ArgsSource.ARGS:  # paths the user named: the suite joins them
            config.args.append(str(SUITE))
        else:  # no path named: the suite alone, not the project's testpaths
            config.args[:] = [str(SUITE)]
    if all(_inside_suite(arg) for arg in config.args):  # a run of properties only: no timing, so no timer header
        for name in ("benchmark", "pytest-benchmark"):
            config.pluginmanager.set_blocked(name)
    profiles.register_profiles()
    previous = settings.get_current_profile_name()
    profile = profiles.run_profile(config)
    settings.load_profile(profile)
    config.stash[PROFILE_KEY] = (profile, previous)
    if run_seed(config) is None:  # the run's own seed for its property tests, printed: it replays the run
        config.option.convcheck_seed = random.SystemRandom().randrange(2**32)
    registry = run_registry(config)
    summary = ConformanceSummary(config, registry, profile, unavailable())
    config.pluginmanager.register(summary, "convcheck-conformance")
    isolation.configure(config)
    stopping.configure(config)
    shrinking.configure(config)


def unavailable() -> dict[str, str]:
    """The package's entries that cannot run on this machine, with the reason."""
    from convcheck import impls

    return impls.UNAVAILABLE


def _inside_suite(arg: str) -> bool:
    path = Path(arg.split("::")[0]).resolve()
    return path == SUITE or SUITE in path.parents


def pytest_unconfigure(config):
    if PROFILE_KEY in config.stash:
        settings.load_profile(config.stash[PROFILE_KEY][1])


def _share(entry) -> str:
    """The share of the examples an entry declares, where it is not all of them."""
    return "" if entry.examples == 1 else f", {entry.examples:g} of the examples"


def pytest_report_header(config):
    if PROFILE_KEY not in config.stash:
        return []
    import hypothesis
    import numpy
    import scipy

    registries = run_registries(config)
    registry = registries[CONV2D]
    profile = config.stash[PROFILE_KEY][0]
    versions = [f"numpy {numpy.__version__}", f"scipy {scipy.__version__}", f"hypothesis {hypothesis.__version__}"]
    tested = sorted({version for entry in registry.values() if (version := library_version(entry))})
    lines = [
        "convcheck implementations: "
        + ", ".join(f"{name} ({entry.error_model}{_share(entry)})" for name, entry in registry.items()),
        *(
            f"{call}: {', '.join(f'{name}{_share(entry)}' for name, entry in entries.items())}"
            for call, entries in registries.items()
            if call != CONV2D
        ),
        *(["libraries under test: " + ", ".join(tested)] if tested else []),
        ", ".join(versions) + f"; hypothesis profile: {profile}",
        f"hypothesis seed: {run_seed(config)} (--hypothesis-seed=N replays a run)",
    ]
    return lines + [f"unavailable: {name}: {why}" for name, why in unavailable().items()]


@pytest.fixture(scope="session")
def registry(request) -> dict:
    """Every implementation of this run, by name."""
    return run_registry(request.config)


def pytest_generate_tests(metafunc):
    """A test that takes ``impl`` runs once per conv2d entry of the run; one of a module marked ``operation(call)``
    that takes ``entry``, once per entry of that call (unless the test parametrizes them itself). Under
    ``--convcheck``, once per named entry of that call (none: the test is deselected)."""
    definition = metafunc.definition
    marker = definition.get_closest_marker("operation")
    wanted = {"impl": CONV2D, **({"entry": marker.args[0]} if marker else {})}
    for argument, call in wanted.items():
        own = any(argument in _parameter_names(m) for m in definition.iter_markers("parametrize"))
        if argument not in metafunc.fixturenames or own:
            continue
        registry = run_registries(metafunc.config)[call]
        candidates = metafunc.config.stash[CANDIDATES_KEY]
        names = candidates.get(call, []) if candidates else list(registry)
        family = family_of(definition)
        params = [p for name in names for p in dtype_scoped(registry[name], family, definition.name)]
        metafunc.parametrize(argument, params)


def dtype_scoped(entry: Entry | GradientEntry, family: str | None, test: str) -> list:
    """The ``impl`` (or ``entry``) parameters of one entry: the entry itself, or, where it declares a failure for some
    of its dtypes only, the entry on its other dtypes (tested) and on those (``NAME-DTYPE``, declared)."""
    declared = {d for f in entry.expected_failures if f.dtypes and f.where in (family, test) for d in f.dtypes}
    failing = tuple(d for d in entry.capabilities.dtypes if d in declared)
    if not failing:
        return [pytest.param(entry, id=entry.name)]
    rest = tuple(d for d in entry.capabilities.dtypes if d not in declared)
    on = [(rest, entry.name)] if rest else []
    on.append((failing, f"{entry.name}-{'-'.join(failing)}"))
    return [pytest.param(replace(entry, capabilities=replace(entry.capabilities, dtypes=d)), id=i) for d, i in on]


@pytest.fixture(autouse=True)
def _one_thread_for_properties(request):
    """Property cases are tiny: torch and BLAS run them on one thread (waking a pool costs more than the
    convolution, and two pools on two cores spin against each other under ``-n 2``); restored after each test."""
    if family_of(request.node) is None:
        yield
        return
    with limited_threads(1, import_torch=False):  # an entry imports torch when it needs it
        yield


def _parameter_names(parametrize_marker) -> list[str]:
    names = parametrize_marker.args[0]
    return [name.strip() for name in names.split(",")] if isinstance(names, str) else list(names)


def family_of(item) -> str | None:
    marker = item.get_closest_marker("family")
    return marker.args[0] if marker else None


def pytest_collection_modifyitems(config, items):
    """Tag each property test with its implementation and family (for the conformance reports, also under xdist),
    fix its Hypothesis settings for this run, and turn the failures an entry declares into xfail marks."""
    if PROFILE_KEY not in config.stash:
        return
    if config.stash[CANDIDATES_KEY]:  # --convcheck: only the tests of the named entries, each in its call's families
        other = [item for item in items if _inside_suite(str(item.path)) and entry_under_test(item) is None]
        if other:
            config.hook.pytest_deselected(items=other)
            items[:] = [item for item in items if item not in other]
    profile = settings.get_profile(config.stash[PROFILE_KEY][0])
    database = config.getoption("example_database")
    run_declared = config.getoption("run_declared_failures")
    for item in items:
        entry, family = entry_under_test(item), family_of(item)
        if family is None or entry is None:
            continue
        marker = item.get_closest_marker("examples")
        count = max(1, round(profile.max_examples * (marker.args[0] if marker else 1) * entry.examples))
        changes = {"max_examples": count}
        if database is not None:
            from hypothesis.database import DirectoryBasedExampleDatabase

            changes["database"] = None if database == "none" else DirectoryBasedExampleDatabase(database)
        item.stash[SETTINGS_KEY] = settings(profile, **changes)
        item.user_properties += [("implementation", entry.name), ("family", family), ("call", call_of(entry))]
        known = entry.known_failure(family, item.originalname)
        if known:
            scope = f", {'/'.join(known.dtypes)}" if known.dtypes else ""
            reason = f"{entry.name}: {known.reason} (declared{scope})"
            item.add_marker(pytest.mark.xfail(reason=reason, run=run_declared))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Run a property with this run's settings (Hypothesis reads them from the test function when it runs; the
    function object is shared by every run in the process, so they are put back afterwards)."""
    chosen = item.stash.get(SETTINGS_KEY, None)
    test = getattr(item, "obj", None)
    if chosen is None or not hasattr(test, "hypothesis"):
        return (yield)
    before = test._hypothesis_internal_use_settings, test._hypothesis_internal_use_seed  # what @settings, @seed set
    test._hypothesis_internal_use_seed = profiles.seed_of_test(
        item, None if chosen.derandomize else run_seed(item.config)
    )
    with shrinking.for_test(item, chosen) as chosen:
        test._hypothesis_internal_use_settings = chosen
        try:
            return (yield)
        finally:
            test._hypothesis_internal_use_settings, test._hypothesis_internal_use_seed = before


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Copy a property failure's message (as the terminal shows it), case, reproduction and invalid class into the
    report (for the JSON report, also under xdist)."""
    report = yield
    if call.when == "call" and report.failed and call.excinfo is not None:
        error = call.excinfo.value
        inner = [e for e in getattr(error, "exceptions", ()) if type(e).__qualname__ == "PropertyFailure"]
        flaky = f"{type(error).__name__}: it did not fail again on replay; its first failure:\n" if inner else ""
        error = inner[0] if inner else error  # a failure Hypothesis could not replay: the report of its first one
        notes = getattr(error, "__notes__", [])  # Hypothesis's falsifying example, as the terminal shows it
        report.user_properties.append(("message", flaky + "\n".join([f"{type(error).__name__}: {error}", *notes])))
        if type(error).__qualname__ == "PropertyFailure":  # it says all, with its case: none of the suite's frames
            report.longrepr = flaky + str(error)
        for key in ("case", "reproduce", "invalid", "law"):
            value = getattr(error, key, None)
            if isinstance(value, str):
                report.user_properties.append((key, value))
    return report

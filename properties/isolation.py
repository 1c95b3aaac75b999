"""Isolation: property tests run in a forked child process, so that a crash or a hang of an implementation fails
that test, naming the call in progress, and the run goes on.

Before the first test runs, the parent forks a *zygote*: a copy of the collected session that does nothing but fork
children. A child runs the tests it is handed one by one, each test's whole protocol (setup, the Hypothesis search
and shrink, teardown) as one process would, and sends the reports back over a pipe; the parent logs them as if the
test had run in-process. Around each call of an implementation the property code says ``with watching(name,
call):``; in a child this tells the parent which call is in progress, when it ends, and that it imports a module
meanwhile. When the child dies from a signal, or a call outlasts its time limit (the child is then stopped), the
parent reports that test as failed, naming the signal or the limit, the implementation, the call and the Python
stack, and has the zygote fork a fresh child for the next test. The parent times the calls, so that the limit
follows what each entry has shown in the run (:mod:`convcheck.properties.time_limits`). Outside a child ``watching``
does nothing.

The zygote and the children's loop are in :mod:`convcheck.properties.zygote`; ``watching``, the child's side of a
call, in :mod:`convcheck.properties.watching`. When the run itself starts in a process where JAX has already computed
(``check_implementation()`` called from such a script), no fork is safe: isolation is then off for the run, with a
warning. Running in the implementation's own process keeps what a worker receiving copies of the arrays would hide:
an output buffer reused across calls, inputs modified in place, callables that cannot be pickled.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, replace

import pytest
from convcheck.properties.time_limits import FACTOR, FLOOR_S, CallLimits
from convcheck.properties.zygote import Channel, Child, Zygote

MODES = ("fork", "none")
DEFAULT_MODE = "fork" if hasattr(os, "fork") else "none"


def isolated_item(item) -> bool:
    """Property tests, the ones with an implementation under test, are isolated: a conv2d ``impl``, or the ``entry``
    of a property family of the other calls (conv_transpose2d, conv2d_backward)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return "impl" in params or ("entry" in params and item.get_closest_marker("family") is not None)


@dataclass(frozen=True)
class Call:
    """The call of an implementation under test in progress in a child."""

    implementation: str
    description: str
    reproduction: str | None
    clock: float  # time.monotonic() in the parent when the call began or last imported a module (its limit counts on)
    imported: bool = False  # whether it has imported a module

    def lines(self) -> str:
        text = f"\n  call: {self.description}"
        return text + (f"\n  reproduce:\n{self.reproduction}" if self.reproduction else "")


class Isolation:
    """A pytest plug-in: runs property tests in children of a zygote, with a time limit per implementation call."""

    def __init__(self, limits: CallLimits | None = None):
        self.limits = limits or CallLimits()
        self.zygote: Zygote | None = None
        self.child: Child | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session):
        if any(map(isolated_item, session.items)):
            if hazard := fork_hazards():  # collection started it (an --impl module computing at import)
                _warn_off(session.config, hazard)
            else:
                self.zygote = Zygote.start(session)
                self.limits.declared.update(declared_call_times(session.config))
        try:
            return (yield)
        finally:
            self.retire()
            if self.zygote is not None:
                self.zygote.close()
                self.zygote = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if self.zygote is None or not isolated_item(item):
            return None
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in self.run_isolated(item, nextitem):
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def run_isolated(self, item, nextitem) -> list[pytest.TestReport]:
        """Run the item's test protocol in the child; its reports, or one failure if the child crashed or hung."""
        child = self.child or self.start()
        child.requests.send((item.nodeid, nextitem and nextitem.nodeid))
        try:
            reports, call, failure, status = self.follow(item, child)
        except BaseException:  # an interrupted run leaves no child behind
            os.kill(child.pid, signal.SIGKILL)
            self.retire()
            raise
        if failure is None and reports is not None:
            if nextitem is None or not isolated_item(nextitem):
                self.retire()  # the parent runs what comes next
            return reports
        self.child = None
        status = self.zygote.wait(child.pid) if status is None else status
        if failure is None and os.WIFSIGNALED(status):
            failure = f"the test process was killed by {_signal_name(os.WTERMSIG(status))}"
            failure += f" during a call of {call.implementation}{call.lines()}" if call else " outside any call"
        elif failure is None:
            failure = f"the test process exited with status {os.waitstatus_to_exitcode(status)} during the test"
        failure += _python_stack(child.stack)
        child.release()
        return [_failed_report(item, failure)]

    def follow(self, item, child: Child):
        """Read the child's notices until the item's reports are complete (returned), the child ends (reports
        None) or a call outlasts the time limit (a failure; the child is stopped, its wait status returned); with the
        call in progress at the end."""
        reports, call = [], None
        while True:
            if not select.select([child.notices.fd], [], [], self._wait(call))[0]:
                limit = self.limits.describe(call.implementation, call.imported)
                failure = f"a call of {call.implementation} outlasted the time limit of {limit}{call.lines()}"
                return None, call, failure, self.zygote.stop(child.pid)
            messages = child.notices.receive()
            if messages is None:
                return None, call, None, None
            now = time.monotonic()
            for kind, *content in messages:
                if kind == "call":
                    call = Call(*content, clock=now)
                elif kind == "import" and call is not None:
                    call = replace(call, clock=now, imported=True)
                elif kind == "done" and call is not None:
                    self.limits.completed(call.implementation, now - call.clock)
                    call = None
                elif kind == "report":
                    reports.append(
                        item.config.hook.pytest_report_from_serializable(config=item.config, data=content[0])
                    )
                elif kind == "finished":
                    return reports, None, None, None
                elif kind == "error":
                    return None, None, f"the isolated test could not run:\n{content[0]}", None

    def _wait(self, call: Call | None) -> float | None:
        """Seconds until the call in progress reaches its time limit (None: no limit now)."""
        limit = None if call is None else self.limits.limit(call.implementation, call.imported)
        if limit is None:
            return None
        return max(0.0, call.clock + limit - time.monotonic())

    def start(self) -> Child:
        """A fresh child from the zygote, with a pipe each way and a file for its Python stack."""
        requests_read, requests_write = os.pipe()
        notices_read, notices_write = os.pipe()
        stack = tempfile.TemporaryFile()  # noqa: SIM115 (open as long as the child lives; closed by release)
        pid = self.zygote.fork(requests_read, notices_write, stack.fileno())
        os.close(requests_read)
        os.close(notices_write)
        self.child = Child(pid, Channel(requests_write), Channel(notices_read), stack)
        return self.child

    def retire(self) -> None:
        if self.child is not None:
            self.child.release()
            self.zygote.wait(self.child.pid)
            self.child = None


def declared_call_times(config) -> dict[str, float]:
    """The run's entries that declare how long a correct call may take (``call_time_s``), by name."""
    from convcheck.properties.plugin import run_registries

    entries = [entry for registry in run_registries(config).values() for entry in registry.values()]
    return {entry.name: entry.call_time_s for entry in entries if entry.call_time_s}


class IsolationOff(pytest.PytestWarning):
    """This run's property tests run in the pytest process: a crash ends the run."""


def _warn_off(config, hazard: str) -> None:
    message = f"isolation is off: {hazard}, which a forked child could not use; run in a fresh process"
    config.issue_config_time_warning(IsolationOff(message), stacklevel=2)


def fork_hazards() -> str | None:
    """Why forking this process would be unsafe (a library has started what a child would need: threads that a
    fork does not copy, a CUDA context that a child cannot use), or None."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    if bridge is not None and bridge.backends_are_initialized():
        return "JAX has initialized its backends in this process"
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "torch has initialized CUDA in this process"
    return None


def _python_stack(stack, frames: int = 6) -> str:
    """The innermost frames the child's fault handler wrote, if it crashed or was stopped."""
    stack.seek(0)
    lines = stack.read().decode(errors="replace").splitlines()
    files = [line.strip() for line in lines if line.startswith("  File ")][:frames]
    return "\n  Python stack (most recent call first):\n" + "\n".join(f"    {f}" for f in files) if files else ""


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    return f"{name} ({signal.strsignal(number)})"


def _failed_report(item, message: str) -> pytest.TestReport:
    """A failed call report for a test whose process crashed or was stopped."""
    return pytest.TestReport(
        nodeid=item.nodeid,
        location=item.location,
        keywords=dict.fromkeys(item.keywords, 1),
        outcome="failed",
        longrepr=f"{item.nodeid}\n{message}",
        when="call",
        user_properties=list(item.user_properties),
    )


def add_options(parser) -> None:
    """``--isolation`` and ``--call-timeout`` (for ``pytest_addoption``)."""
    group = parser.getgroup("convcheck")
    group.addoption(
        "--isolation",
        choices=MODES,
        default=DEFAULT_MODE,
        help=f"run property tests in a forked process, so that a crash fails the test (default: {DEFAULT_MODE})",
    )
    group.addoption(
        "--call-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"in an isolated test, fail an implementation call that runs longer, imports not counted (default: "
        f"{FACTOR:g} times the entry's slowest call so far, at least {FLOOR_S:g}; 0: no limit)",
    )


def configure(config) -> None:
    """Register the plug-in when the run asks for isolation (not under --pdb, whose prompt needs this process), and
    when forking this process is safe; otherwise warn that isolation is off."""
    if config.getoption("isolation") != "fork" or config.getoption("usepdb", False):
        return
    if hazard := fork_hazards():
        _warn_off(config, hazard)
        return
    config.pluginmanager.register(Isolation(CallLimits(config.getoption("call_timeout"))), "convcheck-isolation")

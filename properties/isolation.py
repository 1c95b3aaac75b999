"""Isolation: each property test runs in a forked child, so that a crash or a hang of an implementation fails that
test, naming the call in progress, and the run goes on.

The parent forks once per test item that has an ``impl`` parameter. The child runs the item's whole test protocol
(setup, the Hypothesis search and shrink, teardown) exactly as in one process, and sends its reports back over a pipe;
the parent logs them as if the test had run in-process. Around each call of an implementation the property code says
``with watching(name, call):``; in a child this tells the parent which call is in progress, so that when the child
dies from a signal, or a call outlasts the time limit (the parent then kills the child), the failure names the
implementation and the call. Outside a child ``watching`` does nothing.

A forked child inherits the implementation's in-process behaviour (an output buffer it reuses across calls, inputs it
modifies) that a worker process receiving copies of the arrays would hide, and callables that cannot be pickled.

Fork-safety: GNU OpenMP (torch's intra-op pool) keeps no fork handler, so a child that uses a pool the parent has
started deadlocks; the child therefore runs torch on one intra-op thread, as the property suite does anyway.
OpenBLAS re-creates its threads after a fork.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import resource
import select
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from _pytest.runner import runtestprotocol

CALL_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0  # for a stopped child to write its stack and exit
MODES = ("fork", "none")
DEFAULT_MODE = "fork" if hasattr(os, "fork") else "none"
_HEADER = struct.Struct("!I")

_notices: _Channel | None = None  # set in a forked child only: where ``watching`` reports the call in progress


@dataclass(frozen=True)
class Call:
    """The call of an implementation under test in progress in a child."""

    implementation: str
    description: str
    reproduction: str | None
    started: float  # time.monotonic() in the parent, when the notice arrived

    def lines(self) -> str:
        text = f"\n  call: {self.description}"
        return text + (f"\n  reproduce:\n{self.reproduction}" if self.reproduction else "")


@contextmanager
def watching(implementation: str, call: str, reproduction: str | None = None) -> Iterator[None]:
    """Around one call of an implementation under test: in an isolated test, tell the parent that ``implementation``
    is running ``call`` (a one-line description; ``reproduction``: Python lines that repeat it), to be named if the
    call crashes or outlasts the time limit. A no-op when the test is not isolated."""
    if _notices is None:
        yield
        return
    _notices.send(("call", implementation, call, reproduction))
    try:
        yield
    finally:
        _notices.send(("done",))


def describe_call(x, weight, bias, geometry: dict) -> str:
    """A call's arguments in one line: array dtypes, shapes and (when not C-contiguous) strides, then the geometry."""
    arrays = ", ".join(
        f"{name}={_describe_array(value)}" for name, value in (("x", x), ("weight", weight), ("bias", bias))
    )
    return f"conv2d({arrays}{''.join(f', {key}={value!r}' for key, value in geometry.items())})"


def _describe_array(value) -> str:
    if value is None or not hasattr(value, "shape"):
        return repr(value) if value is None else type(value).__name__
    text = f"{value.dtype}{list(value.shape)}"
    flags = getattr(value, "flags", None)
    return text if flags is None or flags.c_contiguous else f"{text} strides={value.strides}"


class _Channel:
    """Length-prefixed pickled messages over a pipe: the child writes, the parent reads without blocking."""

    def __init__(self, fd: int):
        self.fd, self.buffer = fd, b""

    def send(self, message) -> None:
        data = pickle.dumps(message)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(self.fd, view) :]

    def receive(self) -> list | None:
        """The messages complete so far (call when the pipe is readable); None at the end of the stream."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        messages = []
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + size:
                break
            messages.append(pickle.loads(self.buffer[_HEADER.size : _HEADER.size + size]))
            self.buffer = self.buffer[_HEADER.size + size :]
        return messages


def isolated_item(item) -> bool:
    """Property tests, the ones with an implementation under test, are isolated."""
    return "impl" in getattr(getattr(item, "callspec", None), "params", {})


class Isolation:
    """A pytest plug-in: runs each property test in a forked child, with a time limit per implementation call."""

    def __init__(self, call_timeout: float = CALL_TIMEOUT_S):
        self.call_timeout = call_timeout

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if not isolated_item(item):
            return None
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in self.run_forked(item, nextitem):
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def run_forked(self, item, nextitem) -> list[pytest.TestReport]:
        """Run the item's test protocol in a child; its reports, or one failure if it crashed or hung."""
        read_end, write_end = os.pipe()
        with tempfile.TemporaryFile() as stack:  # where the child's Python stack is written when it crashes
            _advance_hypothesis_seed()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read_end)
                _run_child(item, nextitem, write_end, stack)
            os.close(write_end)
            reports, call, failure, status = self._follow(item, pid, _Channel(read_end))
            if failure is None and os.WIFSIGNALED(status):
                failure = f"the test process was killed by {_signal_name(os.WTERMSIG(status))}"
                failure += f" during a call of {call.implementation}{call.lines()}" if call else " outside any call"
            if failure is None and not reports:
                failure = f"the test process exited with status {os.waitstatus_to_exitcode(status)} without a report"
            if failure is None:
                return reports
            return [_failed_report(item, failure + _python_stack(stack))]

    def _follow(self, item, pid: int, channel: _Channel):
        """Read the child's notices and reports until it ends, or stop it when a call outlasts the time limit;
        return the reports, the call in progress at the end, the failure (if stopped) and the wait status."""
        reports, call, failure = [], None, None
        try:
            while failure is None:
                if not select.select([channel.fd], [], [], self._wait(call))[0]:
                    failure = (
                        f"a call of {call.implementation} outlasted the time limit of {self.call_timeout:g} s "
                        f"(--call-timeout); the test was stopped{call.lines()}"
                    )
                    return reports, call, failure, _stop(pid)
                messages = channel.receive()
                if messages is None:
                    break
                for kind, *content in messages:
                    if kind == "call":
                        call = Call(*content, started=time.monotonic())
                    elif kind == "done":
                        call = None
                    elif kind == "report":
                        reports.append(_report_from(item.config, content[0]))
                    elif kind == "error":
                        failure = f"the isolated test could not run:\n{content[0]}"
        except BaseException:  # an interrupted run leaves no child behind
            os.kill(pid, signal.SIGKILL)
            raise
        finally:
            os.close(channel.fd)
        return reports, call, failure, os.waitpid(pid, 0)[1]

    def _wait(self, call: Call | None) -> float | None:
        """Seconds until the call in progress reaches the time limit (None: no limit now)."""
        if call is None or not self.call_timeout:
            return None
        return max(0.0, call.started + self.call_timeout - time.monotonic())


def _stop(pid: int) -> int:
    """Stop a hung child: SIGABRT first (its fault handler writes the Python stack), SIGKILL if it is still there
    after a grace period; return its wait status."""
    os.kill(pid, signal.SIGABRT)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _run_child(item, nextitem, fd: int, stack) -> None:
    """In the forked child: run the test protocol, send the reports, and leave without the parent's exit handlers."""
    global _notices
    _notices = channel = _Channel(fd)
    status = 0
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash fails the test; it leaves no core file
        faulthandler.enable(file=stack, all_threads=False)
        _one_torch_thread()
        for report in runtestprotocol(item, log=False, nextitem=nextitem):
            channel.send(("report", item.config.hook.pytest_report_to_serializable(config=item.config, report=report)))
    except BaseException:
        status = 1
        channel.send(("error", traceback.format_exc()))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _one_torch_thread() -> None:
    """A pool that torch (GNU OpenMP) started before the fork deadlocks the child's first parallel region."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _advance_hypothesis_seed() -> None:
    """Draw, in the parent, the seed the child's Hypothesis test will not draw here: otherwise every child starts
    from the parent's unchanged random state, and every isolated test would search with the same seed."""
    core = sys.modules.get("hypothesis.core")
    generator = getattr(getattr(core, "threadlocal", None), "_hypothesis_global_random", None)
    if generator is not None:
        generator.getrandbits(128)


def _python_stack(stack, frames: int = 6) -> str:
    """The innermost frames the child's fault handler wrote, if it crashed."""
    stack.seek(0)
    lines = stack.read().decode(errors="replace").splitlines()
    files = [line.strip() for line in lines if line.startswith("  File ")][:frames]
    return "\n  Python stack (most recent call first):\n" + "\n".join(f"    {f}" for f in files) if files else ""


def _report_from(config, data) -> pytest.TestReport:
    return config.hook.pytest_report_from_serializable(config=config, data=data)


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
        help=f"run each property test in a forked process, so that a crash fails the test (default: {DEFAULT_MODE})",
    )
    group.addoption(
        "--call-timeout",
        type=float,
        default=CALL_TIMEOUT_S,
        metavar="SECONDS",
        help=f"in an isolated test, fail an implementation call that runs longer (default {CALL_TIMEOUT_S:g}; 0: off)",
    )


def configure(config) -> None:
    """Register the plug-in when the run asks for isolation (not under --pdb, whose prompt needs this process)."""
    if config.getoption("isolation") == "fork" and not config.getoption("usepdb", False):
        config.pluginmanager.register(Isolation(config.getoption("call_timeout")), "convcheck-isolation")

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

Why a zygote: a process cannot safely fork once a library has started threads in it. Tests that run in the parent
(JAX computations in a library's own test, a benchmark) start such threads, and a child forked after them
deadlocks on the first lock a lost thread held (measured: every JAX property test hit the time limit). The zygote is
forked before any test runs, so every child starts from a process with one thread. When the run itself starts in a
process where JAX has already computed (``check_implementation()`` called from such a script), no fork is safe:
isolation is then off for the run, with a warning.

One child serves a whole sequence of tests, so the suite runs with warm caches and one fork per crash, not per test
(measured: a fork per test costs the fork, the pages the test writes and cold caches, about 0.1 s per test on a
loaded machine, where a property test takes 0.05 s on average). Running in
the implementation's own process keeps what a worker receiving copies of the arrays would hide: an output buffer
reused across calls, inputs modified in place, callables that cannot be pickled.

Fork-safety within a child: GNU OpenMP (torch's intra-op pool) has no fork handler, so a child runs torch on one
intra-op thread, as the property suite does. OpenBLAS re-creates its threads after a fork.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import pickle
import resource
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import pytest
from _pytest.runner import runtestprotocol
from convcheck.properties.time_limits import FACTOR, FLOOR_S, CallLimits

IMPORT_NOTICE_INTERVAL_S = 0.05  # at most one import notice per interval: the parent's clock restarts that late
STOP_GRACE_S = 5.0  # for a stopped child to write its Python stack and exit
MODES = ("fork", "none")
DEFAULT_MODE = "fork" if hasattr(os, "fork") else "none"
_HEADER = struct.Struct("!I")
_REQUEST = struct.Struct("!cq")  # to the zygote: a command and a process id
_ANSWER = struct.Struct("!q")  # from the zygote: a process id or a wait status

_notices: _Channel | None = None  # set in a forked child only: where ``watching`` reports the call in progress
_calling: int | None = None  # in a child, during a watched call: the thread that makes it


@contextmanager
def watching(implementation: str, call: str, reproduction: str | None = None) -> Iterator[None]:
    """Around one call of an implementation under test: in an isolated test, tell the parent that ``implementation``
    is running ``call`` (a one-line description; ``reproduction``: Python lines that repeat it), to be named if the
    call crashes or outlasts the time limit. A no-op when the test is not isolated."""
    global _calling
    if _notices is None:
        yield
        return
    _notices.send(("call", implementation, call, reproduction))
    _calling, torch_imported = threading.get_ident(), "torch" in sys.modules
    try:
        yield
    finally:
        _calling = None
        if not torch_imported:  # a call that imported torch: one thread from the next call on, as in other tests
            _one_torch_thread()
        _notices.send(("done",))


class _ImportNotices:
    """In a child: a finder placed first on ``sys.meta_path`` that finds nothing, but tells the parent that the call
    in progress is importing a module (at most once per ``IMPORT_NOTICE_INTERVAL_S``), so that a library's import
    does not count against the call's time limit."""

    def __init__(self):
        self.sent = 0.0

    def find_spec(self, name, path=None, target=None):
        if _calling == threading.get_ident() and (now := time.monotonic()) - self.sent >= IMPORT_NOTICE_INTERVAL_S:
            self.sent = now
            _notices.send(("import",))
        return None


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


def isolated_item(item) -> bool:
    """Property tests, the ones with an implementation under test, are isolated."""
    return "impl" in getattr(getattr(item, "callspec", None), "params", {})


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


class _Channel:
    """Length-prefixed pickled messages over a pipe, one way."""

    def __init__(self, fd: int):
        self.fd, self.buffer, self.pending = fd, b"", deque()

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

    def next(self):
        """The next message, waiting for it; None at the end of the stream."""
        while not self.pending:
            messages = self.receive()
            if messages is None:
                return None
            self.pending.extend(messages)
        return self.pending.popleft()


@dataclass
class _Child:
    """A forked process that runs the tests it is handed: requests go down one pipe, notices and reports come up
    another; its fault handler writes the Python stack to ``stack`` when it crashes."""

    pid: int
    requests: _Channel
    notices: _Channel
    stack: object
    expects: str | None = None  # the test it has prepared for (the last test's next item), None before the first

    def release(self) -> None:
        """Close this side's pipes (the end of the requests: a waiting child exits) and the stack file."""
        os.close(self.requests.fd)
        os.close(self.notices.fd)
        self.stack.close()


class Isolation:
    """A pytest plug-in: runs property tests in children of a zygote, with a time limit per implementation call."""

    def __init__(self, limits: CallLimits | None = None):
        self.limits = limits or CallLimits()
        self.zygote: _Zygote | None = None
        self.child: _Child | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session):
        if any(map(isolated_item, session.items)):
            if hazard := fork_hazards():  # collection started it (an --impl module computing at import)
                _warn_off(session.config, hazard)
            else:
                self.zygote = _Zygote.start(session)
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
        if self.child is not None and self.child.expects != item.nodeid:
            self.retire()
        child = self.child or self.start()
        child.requests.send((item.nodeid, nextitem and nextitem.nodeid))
        child.expects = nextitem and nextitem.nodeid
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

    def follow(self, item, child: _Child):
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

    def start(self) -> _Child:
        """A fresh child from the zygote, with a pipe each way and a file for its Python stack."""
        requests_read, requests_write = os.pipe()
        notices_read, notices_write = os.pipe()
        stack = tempfile.TemporaryFile()  # noqa: SIM115 (open as long as the child lives; closed by release)
        pid = self.zygote.fork(requests_read, notices_write, stack.fileno())
        os.close(requests_read)
        os.close(notices_write)
        self.child = _Child(pid, _Channel(requests_write), _Channel(notices_read), stack)
        return self.child

    def retire(self) -> None:
        if self.child is not None:
            self.child.release()
            self.zygote.wait(self.child.pid)
            self.child = None


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


@dataclass
class _Zygote:
    """A copy of the collected session, forked before any test ran, that forks the children and is their parent:
    the parent asks it over a socket to fork a child (handing it the child's ends of the pipes), to wait for one or
    to stop one."""

    pid: int
    control: socket.socket

    @classmethod
    def start(cls, session) -> _Zygote:
        parent_end, zygote_end = socket.socketpair()
        gc.freeze()  # the children's collections then leave the session's objects (and their pages) alone
        pid = os.fork()
        if pid == 0:  # the zygote: never returns
            parent_end.close()
            _serve_forks(session, zygote_end)
        gc.unfreeze()
        zygote_end.close()
        return cls(pid, parent_end)

    def fork(self, *fds: int) -> int:
        """A new child, which runs tests with ``fds``: its end of the requests, of the notices, and its stack file."""
        return self._ask(b"f", 0, fds)

    def wait(self, pid: int) -> int:
        """The wait status of a child that has ended or is ending."""
        return self._ask(b"w", pid)

    def stop(self, pid: int) -> int:
        """Stop a hung child (see ``_stop``); its wait status."""
        return self._ask(b"s", pid)

    def close(self) -> None:
        self.control.close()  # the end of the requests: the zygote exits
        os.waitpid(self.pid, 0)

    def _ask(self, command: bytes, pid: int, fds=()) -> int:
        socket.send_fds(self.control, [_REQUEST.pack(command, pid)], list(fds))
        return _ANSWER.unpack(_receive(self.control, _ANSWER.size))[0]


def _receive(end: socket.socket, size: int, received: bytes = b"") -> bytes:
    """Exactly ``size`` bytes from a stream socket (fewer at its end), after those already ``received``."""
    while len(received) < size and (chunk := end.recv(size - len(received))):
        received += chunk
    return received


def _serve_forks(session, control: socket.socket) -> None:
    """In the zygote: answer the parent's requests until it closes the socket, then leave without the exit handlers."""
    status = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupted run is the parent's to end
        while True:
            data, fds, _, _ = socket.recv_fds(control, _REQUEST.size, 3)
            request = _receive(control, _REQUEST.size, data) if data else b""
            if len(request) < _REQUEST.size:
                break
            command, pid = _REQUEST.unpack(request)
            if command == b"f":
                answer = _fork_child(session, control, *fds)
            elif command == b"w":
                answer = os.waitpid(pid, 0)[1]
            else:
                answer = _stop(pid)
            control.sendall(_ANSWER.pack(answer))
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _fork_child(session, control: socket.socket, requests: int, notices: int, stack: int) -> int:
    """In the zygote: fork a child that serves test requests; the zygote keeps none of its descriptors."""
    _advance_hypothesis_seed()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        control.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _serve(session, _Channel(requests), _Channel(notices), stack)
    for fd in (requests, notices, stack):
        os.close(fd)
    return pid


def _serve(session, requests: _Channel, notices: _Channel, stack: int) -> None:
    """In a child: run each test asked for, send its reports, and at the end of the requests leave
    without the parent's exit handlers."""
    global _notices
    _notices = notices
    status = 0
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash fails the test; it leaves no core file
        faulthandler.enable(file=stack, all_threads=False)
        sys.meta_path.insert(0, _ImportNotices())
        items = {item.nodeid: item for item in session.items}
        while (request := requests.next()) is not None:
            nodeid, next_nodeid = request
            item, nextitem = items[nodeid], items.get(next_nodeid)
            _one_torch_thread()
            for report in runtestprotocol(item, log=False, nextitem=nextitem):
                notices.send(
                    ("report", item.config.hook.pytest_report_to_serializable(config=item.config, report=report))
                )
            notices.send(("finished",))
    except BaseException:
        status = 1
        notices.send(("error", traceback.format_exc()))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _stop(pid: int) -> int:
    """Stop a hung child: SIGABRT first (its fault handler writes the Python stack), SIGKILL if it is still there
    after a grace period. Its wait status."""
    os.kill(pid, signal.SIGABRT)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def _one_torch_thread() -> None:
    """A pool that torch (GNU OpenMP) started before the fork deadlocks the child's first parallel region; torch
    imported by a test of this child (an entry imports it at its first call) gets one thread from the next test on."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _advance_hypothesis_seed() -> None:
    """Draw in the zygote a seed its Hypothesis tests would draw: otherwise a child forked after a crash would
    search with the seeds of the child before it."""
    core = sys.modules.get("hypothesis.core")
    generator = getattr(getattr(core, "threadlocal", None), "_hypothesis_global_random", None)
    if generator is not None:
        generator.getrandbits(128)


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

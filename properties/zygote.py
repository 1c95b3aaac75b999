"""The zygote: a copy of the collected session, forked before any test runs, that forks the children which run
isolated tests (:mod:`convcheck.properties.isolation` is the parent's side), and the children's loop: run each test
asked for, send its reports back over a pipe.

Why a zygote: a process cannot safely fork once a library has started threads in it. Tests that run in the parent
(JAX computations in a library's own test, a benchmark) start such threads, and a child forked after them
deadlocks on the first lock a lost thread held (measured: every JAX property test hit the time limit). The zygote is
forked before any test runs, so every child starts from a process with one thread.

One child serves a whole sequence of tests, so the suite runs with warm caches and one fork per crash, not per test
(measured: a fork per test costs the fork, the pages the test writes and cold caches, about 0.1 s per test on a
loaded machine, where a property test takes 0.05 s on average; and a library the tests use, imported once per child:
torch's import took 60% of a gallery run whose stopped entries' skipped tests retired the child each time). A child
asked for another test than the one it prepared for (the parent skipped those between) tears down to it and goes on.

Fork-safety within a child: GNU OpenMP (torch's intra-op pool) has no fork handler, so a child runs torch on one
intra-op thread, as the property suite does. OpenBLAS re-creates its threads after a fork.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import pickle
import resource
import signal
import socket
import struct
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass

from _pytest.runner import runtestprotocol
from convcheck.properties import watching

STOP_GRACE_S = 5.0  # for a stopped child to write its Python stack and exit
_HEADER = struct.Struct("!I")
_REQUEST = struct.Struct("!cq")  # to the zygote: a command and a process id
_ANSWER = struct.Struct("!q")  # from the zygote: a process id or a wait status


class Channel:
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
class Child:
    """A forked process that runs the tests it is handed: requests go down one pipe, notices and reports come up
    another; its fault handler writes the Python stack to ``stack`` when it crashes."""

    pid: int
    requests: Channel
    notices: Channel
    stack: object

    def release(self) -> None:
        """Close this side's pipes (the end of the requests: a waiting child exits) and the stack file."""
        os.close(self.requests.fd)
        os.close(self.notices.fd)
        self.stack.close()


@dataclass
class Zygote:
    """A copy of the collected session, forked before any test ran, that forks the children and is their parent:
    the parent asks it over a socket to fork a child (handing it the child's ends of the pipes), to wait for one or
    to stop one."""

    pid: int
    control: socket.socket

    @classmethod
    def start(cls, session) -> Zygote:
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
        _serve(session, Channel(requests), Channel(notices), stack)
    for fd in (requests, notices, stack):
        os.close(fd)
    return pid


def _serve(session, requests: Channel, notices: Channel, stack: int) -> None:
    """In a child: run each test asked for, send its reports, and at the end of the requests leave
    without the parent's exit handlers."""
    status = 0
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash fails the test; it leaves no core file
        faulthandler.enable(file=stack, all_threads=False)
        watching.listen(notices)
        items = {item.nodeid: item for item in session.items}
        expected = None  # the test the last one's teardown prepared for
        while (request := requests.next()) is not None:
            nodeid, next_nodeid = request
            item, nextitem = items[nodeid], items.get(next_nodeid)
            if expected is not None and nodeid != expected:
                # The parent skipped the tests between (a stopped entry's): finish what only they would have used.
                session._setupstate.teardown_exact(item)
            expected = next_nodeid
            watching.one_torch_thread()
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


def _advance_hypothesis_seed() -> None:
    """Draw in the zygote a seed its Hypothesis tests would draw: otherwise a child forked after a crash would
    search with the seeds of the child before it."""
    core = sys.modules.get("hypothesis.core")
    generator = getattr(getattr(core, "threadlocal", None), "_hypothesis_global_random", None)
    if generator is not None:
        generator.getrandbits(128)

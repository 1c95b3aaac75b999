"""Watching calls: in an isolated test's child process, each call of an implementation under test tells the parent
that it began, that it imports a module (its time limit then counts on from there) and that it ended, so that a crash
or a hang can be blamed on the call in progress. Outside a child (:mod:`convcheck.properties.zygote` starts them
with :func:`listen`) ``watching`` does nothing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

IMPORT_NOTICE_INTERVAL_S = 0.05  # at most one import notice per interval: the parent's clock restarts that late

_notices = None  # in a forked child only: the channel to the parent where ``watching`` reports the call in progress
_calling: int | None = None  # in a child, during a watched call: the thread that makes it


def listen(notices) -> None:
    """In a freshly forked child: report watched calls, and the modules they import, on the channel ``notices``."""
    global _notices
    _notices = notices
    sys.meta_path.insert(0, _ImportNotices())


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
            one_torch_thread()
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


def one_torch_thread() -> None:
    """A pool that torch (GNU OpenMP) started before the fork deadlocks the child's first parallel region; torch
    imported by a test of this child (an entry imports it at its first call) gets one thread from the next test on."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)


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

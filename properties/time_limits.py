"""How long an implementation call in an isolated test may run before it counts as hung and is stopped.

By default the limit follows what the entry has shown in this run: ``FACTOR`` times its slowest completed call, and
never less than ``FLOOR_S``. A property case costs at most a few milliseconds of arithmetic, so the floor is what
almost every call gets: room for what a first call does once (start a library's backend, compile, load a GPU
context) on a loaded machine. Measured in a default run of every entry (22,578 calls on 2 cores): the slowest call
took 0.5 s (a JAX compilation), and no call took more than 5.2 times the slowest call of its entry before it. An
entry whose calls are slow earns a proportionally longer limit with its first slow call; one that hangs on every
call costs the floor per test (about 5 minutes for one entry's 54 tests, where a fixed minute cost an hour).
An entry may declare how long a correct call of it can take (``call_time_s``, a cost hint): its limit is never lower.
JAX's entries do, since XLA's compilation time varies by two orders of magnitude with the shape: a float64
convolution of one input channel with padding compiled in 6-7 s (``n2 ic1 ih20 iw20 oc7 kh2 kw6 'same' dh3``, load
3.7), where most shapes take 15-70 ms. ``--call-timeout=SECONDS`` fixes the limit instead (0: none).

Imports are not counted: a call's clock restarts whenever it imports a module (the child running it reports each
import), since an entry imports its library at its first call in each process, which takes seconds for torch, JAX
or TensorFlow, and a fresh process follows every crash. The child can tell when an import begins, not when it ends,
so after an import a call gets at least ``FLOOR_S``, also under a lower fixed limit: one module (a library's compiled
core) can take a second to load on a loaded machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FLOOR_S = 5.0  # the least any call gets: a backend's start or a first compilation on a loaded machine
FACTOR = 20.0  # times the entry's slowest completed call: the spread of one entry's case costs and of the load


@dataclass
class CallLimits:
    """The time limits of one run's implementation calls: ``fixed`` seconds (``--call-timeout``; 0: no limit), or
    when None, one that follows each entry's slowest completed call."""

    fixed: float | None = None
    slowest: dict[str, float] = field(default_factory=dict)  # implementation -> seconds, completed calls only
    declared: dict[str, float] = field(default_factory=dict)  # implementation -> its declared call_time_s

    def limit(self, implementation: str, imported: bool = False) -> float | None:
        """Seconds a call of ``implementation`` may run, from its start or (``imported``) its last import; None: no
        limit."""
        if self.fixed is not None:
            limit = self.fixed
        else:
            shown = FACTOR * self.slowest.get(implementation, 0)
            limit = max(FLOOR_S, self.declared.get(implementation, 0), shown)
        if not limit:
            return None
        return max(limit, FLOOR_S) if imported else limit

    def completed(self, implementation: str, seconds: float) -> None:
        """Record a call that returned (or raised) after ``seconds``, imports not counted."""
        self.slowest[implementation] = max(seconds, self.slowest.get(implementation, 0.0))

    def describe(self, implementation: str, imported: bool = False) -> str:
        """The limit of a call of ``implementation`` and where it comes from, for a failure message."""
        limit = self.limit(implementation, imported)
        after = f", at least {FLOOR_S:g} s after an import" if imported else ""
        if self.fixed is not None:
            return f"{limit:g} s (--call-timeout{after})"
        slowest = self.slowest.get(implementation)
        shown = f"its slowest call so far took {slowest:.3g} s" if slowest is not None else "no call of it has ended"
        if implementation in self.declared:
            shown += f"; it declares calls of up to {self.declared[implementation]:g} s (call_time_s)"
        return (
            f"{limit:.3g} s ({FACTOR:g} times its slowest completed call, at least {FLOOR_S:g} s: {shown}; "
            "--call-timeout=SECONDS sets a fixed limit)"
        )

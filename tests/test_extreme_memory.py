"""Every registered implementation's extra memory on the extreme-argument family's cases: at most 64 MiB beyond the
output, whatever the stride, padding or dilation.

Measured as the property family measures it (``convcheck.properties.memory``): NumPy's allocations through tracemalloc,
and the peak resident set (reset before the call) for torch's and other C allocations. ``python3 -m
tests.test_extreme_memory`` prints the table of every implementation on every case.
"""

from __future__ import annotations

import numpy as np
import pytest
from convcheck.properties.cases import ConvCase
from convcheck.properties.memory import LIMIT_BYTES, measured
from convcheck.properties.support import call_or_skip

from convcheck import impls

FAMILY = "extreme_arguments"

# One of each kind the family draws, at its largest, on a few input planes.
CASES = {
    "stride 10**6, 5x5": ConvCase(n=2, c_in=3, h=5, w=5, c_out=4, kh=3, kw=3, stride=(10**6, 10**6)),
    "stride (1, 10**9)": ConvCase(n=2, c_in=3, h=5, w=5, c_out=4, kh=3, kw=3, stride=(1, 10**9)),
    "stride 2**31-1, padding 2": ConvCase(n=2, c_in=3, h=5, w=5, c_out=4, kh=3, kw=3, stride=(2**31 - 1,) * 2,
                                          padding=(2, 2)),
    "stride 2**62, padding 2**61": ConvCase(n=2, c_in=3, h=5, w=5, c_out=4, kh=3, kw=3, stride=(2**62,) * 2,
                                            padding=(2**61, 2**61)),
    "stride 2**63-1": ConvCase(n=2, c_in=3, h=5, w=5, c_out=4, kh=3, kw=3, stride=(2**63 - 1,) * 2, padding=(1, 1)),
    "padding 1000, stride 1000": ConvCase(n=3, c_in=4, h=3, w=3, c_out=4, kh=3, kw=3, stride=(1000, 1000),
                                          padding=(1000, 1000)),
    "dilation 500, padded to fit": ConvCase(n=2, c_in=4, h=5, w=5, c_out=4, kh=3, kw=3, padding=(499, 499),
                                            dilation=(500, 500)),
    "dilation 300, 'same'": ConvCase(n=2, c_in=4, h=6, w=6, c_out=4, kh=3, kw=3, padding="same", dilation=(300, 300)),
    "padding (1000, 1), stride 1": ConvCase(n=2, c_in=4, h=4, w=4, c_out=4, kh=3, kw=3, padding=(1000, 1)),
}  # fmt: skip


def extra_memory(entry, case: ConvCase) -> tuple[int, np.ndarray]:
    """The extra memory of one call of ``entry`` on ``case`` (skipped when outside its capabilities), and its output."""
    x, weight, bias = case.arrays()
    with measured() as usage:
        out = call_or_skip(entry, x, weight, bias, **case.geometry())
    return usage.extra(out.nbytes), out


def entries():
    """Every registered name; an entry that declares the family an expected failure is not called (it may crash)."""
    for name, entry in sorted(impls.REGISTRY.items()):
        reason = getattr(entry.known_failure(FAMILY), "reason", None)
        yield pytest.param(name, marks=pytest.mark.xfail(reason=reason, run=False)) if reason else name


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
@pytest.mark.parametrize("name", entries())
def test_extra_memory_is_bounded_on_extreme_arguments(name, case):
    extra, out = extra_memory(impls.REGISTRY[name], case)
    assert extra <= LIMIT_BYTES, (
        f"{name} on {case.descriptor()} used {extra / 2**20:.1f} MiB beyond its {out.nbytes / 2**20:.2f} MiB output "
        f"(limit {LIMIT_BYTES / 2**20:.0f} MiB)"
    )


def main() -> None:
    """Print the extra memory (MiB) of every registered implementation on every case."""
    names = sorted(impls.REGISTRY)
    width = max(map(len, CASES)) + 2
    print("extra memory beyond the output, MiB (NumPy peak or resident peak, the larger)")
    columns = [max(10, len(name) + 2) for name in names]
    print("".ljust(width) + "".join(name.rjust(column) for name, column in zip(names, columns, strict=True)))
    for label, case in CASES.items():
        cells = []
        for name in names:
            if impls.REGISTRY[name].known_failure(FAMILY):
                cells.append("declared")
                continue
            try:
                extra, _ = extra_memory(impls.REGISTRY[name], case)
                cells.append(f"{max(extra, 0) / 2**20:.2f}")
            except pytest.skip.Exception:
                cells.append("n/a")
            except Exception as error:  # a failure is a result here
                cells.append(type(error).__name__[:9])
        print(label.ljust(width) + "".join(cell.rjust(column) for cell, column in zip(cells, columns, strict=True)))


if __name__ == "__main__":
    main()

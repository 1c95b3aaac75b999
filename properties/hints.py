"""Likely causes of a wrong result, found from the data: the wrong output is compared with what common mistakes
would give (computed by the oracle), then with patterns of where it differs. A hint is a possibility, and none is
given when nothing matches.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from convcheck.properties.errors import error_bound, terms_per_output
from convcheck.properties.oracle import explicit_padding, pair, reference_conv2d


def _padded(x, sides, mode="constant"):
    top, bottom, left, right = sides
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)


def _swapped(geometry, key):
    value = geometry[key]
    if isinstance(value, str) or pair(value)[0] == pair(value)[1]:
        return None
    return {**geometry, key: pair(value)[::-1]}


def mistakes(case, x, weight, bias):
    """(what the wrong output would be, its result) for each common mistake that changes something in this case."""
    geometry = case.geometry()
    sides = explicit_padding(case.padding, (case.kh, case.kw), case.dilation)
    top, bottom, left, right = sides
    unpadded = {**geometry, "padding": 0}

    def oracle(x=x, weight=weight, bias=bias, **changes):
        return reference_conv2d(x, weight, bias, **{**geometry, **changes})

    yield (
        "the flipped kernel's: convolution instead of cross-correlation?",
        lambda: oracle(weight=weight[..., ::-1, ::-1]),
    )
    if case.kh == case.kw:
        yield (
            "the transposed kernel's: kernel rows and columns swapped?",
            lambda: oracle(weight=weight.transpose(0, 1, 3, 2)),
        )
    for key in ("stride", "padding", "dilation"):
        if _swapped(geometry, key):
            yield f"that of {key} (h, w) read as (w, h)?", lambda key=key: oracle(**_swapped(geometry, key))
    if top + bottom + left + right:
        yield (
            "that of all padding at the top/left: padding on one side?",
            lambda: reference_conv2d(_padded(x, (top + bottom, 0, left + right, 0)), weight, bias, **unpadded),
        )
        yield (
            "that of all padding at the bottom/right: padding on one side?",
            lambda: reference_conv2d(_padded(x, (0, top + bottom, 0, left + right)), weight, bias, **unpadded),
        )
        if (top, left) != (bottom, right):
            yield (
                "that of the odd zero on the top/left: 'same' padding on the wrong side?",
                lambda: reference_conv2d(_padded(x, (bottom, top, right, left)), weight, bias, **unpadded),
            )
        for mode, name in (("edge", "repeated border values"), ("wrap", "wrap-around (circular)")):
            yield (
                f"that of {name} instead of zero padding?",
                lambda mode=mode: reference_conv2d(_padded(x, sides, mode), weight, bias, **unpadded),
            )
    if bias is not None:
        yield "off by the bias everywhere: bias dropped?", lambda: oracle(bias=None)
        yield "off by the bias everywhere: bias added twice?", lambda: oracle(bias=2 * bias)
    if case.n > 1:
        yield "that of the batch items in another order: batch items mixed?", lambda: oracle(x=x[::-1])[::-1]


def storage_order(array: np.ndarray) -> np.ndarray:
    """The array's memory read in storage order as if it were C-ordered (what ignoring its strides reads)."""
    return np.asarray(array).ravel(order="K").reshape(array.shape)


LARGE_WORK = 2**21  # multiply-adds of the largest drawn cases (properties.strategies.LARGE)


def _close(a, b, bound) -> bool:
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)) <= bound))


def likely_cause(impl, case) -> str | None:
    """For ``impl`` on ``case``: the mistake whose result its output is, or where and how its output is wrong. Past
    ``LARGE_WORK`` (a real layer's case) the reference is float64's and only where the output differs is looked at:
    the common mistakes show on small cases, and computing each at real size would cost more than the check."""
    x, weight, bias = case.arrays()
    geometry = case.geometry()
    out = impl(x, weight, bias, **geometry)
    large = np.size(out) * terms_per_output(weight) > LARGE_WORK
    dtype = np.float64 if large else None
    expected = reference_conv2d(x, weight, bias, dtype=dtype, **geometry)
    if np.shape(out) != expected.shape:
        return shape_cause(case, np.shape(out))
    bound = error_bound(impl.error_model, x, weight, bias, reference_dtype=dtype, **geometry)
    if _close(out, expected, bound):
        return None  # the call on the case itself is right: the law's other calls differ
    if large:
        return pattern(case, out, expected, bound, x, weight, bias)
    matches = matching_mistakes(case, out, expected, bound)
    if len(matches) > 1:  # a small case cannot tell them apart: ask a larger input of the same geometry
        probe = replace(case, h=case.h + 5, w=case.w + 5, values="int", data=None, seed=case.seed + 1)
        px, pw, pb = probe.arrays()
        wider = matching_mistakes(
            probe,
            impl(px, pw, pb, **geometry),
            reference_conv2d(px, pw, pb, **geometry),
            error_bound(impl.error_model, px, pw, pb, **geometry),
        )
        matches = [m for m in matches if m in wider] or matches
    if matches:
        return "the output is " + "; or ".join(matches[:2])
    if case.layout != ("contiguous", "contiguous"):
        candidate = reference_conv2d(storage_order(x), storage_order(weight), bias, **geometry)
        if _close(out, candidate, bound):
            return "the output is that of the arrays' memory read in storage order: strides ignored?"
    return pattern(case, out, expected, bound, x, weight, bias)


def matching_mistakes(case, out, expected, bound) -> list[str]:
    """The common mistakes that give ``out`` on ``case`` (and not the right result)."""
    if np.shape(out) != expected.shape:
        return []
    x, weight, bias = case.arrays()
    found = []
    for what, result in mistakes(case, x, weight, bias):
        candidate = result()
        if (
            candidate.shape == expected.shape
            and _close(out, candidate, bound)
            and not _close(candidate, expected, bound)
        ):
            found.append(what)
    return found


def pattern(case, out, expected, bound, x, weight, bias) -> str | None:
    """Where and how the output differs: only the last rows or columns, some images, some channels, a few rows or
    columns, or by a rounding size."""
    with np.errstate(invalid="ignore", over="ignore"):
        difference = np.abs(np.asarray(out, np.float64) - np.asarray(expected, np.float64))
    outside = ~(difference <= bound)
    rows, cols = np.flatnonzero(outside.any(axis=(0, 1, 3))), np.flatnonzero(outside.any(axis=(0, 1, 2)))
    height, width = outside.shape[2:]
    last = [
        f"last {name}" if size - found.min() == 1 else f"last {size - int(found.min())} {name}s"
        for found, size, name in ((rows, height, "row"), (cols, width, "column"))
        if found.min() >= max(1, size - 2)
    ]
    if last:
        verb = "differs" if len(last) == 1 and not last[0].endswith("s") else "differ"
        return f"only the {' and '.join(last)} {verb}: an edge row or column lost, or windows cut short?"
    parts = (
        (0, "images", "batch blocks or tails"),
        (1, "output channels", "channel blocks or groups"),
        (2, "rows", "row bands or tiles"),  # at most half of them (rounding errors reach most rows)
        (3, "columns", "column bands or tiles"),
    )
    for axis, what, blocks in parts:
        found = np.flatnonzero(outside.any(axis=tuple(a for a in range(4) if a != axis)))
        if len(found) < outside.shape[axis] and (axis < 2 or len(found) <= outside.shape[axis] // 2):
            shown = ", ".join(map(str, found[:6])) + (", ..." if len(found) > 6 else "")
            return f"only {what} {shown} of {outside.shape[axis]} differ: {blocks} handled wrongly?"
    magnitude = reference_conv2d(
        np.abs(x), np.abs(weight), None if bias is None else np.abs(bias), dtype=expected.dtype, **case.geometry()
    )
    # errors relative to the size of the terms: which rounding unit do they look like?
    if np.all(np.isfinite(difference[outside])) and np.all(magnitude[outside] > 0):
        relative = float(np.max(difference[outside] / magnitude[outside]))
        terms = terms_per_output(weight) + 1
        units = [(name, u) for name, u in (("float16", 2.0**-11), ("bfloat16", 2.0**-8), ("float32", 2.0**-24))
                 if u > np.finfo(x.dtype).eps and u / 16 <= relative <= 2 * terms * u]  # fmt: skip
        if units:
            name = min(units, key=lambda unit: abs(np.log2(relative / unit[1])))[0]
            return f"errors up to {relative:.1g} of the terms' size, as from {name} rounding: {name} accumulation?"
    return None


def shape_cause(case, shape) -> str | None:
    """Which common mistake about the output size gives ``shape``."""
    sides = explicit_padding(case.padding, (case.kh, case.kw), case.dilation)
    kernel, stride, dilation = (case.kh, case.kw), case.stride, case.dilation
    pads = (sides[0] + sides[1], sides[2] + sides[3])

    def sizes(kernel=kernel, stride=stride, dilation=dilation, pads=pads, rounding=np.floor):
        return tuple(
            int(rounding((n + p - d * (k - 1) - 1) / s)) + 1
            for n, p, d, k, s in zip((case.h, case.w), pads, dilation, kernel, stride, strict=True)
        )

    causes = {
        "one short: the formula's + 1 left out?": tuple(size - 1 for size in sizes()),
        "one too many: the formula's - 1 left out?": sizes(pads=tuple(p + 1 for p in pads)),
        "that of padding on one side only?": sizes(pads=tuple(p // 2 for p in pads)),
        "that of padding ignored?": sizes(pads=(0, 0)),
        "rounded up: ceil instead of floor?": sizes(rounding=np.ceil),
        "that of stride (h, w) read as (w, h)?": sizes(stride=stride[::-1]),
        "that of padding (h, w) swapped?": sizes(pads=pads[::-1]),
        "that of dilation (h, w) swapped?": sizes(dilation=dilation[::-1]),
        "that of the kernel transposed?": sizes(kernel=kernel[::-1]),
        "that of dilation ignored?": sizes(dilation=(1, 1)),
        "that of taps d - 1 apart: dilation read as the zeros between taps?": sizes(
            dilation=tuple(max(1, d - 1) for d in dilation)
        ),
    }
    right = sizes()
    got = tuple(shape[2:])
    for what, spatial in causes.items():  # a mistake on one axis or on both
        axes_match = all(g in (r, s) for g, r, s in zip(got, right, spatial, strict=True))
        if len(got) == 2 and got != right and axes_match:
            return f"the output size is {what}"
    return None


def explain_command(case) -> str:
    """The ``convcheck explain`` line that shows ``case``'s shapes and output-size arithmetic."""

    def option(pair) -> str:
        return str(pair) if isinstance(pair, str) else str(pair[0]) if pair[0] == pair[1] else f"{pair[0]},{pair[1]}"

    parts = [
        f"convcheck explain --input {case.n},{case.c_in},{case.h},{case.w} --out-channels {case.c_out}",
        f"--kernel {option((case.kh, case.kw))} --stride {option(case.stride)} --padding {option(case.padding)}",
        f"--dilation {option(case.dilation)} --groups {case.groups} --dtype {case.dtype}",
    ]
    return " ".join(parts) + ("" if case.bias else " --no-bias")

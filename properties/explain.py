"""The shape explainer: ``convcheck explain`` for one layer description.

    convcheck explain --input 1,1,6,6 --out-channels 2 --kernel 3 --stride 2 --padding 1

prints the layer's shape equation (input, kernel, bias and output shapes), the output-size arithmetic for each spatial
axis step by step, then runs every registered implementation that supports the layer on random data and tabulates its
largest error against the property suite's oracle, relative to its error bound, with its time. The exit status is 0 when
every implementation that ran agrees, 1 when one does not, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
from convcheck.impls.contract import Conv2dProblem, ConvArgumentError, normalize, output_size
from convcheck.impls.registry import ERROR_MODELS
from convcheck.properties.errors import C_ELEMENTWISE, C_NORMWISE, error_bound
from convcheck.properties.oracle import reference_conv2d

from convcheck import impls

PROG = "convcheck explain"
MAX_ELEMENTS = 2**25  # largest array the explainer allocates for its random data
OPTION_OF = {"x": "input", "weight": "kernel"}  # contract argument -> command-line option, where they differ


class UsageError(Exception):
    """A bad command line; the message is one line naming the option."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


@dataclass(frozen=True)
class Layer:
    """A parsed layer description; ``text`` keeps what the user typed, for messages."""

    input_shape: tuple[int, int, int, int]
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] | str
    dilation: tuple[int, int]
    groups: int
    dtype: np.dtype
    bias: bool
    seed: int
    text: dict

    def geometry(self) -> dict:
        """The contract's keyword arguments."""
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation, "groups": self.groups}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Explain a conv2d layer's shapes and check every registered implementation on it.",
        epilog="KERNEL, STRIDE, PADDING and DILATION take one int (both axes) or two as H,W; "
        "PADDING also 'same' or 'valid'.",
    )
    parser.add_argument("--input", required=True, metavar="N,C,H,W", help="input shape [N, C_in, H, W]")
    parser.add_argument("--out-channels", required=True, metavar="C_OUT", help="output channels (feature maps)")
    parser.add_argument("--kernel", required=True, metavar="K", help="kernel size: 3 or 3,5")
    parser.add_argument("--stride", default="1", metavar="S")
    parser.add_argument("--padding", default="0", metavar="P")
    parser.add_argument("--dilation", default="1", metavar="D")
    parser.add_argument("--groups", default="1", metavar="G")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--bias", default=True, action=argparse.BooleanOptionalAction, help="add a bias (default)")
    parser.add_argument("--seed", default="0", metavar="SEED", help="seed of the random data")
    return parser


def _ints(option: str, text: str, count: tuple[int, ...], minimum: int | None = None) -> tuple[int, ...]:
    """Comma-separated ints; ``count`` lists the accepted lengths."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in count:
        wanted = {1: "an int", 2: "a pair of ints (H,W)", 4: "four ints N,C,H,W"}
        raise UsageError(f"--{option}={text}: expected " + " or ".join(wanted[n] for n in count))
    if minimum is not None and min(values) < minimum:
        raise UsageError(f"--{option}={text}: every entry must be >= {minimum}")
    return values


def _option_pair(option: str, text: str, minimum: int | None = None) -> tuple[int, int]:
    values = _ints(option, text, (1, 2), minimum)
    return (values[0], values[-1])


def parse(argv) -> Layer:
    args = build_parser().parse_args(argv)
    text = {name: getattr(args, name.replace("-", "_")) for name in ("input", "kernel", "stride", "padding")}
    text.update(dilation=args.dilation, groups=args.groups, bias="--bias")
    padding = args.padding
    if padding not in ("same", "valid"):
        try:
            padding = _option_pair("padding", padding)
        except UsageError:
            raise UsageError(f"--padding={padding}: expected an int, a pair of ints (H,W), 'same' or 'valid'") from None
    return Layer(
        input_shape=_ints("input", args.input, (4,), minimum=1),
        out_channels=_ints("out-channels", args.out_channels, (1,), minimum=1)[0],
        kernel=_option_pair("kernel", args.kernel, minimum=1),
        stride=_option_pair("stride", args.stride),
        padding=padding,
        dilation=_option_pair("dilation", args.dilation),
        groups=_ints("groups", args.groups, (1,))[0],
        dtype=np.dtype(args.dtype),
        bias=args.bias,
        seed=_ints("seed", args.seed, (1,), minimum=0)[0],
        text=text,
    )


def shapes(layer: Layer) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...] | None]:
    """(x, weight, bias) shapes of the layer."""
    c_in = layer.input_shape[1]
    c_group = max(1, c_in // layer.groups) if layer.groups >= 1 else c_in
    weight = (layer.out_channels, c_group, *layer.kernel)
    return layer.input_shape, weight, (layer.out_channels,) if layer.bias else None


def check(layer: Layer) -> Conv2dProblem:
    """The contract's own validation, on zero-cost placeholder arrays; its message re-worded for the command line."""
    x_shape, w_shape, b_shape = shapes(layer)
    placeholder = [None if s is None else np.broadcast_to(layer.dtype.type(0), s) for s in (x_shape, w_shape, b_shape)]
    try:
        return normalize(*placeholder, **layer.geometry())
    except ConvArgumentError as error:
        argument, _, rest = str(error).partition("=")
        why = rest.partition(": ")[2] or rest
        option = OPTION_OF.get(argument, argument)
        raise UsageError(f"--{option}={layer.text.get(option, '')}: {why}") from None


def arithmetic(axis: str, size: int, kernel: int, stride: int, before: int, after: int, dilation: int) -> str:
    """One axis of the output-size formula, step by step."""
    pads = f"2*{before}" if before == after else f"{before} + {after}"
    numerator = size + before + after - dilation * (kernel - 1) - 1
    result = output_size(size, kernel, stride, before + after, dilation)
    return (
        f"  {axis}_out = floor(({size} + {pads} - {dilation}*({kernel}-1) - 1) / {stride}) + 1"
        f" = floor({numerator} / {stride}) + 1 = {result}"
    )


def explain(layer: Layer, problem: Conv2dProblem) -> list[str]:
    h, w = problem.x.shape[2:]
    c_out, c_group, kh, kw = problem.weight.shape
    out = problem.output_shape
    top, bottom, left, right = problem.padding
    k = c_group * kh * kw
    rows = [
        ("Input", "[N, C_in, H, W]", list(problem.x.shape)),
        ("Kernel", "[C_out, C_in/groups, kH, kW]", list(problem.weight.shape)),
        *([("Bias", "[C_out]", [c_out])] if layer.bias else []),
        ("Output", "[N, C_out, H_out, W_out]", list(out)),
    ]
    lines = ["Shape equation"]
    lines += [f"  {name:<7} {symbols:<29} = {values}" for name, symbols, values in rows]
    lines += [
        f"  stride {problem.stride}, padding (top {top}, bottom {bottom}, left {left}, right {right}), "
        f"dilation {problem.dilation}, groups {problem.groups}, {layer.dtype}",
        "",
        "Output size per spatial axis: out = floor((in + 2*pad - dilation*(k-1) - 1) / stride) + 1",
        arithmetic("H", h, kh, problem.stride[0], top, bottom, problem.dilation[0]),
        arithmetic("W", w, kw, problem.stride[1], left, right, problem.dilation[1]),
        "",
        f"input: {problem.x.shape}",
        f"output: {out}",
        f"weight: {problem.weight.shape}",
        *([f"bias: ({c_out},)"] if layer.bias else []),
        f"Meaning: {c_out} feature maps; each output value sums K = C_in/groups*kH*kW = {c_group}*{kh}*{kw} = {k} "
        f"products over a {kh}x{kw} window of {c_group} input channel{'s' * (c_group > 1)}.",
    ]
    return lines


def gflop(problem: Conv2dProblem) -> float:
    n, c_out, h_out, w_out = problem.output_shape
    return 2 * n * c_out * h_out * w_out * math.prod(problem.weight.shape[1:]) / 1e9


def ratio(error: np.ndarray, bound: np.ndarray) -> float:
    """max(error / bound), where 0/0 counts as 0 and anything else over a zero bound as infinity."""
    scaled = np.divide(error, bound, out=np.where(error > 0, np.inf, 0.0), where=bound > 0)
    return float(np.max(scaled))


def timed(entry, arrays, geometry) -> tuple[np.ndarray, float]:
    """The result and the best time of up to ten calls, as many as fit in about a quarter of a second."""
    best, spent, calls, result = math.inf, 0.0, 0, None
    while calls == 0 or (calls < 10 and spent + best < 0.25):
        start = time.perf_counter()
        result = entry(*arrays, **geometry)
        elapsed = time.perf_counter() - start
        best, spent, calls = min(best, elapsed), spent + elapsed, calls + 1
    return result, best


def run_all(layer: Layer, problem: Conv2dProblem) -> tuple[list[str], bool]:
    """Every implementation on random data: (table lines, whether all that ran agree)."""
    present = [s for s in shapes(layer) if s is not None]
    if max(math.prod(s) for s in [*present, problem.output_shape]) > MAX_ELEMENTS:
        return [f"Implementations not run: an array would exceed {MAX_ELEMENTS} elements."], True
    rng = np.random.default_rng(layer.seed)
    arrays = [rng.standard_normal(s).astype(layer.dtype) for s in present] + [None] * (3 - len(present))
    geometry = layer.geometry()
    problem = normalize(*arrays, **geometry)
    expected = reference_conv2d(*arrays, **geometry)
    bound = {model: error_bound(model, *arrays, **geometry) for model in ERROR_MODELS}
    work = gflop(problem)
    header = f"{'implementation':<16}{'error model':<17}{'err/elementwise':>16}{'err/declared':>14}  agrees"
    header += f"  {'time':>10}"
    lines, all_agree = [f"Implementations ({work:.3g} GFLOP, {layer.dtype}, seed {layer.seed})", header], True
    for name, entry in impls.REGISTRY.items():
        reason = entry.capabilities.why_unsupported(problem)
        if reason is None and entry.max_gflop is not None and work > entry.max_gflop:
            reason = f"{work:.3g} GFLOP is over its cost hint of {entry.max_gflop:g}"
        if reason:
            lines.append(f"{name:<16}skipped: {reason}")
            continue
        try:
            out, seconds = timed(entry, arrays, geometry)
        except Exception as error:  # a crashing implementation is a finding, reported in its row
            lines.append(f"{name:<16}{entry.error_model:<17}failed: {type(error).__name__}: {error}")
            all_agree = False
            continue
        if out.shape != expected.shape:
            lines.append(f"{name:<16}{entry.error_model:<17}wrong shape {out.shape}, expected {expected.shape}")
            all_agree = False
            continue
        error = np.abs(out - expected).astype(np.float64)
        own = ratio(error, bound["exact-summation"])
        declared = ratio(error, bound[entry.error_model])
        agrees = declared <= 1 and out.dtype == layer.dtype
        all_agree &= agrees
        lines.append(
            f"{name:<16}{entry.error_model:<17}{own:>16.3g}{declared:>14.3g}  {'yes' if agrees else 'NO ':<6}"
            f"  {seconds * 1e3:>7.2f} ms"
        )
    lines += [f"{name:<16}unavailable: {why}" for name, why in impls.UNAVAILABLE.items()]
    lines += [
        "",
        f"err/elementwise: max |y - y_ref| / ({C_ELEMENTWISE}*(K+1)*u*(|x| * |w| + |b|)); y_ref: the suite's oracle in",
        "                 extended precision; u: unit roundoff; K: products per output",
        "err/declared:    the same for exact-summation entries; for normwise entries the bound adds, per output",
        f"                 plane, {C_NORMWISE}*u*(log2(P)+1)*sum_c ||x[n,c]||_2*||w[o,c]||_2 (P: padded plane size)",
        "agrees:          err/declared <= 1 and the result has the input dtype",
    ]
    return lines, all_agree


def main(argv=None) -> int:
    try:
        layer = parse(argv)
        problem = check(layer)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return int(done.code or 0)
    print("\n".join(explain(layer, problem)))
    print()
    lines, all_agree = run_all(layer, problem)
    print("\n".join(lines))
    return 0 if all_agree else 1

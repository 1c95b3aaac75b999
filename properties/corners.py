"""The configurations libraries special-case (1x1, 3x3 stride 2, depthwise, the 7x7 stem, ...), as data, and which
of them, and which values of a range, an entry's declared capabilities admit."""

from __future__ import annotations

from dataclasses import dataclass

from convcheck.impls import Capabilities


def allowed_values(values: tuple[int, ...] | None, low: int, high: int) -> list[int]:
    """The values from ``low`` to ``high`` that a capability (None: every value) allows."""
    return [v for v in range(low, high + 1) if values is None or v in values]


def takes_padding_string(mode: str, capabilities: Capabilities, padding_modes) -> bool:
    """Whether a case may spell its padding ``mode`` ('same' or 'valid'): the strategy draws it, the entry declares
    it."""
    return mode in padding_modes and mode in capabilities.padding_strings and not capabilities.int_padding


@dataclass(frozen=True)
class Corner:
    """A configuration that libraries special-case: the kernels, strides and paddings it fixes (square, dilation
    ``dilation``) and its grouping; everything else is drawn as usual. A padding is an int for both axes, ``"half"``
    (``dilation * (k - 1) // 2`` per axis) or ``"same"``."""

    name: str
    kernels: tuple[tuple[int, int], ...]
    strides: tuple[int, ...] = (1,)
    paddings: tuple = (0, "half", "same")
    dilation: int = 1
    groups: str = "any"  # "any" (drawn as usual), "grouped" (at least 2) or "depthwise" (one input channel a group)
    multiplier: int = 1  # depthwise: output channels per input channel
    weight: int = 1  # drawn this many times as often as a corner of weight 1 (how common it is in real networks)


CORNERS = (
    Corner("1x1", ((1, 1),), paddings=(0,), weight=2),
    Corner("1x1 stride 2", ((1, 1),), strides=(2,), paddings=(0,)),
    Corner("1x1 grouped", ((1, 1),), paddings=(0,), groups="grouped", weight=2),
    Corner("3x3 stride 1", ((3, 3),), weight=3),
    Corner("3x3 stride 2", ((3, 3),), strides=(2,), paddings=("half", 0)),
    Corner("3x3 dilation 2", ((3, 3),), dilation=2),
    Corner("depthwise 3x3", ((3, 3),), strides=(1, 2), paddings=("half", 0), groups="depthwise"),
    Corner(
        "depthwise 3x3 x2", ((3, 3),), strides=(1, 2), paddings=("half", 0), groups="depthwise", multiplier=2, weight=2
    ),
    Corner("5x5", ((5, 5),)),
    Corner("1xk", ((1, 3), (1, 5), (1, 7))),
    Corner("kx1", ((3, 1), (5, 1), (7, 1))),
    Corner("7x7 stride 2 stem", ((7, 7),), strides=(2,), paddings=("half",), weight=2),
    Corner("11x11 stride 4", ((11, 11),), strides=(4,), paddings=(2, 0)),
)


def corner_options(corner: Corner, capabilities: Capabilities, padding_modes, min_groups: int):
    """The (kernel, stride, padding) choices of ``corner`` inside the capabilities and the padding modes."""
    if corner.groups != "any" and not capabilities.groups:
        return []
    if capabilities.dilations is not None and corner.dilation not in capabilities.dilations:
        return []
    options = []
    for kernel in corner.kernels:
        if capabilities.kernel_sizes is not None and kernel not in capabilities.kernel_sizes:
            continue
        if capabilities.odd_kernels and not kernel[0] % 2 * kernel[1] % 2:
            continue
        for stride in allowed_values(capabilities.strides, min(corner.strides), max(corner.strides)):
            if stride not in corner.strides:
                continue
            for padding in corner.paddings:
                spelled = _corner_padding(padding, kernel, corner.dilation)
                if spelled == "same" and not (
                    stride == 1 and takes_padding_string("same", capabilities, padding_modes)
                ):
                    continue
                if spelled == (0, 0) and not {"pair", "none"} & set(padding_modes):
                    spelled = "valid" if takes_padding_string("valid", capabilities, padding_modes) else None
                elif isinstance(spelled, tuple) and spelled != (0, 0) and "pair" not in padding_modes:
                    spelled = None
                if isinstance(spelled, tuple) and capabilities.int_padding and spelled[0] != spelled[1]:
                    spelled = None
                if spelled is not None:
                    options.append((kernel, stride, spelled))
    return options


def _corner_padding(padding, kernel, dilation: int):
    if padding == "half":
        return (dilation * (kernel[0] - 1) // 2, dilation * (kernel[1] - 1) // 2)
    return padding if isinstance(padding, str) else (padding, padding)

"""Layers of real networks, as data: each convolution at its network's channel counts and spatial extent.

A :class:`Layer` is one conv2d of a published architecture at its usual input size (224x224 unless the network's
own is named). The family ``real_layers`` (``properties/test_real_layers.py``) checks every registered entry on every
layer its capabilities allow, at batch sizes from 1 to 64, cropped only as far as the entry's cost hint requires
(:mod:`convcheck.properties.layer_cases`). They were chosen for the sizes where blocked and tiled kernels have their
edges and that small drawn cases never reach: 128 to 4096 channels and their tails after blocks of 64 and 128 (255,
144, 232, 1000, ...), 32-group and depthwise layers, 13x13 to 31x31 kernels, atrous rates of 6 to 24, planes of 224x224
to 600x600, and whole-input windows (fully connected layers written as convolutions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from convcheck.properties.oracle import pair


@dataclass(frozen=True)
class Layer:
    """One convolution of a real network: ``c_in`` channels of ``plane`` (H, W) into ``c_out``, square ``kernel``
    unless a pair, one ``stride`` and ``dilation`` for both axes, ``padding`` an int, a pair or 'same'."""

    network: str
    name: str
    c_in: int
    c_out: int
    plane: tuple[int, int]
    kernel: tuple[int, int]
    stride: int = 1
    padding: object = 0
    dilation: int = 1
    groups: int = 1

    def _repr_pretty_(self, printer, cycle) -> None:  # one line in Hypothesis's falsifying examples, not a field a line
        printer.text(f"Layer({self.network} {self.name})")

    @property
    def ident(self) -> str:
        """A test id: ``resnet-50-res4-3x3``."""
        return re.sub(r"[^a-z0-9]+", "-", f"{self.network} {self.name}".lower()).strip("-")

    @property
    def pads(self) -> tuple[int, int]:
        """The total zero padding of each axis (top + bottom, left + right)."""
        if self.padding == "same":
            return tuple(self.dilation * (k - 1) for k in self.kernel)
        ph, pw = pair(self.padding)
        return 2 * ph, 2 * pw

    def __str__(self) -> str:
        groups = "" if self.groups == 1 else " depthwise" if self.groups == self.c_in else f" g{self.groups}"
        return (
            f"{self.network} {self.name} ({self.c_in}x{self.plane[0]}x{self.plane[1]} -> {self.c_out}, "
            f"{self.kernel[0]}x{self.kernel[1]} s{self.stride} p{self.padding} d{self.dilation}{groups})"
        )


def conv(network, name, c_in, c_out, plane, kernel, stride=1, padding=0, dilation=1, groups=1) -> Layer:
    """A layer with a square plane and kernel given as ints (pairs as they are)."""
    return Layer(network, name, c_in, c_out, pair(plane), pair(kernel), stride, padding, dilation, groups)


def depthwise(network, name, channels, plane, kernel, stride=1, padding=None) -> Layer:
    """A depthwise layer (one input channel a group, multiplier 1), padded by half the kernel unless told."""
    padding = kernel // 2 if padding is None else padding
    return conv(network, name, channels, channels, plane, kernel, stride, padding, groups=channels)


# EfficientNet-B3 scales B0's widths by 1.2 (rounded to multiples of 8) on 300x300 inputs; B7 by 2.0 on 600x600.
LAYERS: tuple[Layer, ...] = (
    conv("ResNet-50", "stem 7x7 s2", 3, 64, 224, 7, 2, 3),
    conv("ResNet-50", "res2 3x3", 64, 64, 56, 3, 1, 1),
    conv("ResNet-50", "res4 3x3", 256, 256, 14, 3, 1, 1),
    conv("ResNet-50", "res5 1x1 reduce", 2048, 512, 7, 1),
    conv("ResNet-50", "res5 1x1 expand", 512, 2048, 7, 1),
    conv("ResNeXt-50 32x4d", "res2 3x3 g32", 128, 128, 56, 3, 1, 1, groups=32),
    conv("ResNeXt-50 32x4d", "res5 3x3 s2 g32", 1024, 1024, 14, 3, 2, 1, groups=32),
    depthwise("MobileNetV2", "dw 3x3", 32, 112, 3),
    conv("MobileNetV2", "expand 1x1", 24, 144, 56, 1),
    depthwise("MobileNetV2", "dw 3x3 s2", 144, 56, 3, 2),
    conv("MobileNetV2", "project 1x1", 144, 24, 56, 1),
    depthwise("MobileNetV2", "dw 3x3 960", 960, 7, 3),
    conv("MobileNetV2", "head 1x1", 320, 1280, 7, 1),
    depthwise("EfficientNet-B0", "dw 5x5 s2", 144, 56, 5, 2),
    conv("EfficientNet-B0", "project 1x1", 240, 40, 28, 1),
    conv("EfficientNet-B0", "squeeze-excite 1x1", 672, 28, 1, 1),
    depthwise("EfficientNet-B3", "dw 5x5", 816, 19, 5),
    conv("EfficientNet-B3", "project 1x1", 1392, 232, 10, 1),
    conv("EfficientNet-B7", "stem 3x3 s2", 3, 64, 600, 3, 2, 1),
    conv("ConvNeXt-T", "stem 4x4 s4", 3, 96, 224, 4, 4),
    depthwise("ConvNeXt-T", "dw 7x7", 96, 56, 7),
    depthwise("RepLKNet-31B", "dw 31x31", 128, 56, 31),
    depthwise("RepLKNet-31B", "dw 27x27", 512, 14, 27),
    depthwise("RepLKNet-31B", "dw 13x13", 1024, 7, 13),
    *(conv("DeepLabV2", f"aspp rate {rate}", 2048, 21, 41, 3, 1, rate, rate) for rate in (6, 12, 18, 24)),
    conv("U-Net", "first 3x3", 1, 64, 572, 3),
    conv("U-Net", "head 1x1", 64, 2, 388, 1),
    conv("YOLOv3", "head 1x1 13x13", 1024, 255, 13, 1),
    conv("YOLOv3", "head 1x1 52x52", 256, 255, 52, 1),
    conv("Darknet-53", "3x3 s2", 512, 1024, 26, 3, 2, 1),
    conv("VGG-16", "fc6 as 7x7", 512, 4096, 7, 7),
    conv("VGG-16", "fc8 as 1x1", 4096, 1000, 1, 1),
    conv("SSD512", "conv1_1 3x3", 3, 64, 512, 3, 1, 1),
    conv("Inception-v3", "1x7", 128, 128, 17, (1, 7), 1, (0, 3)),
    conv("Inception-v3", "7x1", 128, 192, 17, (7, 1), 1, (3, 0)),
    conv("Inception-v3", "aux 5x5 whole input", 128, 768, 5, 5),
    depthwise("MobileFaceNet", "global dw 7x7", 512, 7, 7, padding=0),
)

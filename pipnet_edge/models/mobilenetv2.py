"""MobileNetV2 backbone in torchvision's parameter layout (``features.*``).

Written here because torchvision does not import beside the pinned torch; the layout
matches ``torchvision.models.mobilenet_v2`` so its ImageNet weights and official PIPNet
MobileNetV2 checkpoints load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_backbone

__all__ = ["MobileNetV2"]


def _make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNReLU(nn.Sequential):
    def __init__(self, inp: int, oup: int, kernel: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1) -> None:
        super().__init__(
            nn.Conv2d(inp, oup, kernel, stride, dilation * (kernel - 1) // 2, dilation=dilation, groups=groups, bias=False),
            nn.BatchNorm2d(oup),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden, dilation=dilation),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


_SETTINGS = [  # t, c, n, s
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class MobileNetV2(nn.Module):
    """MobileNetV2 feature extractor ending in a 1x1 ConvBNReLU to ``out_channels``.

    ``out_stride`` 32 is the full network (``out_channels`` = 1280 * max(1, width) by
    default). ``out_stride`` 16 stops after the 96-channel stage (the last stride-16 block),
    so ``features.0``-``features.13`` keep torchvision's layout and load its ImageNet
    weights; the closing 1x1 projection is then ``features.14`` with ``last_channel``
    outputs (new weights; its shape never matches torchvision's ``features.14``).

    ``stages`` (1-7, default: as many as ``out_stride`` allows) keeps that many of the seven
    inverted-residual stages (``self.out_stride`` is the stride they reach); stages past
    ``out_stride`` run at that stride with their depthwise convolutions dilated by 2 (as
    DeepLab does), so their ImageNet weights still load (``features.14``-``features.17``)
    and the map keeps its size.
    """

    def __init__(self, width_mult: float = 1.0, last_channel: int | None = None, out_stride: int = 32,
                 stages: int | None = None) -> None:
        super().__init__()
        if out_stride not in (16, 32):
            raise ValueError(f"out_stride must be 16 or 32, got {out_stride}")
        if stages is not None and not 1 <= stages <= len(_SETTINGS):
            raise ValueError(f"stages must be 1-{len(_SETTINGS)}, got {stages}")
        inp = _make_divisible(32 * width_mult)
        self.out_channels = last_channel or _make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [ConvBNReLU(3, inp, stride=2)]
        stride, dilation = 2, 1
        for k, (t, c, n, s) in enumerate(_SETTINGS):
            if stride * s > out_stride:
                if stages is None or k >= stages:
                    break
                s, dilation = 1, 2
            elif stages is not None and k >= stages:
                break
            stride *= s
            oup = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(inp, oup, s if i == 0 else 1, t, dilation))
                inp = oup
        self.out_stride = stride  # fewer stages than out_stride allows end at a smaller stride
        features.append(ConvBNReLU(inp, self.out_channels, kernel=1))
        self.features = nn.Sequential(*features)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@register_backbone("mobilenet_v2")
def mobilenet_v2(**kwargs) -> MobileNetV2:
    """The paper's backbone: full MobileNetV2, stride 32, 1280 channels."""
    return MobileNetV2(**kwargs)


@register_backbone("mobilenet_v2_s16_c128")
def mobilenet_v2_s16_c128(**kwargs) -> MobileNetV2:
    """MobileNetV2 cut at stride 16 (after the 96-channel stage), 128 channels.

    Meant for 128x128 input (an 8x8 map, as the full model at 256): about 82 M MAC with
    PIPNet's heads at ``num_nb`` 10, against 519 M for MobileNetV2 at 256. The first lite
    model; the 128-channel projection in front of the heads turned out to be its bottleneck.
    """
    return MobileNetV2(last_channel=128, out_stride=16, **kwargs)


@register_backbone("mobilenet_v2_s16_c256")
def mobilenet_v2_s16_c256(**kwargs) -> MobileNetV2:
    """MobileNetV2 cut at stride 16 with a 256-channel projection in front of PIPNet's heads.

    At 112x112 input (a 7x7 map) about 73 M MAC with ``num_nb`` 10, below the 128-channel
    model at 128x128 (82 M): the input size costs little accuracy, the heads' width buys some.
    """
    return MobileNetV2(last_channel=256, out_stride=16, **kwargs)


@register_backbone("mobilenet_v2_s16_160d_c256")
def mobilenet_v2_s16_160d_c256(**kwargs) -> MobileNetV2:
    """MobileNetV2 through its 160-channel stage, kept at stride 16 (dilated), 256 channels.

    Loads ImageNet ``features.0``-``features.16``. Meant for 96x96 input (a 6x6 map):
    about 83 M MAC with ``num_nb`` 10.
    """
    return MobileNetV2(last_channel=256, out_stride=16, stages=6, **kwargs)


@register_backbone("mobilenet_v2_s16_160d_c512")
def mobilenet_v2_s16_160d_c512(**kwargs) -> MobileNetV2:
    """The lite backbone with the 160-channel stage kept at stride 16 (dilated) in front of its 512-channel projection.

    Loads ImageNet ``features.0``-``features.16``. At 112x112 input (a 7x7 map) and ``num_nb`` 5 about
    117 M MAC, 1.3x the lite model's INT8 latency; measured as a lite candidate, not shipped (README, "lite").
    """
    return MobileNetV2(last_channel=512, out_stride=16, stages=6, **kwargs)


@register_backbone("mobilenet_v2_s16_c512")
def mobilenet_v2_s16_c512(**kwargs) -> MobileNetV2:
    """The lite model's backbone: MobileNetV2 cut at stride 16 with a 512-channel projection.

    At 112x112 input (a 7x7 map) and ``num_nb`` 5 about 77 M MAC, 0.8-0.9 ms in INT8 TFLite at
    1 thread on the 2-core x86 VM.
    """
    return MobileNetV2(last_channel=512, out_stride=16, **kwargs)


@register_backbone("mobilenet_v2_s16_c768")
def mobilenet_v2_s16_c768(**kwargs) -> MobileNetV2:
    """The lite backbone with a 768-channel projection (at 112x112 and ``num_nb`` 5: about 89 M MAC)."""
    return MobileNetV2(last_channel=768, out_stride=16, **kwargs)

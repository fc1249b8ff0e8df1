"""MobileNetV3 (large / small) backbone in the layout PIPNet's official code uses.

The official PIPNet MobileNetV3 models build on d-li14's ``mobilenetv3.pytorch``: blocks
under ``features.*`` and a final 1x1 conv block ``conv.*`` (960 channels for large, 576
for small). This file reproduces that parameter layout so such checkpoints load.
"""

from __future__ import annotations

import torch
from torch import nn

from .mobilenetv2 import _make_divisible
from .registry import register_backbone

__all__ = ["MobileNetV3"]


class SELayer(nn.Module):
    def __init__(self, channel: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = _make_divisible(channel // reduction, 8)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channel, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channel), nn.Hardsigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        y = self.avg_pool(x).flatten(1)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y


def _act(use_hs: bool) -> nn.Module:
    return nn.Hardswish() if use_hs else nn.ReLU(inplace=True)


def conv_bn(inp: int, oup: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, bias=False), nn.BatchNorm2d(oup), nn.Hardswish())


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, hidden: int, oup: int, kernel: int, stride: int, use_se: bool, use_hs: bool) -> None:
        super().__init__()
        self.identity = stride == 1 and inp == oup
        pad = (kernel - 1) // 2
        if inp == hidden:
            self.conv = nn.Sequential(
                nn.Conv2d(hidden, hidden, kernel, stride, pad, groups=hidden, bias=False),
                nn.BatchNorm2d(hidden),
                _act(use_hs),
                SELayer(hidden) if use_se else nn.Identity(),
                nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
                nn.BatchNorm2d(oup),
            )
        else:
            self.conv = nn.Sequential(
                nn.Conv2d(inp, hidden, 1, 1, 0, bias=False),
                nn.BatchNorm2d(hidden),
                _act(use_hs),
                nn.Conv2d(hidden, hidden, kernel, stride, pad, groups=hidden, bias=False),
                nn.BatchNorm2d(hidden),
                SELayer(hidden) if use_se else nn.Identity(),
                _act(use_hs),
                nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
                nn.BatchNorm2d(oup),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.identity else self.conv(x)


_CFGS = {  # kernel, expansion, out channels, SE, hard-swish, stride
    "large": [
        (3, 1, 16, 0, 0, 1), (3, 4, 24, 0, 0, 2), (3, 3, 24, 0, 0, 1), (5, 3, 40, 1, 0, 2),
        (5, 3, 40, 1, 0, 1), (5, 3, 40, 1, 0, 1), (3, 6, 80, 0, 1, 2), (3, 2.5, 80, 0, 1, 1),
        (3, 2.3, 80, 0, 1, 1), (3, 2.3, 80, 0, 1, 1), (3, 6, 112, 1, 1, 1), (3, 6, 112, 1, 1, 1),
        (5, 6, 160, 1, 1, 2), (5, 6, 160, 1, 1, 1), (5, 6, 160, 1, 1, 1),
    ],
    "small": [
        (3, 1, 16, 1, 0, 2), (3, 4.5, 24, 0, 0, 2), (3, 3.67, 24, 0, 0, 1), (5, 4, 40, 1, 1, 2),
        (5, 6, 40, 1, 1, 1), (5, 6, 40, 1, 1, 1), (5, 3, 48, 1, 1, 1), (5, 3, 48, 1, 1, 1),
        (5, 6, 96, 1, 1, 2), (5, 6, 96, 1, 1, 1), (5, 6, 96, 1, 1, 1),
    ],
}


class MobileNetV3(nn.Module):
    """MobileNetV3 feature extractor (stride 32) ending in the ``conv`` 1x1 block."""

    def __init__(self, mode: str = "large", width_mult: float = 1.0) -> None:
        super().__init__()
        cfgs = _CFGS[mode]
        inp = _make_divisible(16 * width_mult, 8)
        layers: list[nn.Module] = [conv_bn(3, inp, 3, 2)]
        for k, t, c, se, hs, s in cfgs:
            oup = _make_divisible(c * width_mult, 8)
            hidden = _make_divisible(inp * t, 8)
            layers.append(InvertedResidual(inp, hidden, oup, k, s, bool(se), bool(hs)))
            inp = oup
        self.features = nn.Sequential(*layers)
        self.out_channels = hidden
        self.conv = conv_bn(inp, hidden, 1, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.features(x))


@register_backbone("mobilenet_v3_large")
def mobilenet_v3_large(**kwargs) -> MobileNetV3:
    return MobileNetV3("large", **kwargs)


@register_backbone("mobilenet_v3_small")
def mobilenet_v3_small(**kwargs) -> MobileNetV3:
    return MobileNetV3("small", **kwargs)

"""PIPNet: a backbone's stride-32 map followed by five 1x1 conv heads."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SpecError
from ..spec import ModelSpec
from .registry import create_backbone

__all__ = ["PIPNet", "HEAD_NAMES", "create_model"]

from ..runtime.artifact import HEAD_NAMES
_OFFICIAL_HEADS = ("cls_layer", "x_layer", "y_layer", "nb_x_layer", "nb_y_layer")


class PIPNet(nn.Module):
    """Pixel-in-Pixel Net.

    ``forward`` takes a normalised NCHW float batch and returns the five head outputs
    ``(score, offset_x, offset_y, nb_x, nb_y)`` in NCHW, the layout
    :func:`pipnet_edge.runtime.decode.decode` reads. Head names follow the official code
    (``cls_layer``, ``x_layer``, ...) so its checkpoints map one to one.
    """

    def __init__(self, spec: ModelSpec, **backbone_kwargs) -> None:
        super().__init__()
        self.spec = spec
        self.backbone = create_backbone(spec.backbone, **backbone_kwargs)
        stride = getattr(self.backbone, "out_stride", 32)
        if stride != spec.net_stride:
            raise SpecError(
                f"backbone {spec.backbone!r} has stride {stride} but the spec says net_stride {spec.net_stride}; "
                f"pass --net-stride {stride}"
            )
        c, n, nb = self.backbone.out_channels, spec.num_points, spec.num_nb
        self.cls_layer = nn.Conv2d(c, n, 1)
        self.x_layer = nn.Conv2d(c, n, 1)
        self.y_layer = nn.Conv2d(c, n, 1)
        self.nb_x_layer = nn.Conv2d(c, n * nb, 1)
        self.nb_y_layer = nn.Conv2d(c, n * nb, 1)
        for name in _OFFICIAL_HEADS:
            layer = getattr(self, name)
            nn.init.normal_(layer.weight, std=0.001)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        f = self.backbone(x)
        return (self.cls_layer(f), self.x_layer(f), self.y_layer(f), self.nb_x_layer(f), self.nb_y_layer(f))


def create_model(spec: ModelSpec, **backbone_kwargs) -> PIPNet:
    """Build the network a spec describes (random init)."""
    from . import mobilenetv2, mobilenetv3, resnet  # noqa: F401  (registers backbones)

    return PIPNet(spec, **backbone_kwargs)

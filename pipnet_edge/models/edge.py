"""EdgePIPNet: the network as every exported artifact sees it.

Artifacts share one I/O contract so the runtime treats them alike:

* input ``image``: ``(B, S, S, 3)`` RGB pixels in ``[0, 255]`` (float32, or int8/uint8 in
  full-INT8 models), channels last;
* outputs ``score``, ``offset_x``, ``offset_y``, ``nb_x``, ``nb_y``: channels last
  ``(B, H, W, C)``.

With ``fold_normalization`` the pixel normalisation is folded into the first convolution
(weights scaled by ``1/std``, a bias of ``-sum(w * mean / std)``), so a quantized model can
take raw ``uint8`` pixels. The fold is exact except on the first layer's zero-padded
border, where padding now stands for black instead of the mean pixel; QAT trains the
folded form, so INT8 models learn it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..spec import ModelSpec
from .normalization import PixelNormalization, mean_std
from .pipnet import HEAD_NAMES, PIPNet

__all__ = ["EdgePIPNet", "first_conv", "nhwc_to_nchw"]


def first_conv(model: PIPNet) -> nn.Conv2d:
    for m in model.backbone.modules():
        if isinstance(m, nn.Conv2d):
            return m
    raise ValueError("backbone has no convolution")


class EdgePIPNet(nn.Module):
    """Channels-last, raw-pixel wrapper around a :class:`PIPNet` with named outputs."""

    def __init__(self, model: PIPNet, fold_normalization: bool = False) -> None:
        super().__init__()
        self.spec: ModelSpec = model.spec
        self.folded = fold_normalization
        if fold_normalization:
            mean, std = mean_std(self.spec)  # network channel order; the artifact always takes RGB
            model = copy.deepcopy(model)
            conv = first_conv(model)
            with torch.no_grad():
                w = conv.weight.clone()
                bias = -(w * mean / std).sum(dim=(1, 2, 3))
                if conv.bias is not None:
                    bias = bias + conv.bias
                w = w / std
                conv.weight.copy_(w.flip(1) if self.spec.normalization.channel_order == "BGR" else w)
                conv.bias = nn.Parameter(bias)
            self.normalize = None
        else:
            self.normalize = PixelNormalization(self.spec)
        self.model = model

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = image.permute(0, 3, 1, 2)
        if self.normalize is not None:
            x = self.normalize(x)
        outs = self.model(x)
        return {name: o.permute(0, 2, 3, 1) for name, o in zip(HEAD_NAMES, outs)}


def nhwc_to_nchw(outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return tuple(outputs[name].permute(0, 3, 1, 2) for name in HEAD_NAMES)

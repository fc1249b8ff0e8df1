"""A tiny, well-conditioned PIPNet for fast converter and runtime tests."""

from __future__ import annotations

import numpy as np
import torch

from pipnet_edge import ModelSpec
from pipnet_edge.models import create_model
from pipnet_edge.models.registry import register_backbone
from pipnet_edge.models.normalization import normalize_batch


class TinyBackbone(torch.nn.Module):
    """Five stride-2 conv/BN/ReLU6 blocks: stride 32 like the real backbones, a few k parameters."""

    out_channels = 32

    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for out in (8, 16, 16, 32, 32):
            layers += [torch.nn.Conv2d(c, out, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(out), torch.nn.ReLU6()]
            c = out
        self.features = torch.nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x)


class TinyResidualBackbone(torch.nn.Module):
    """MobileNetV2's inverted residuals in miniature, stride 32, with residual Adds that feed the next Add
    (the chains that stayed float before every Add was quantized: see ``quantization.quantizer.annotate_adds``)."""

    out_channels = 32
    residual_adds = 5

    def __init__(self):
        super().__init__()
        from pipnet_edge.models.mobilenetv2 import ConvBNReLU, InvertedResidual

        self.features = torch.nn.Sequential(
            ConvBNReLU(3, 16, stride=2),
            InvertedResidual(16, 16, 2, 2),
            InvertedResidual(16, 16, 1, 2), InvertedResidual(16, 16, 1, 2), InvertedResidual(16, 16, 1, 2),  # 3 chained Adds
            InvertedResidual(16, 32, 2, 2),
            InvertedResidual(32, 32, 2, 2),
            InvertedResidual(32, 32, 2, 2), InvertedResidual(32, 32, 1, 2), InvertedResidual(32, 32, 1, 2),  # 2 chained Adds
        )

    def forward(self, x):
        return self.features(x)


register_backbone("tiny_test")(lambda **kw: TinyBackbone())
register_backbone("tiny_residual_test")(lambda **kw: TinyResidualBackbone())


def tiny_residual_model(seed: int = 0, input_size: int = 64, num_nb: int = 4) -> torch.nn.Module:
    """:func:`tiny_model` on :class:`TinyResidualBackbone` (residual Adds, chained)."""
    return tiny_model(seed, input_size, num_nb, backbone="tiny_residual_test")


def tiny_model(seed: int = 0, input_size: int = 64, num_nb: int = 4, backbone: str = "tiny_test",
               net_stride: int = 32) -> torch.nn.Module:
    """Random tiny PIPNet with data-like BatchNorm statistics and head outputs of realistic size."""
    torch.manual_seed(seed)
    mf = np.random.default_rng(0).uniform(0.1, 0.9, size=(68, 2))
    spec = ModelSpec.create("300w-68", mf, backbone=backbone, input_size=input_size, num_nb=num_nb, net_stride=net_stride)
    model = create_model(spec)
    with torch.no_grad():
        for layer in (model.cls_layer, model.x_layer, model.y_layer, model.nb_x_layer, model.nb_y_layer):
            layer.weight.normal_(0, 0.05)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        model.train()
        for _ in range(4):
            model(normalize_batch((torch.rand(8, input_size, input_size, 3) * 255).to(torch.uint8), spec, channels_last=False))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = 0.1
    return model.eval()

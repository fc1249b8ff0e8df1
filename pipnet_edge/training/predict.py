"""Torch inference of PIPNet heads on uint8 crops (used by the torch predictors)."""

from __future__ import annotations

import torch

from ..runtime.decode import HeadOutputs
from .normalize import normalize_batch

__all__ = ["run_heads"]


@torch.no_grad()
def run_heads(model: torch.nn.Module, images_u8: torch.Tensor, spec) -> HeadOutputs:
    device = next(iter(model.parameters())).device  # validation during GPU training
    if getattr(model, "takes_raw_pixels", False):  # QAT graphs: raw NHWC pixels
        outs = model(images_u8.float().to(device))
    else:
        outs = model(normalize_batch(images_u8, spec).to(device))
    return HeadOutputs.from_sequence(o.float().cpu().numpy() for o in outs)

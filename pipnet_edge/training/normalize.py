"""Pixel normalisation on torch batches (uint8 NHWC RGB -> normalised NCHW float)."""

from __future__ import annotations

import torch

__all__ = ["normalize_batch"]


def normalize_batch(images_u8: torch.Tensor, spec, channels_last: bool = True) -> torch.Tensor:
    x = images_u8.permute(0, 3, 1, 2).float()
    if spec.normalization.channel_order == "BGR":
        x = x.flip(1)
    mean = torch.tensor(spec.normalization.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec.normalization.std, dtype=torch.float32).view(1, 3, 1, 1)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()

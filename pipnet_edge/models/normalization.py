"""Pixel normalisation, written once: RGB pixels in [0, 255] -> the network's normalised input.

The spec's :class:`~pipnet_edge.spec.Normalization` (mean, std, channel order) says what the
backbone was trained on. :class:`PixelNormalization` applies it inside the float artifacts
(:class:`~pipnet_edge.models.edge.EdgePIPNet`); :func:`normalize_batch` applies the same module to
training and evaluation batches.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PixelNormalization", "normalize_batch", "mean_std"]


def mean_std(spec) -> tuple[torch.Tensor, torch.Tensor]:
    """The spec's mean and std as ``(1, 3, 1, 1)`` float32 tensors (network channel order)."""
    norm = spec.normalization
    return (torch.tensor(norm.mean, dtype=torch.float32).view(1, 3, 1, 1),
            torch.tensor(norm.std, dtype=torch.float32).view(1, 3, 1, 1))


class PixelNormalization(nn.Module):
    """NCHW RGB pixels in [0, 255] -> ``(x - mean) / std`` in the network's channel order."""

    def __init__(self, spec) -> None:
        super().__init__()
        mean, std = mean_std(spec)
        self.bgr = spec.normalization.channel_order == "BGR"  # inputs are always RGB
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x - self.mean) / self.std


def normalize_batch(images_u8: torch.Tensor, spec, channels_last: bool = True) -> torch.Tensor:
    """``(B, S, S, 3)`` uint8 RGB -> normalised ``(B, 3, S, S)`` float32 (channels-last memory by default)."""
    x = PixelNormalization(spec)(images_u8.permute(0, 3, 1, 2).float())
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x.contiguous()

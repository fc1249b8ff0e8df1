"""PIPNet loss: 10 * MSE(score map) + L1 on offsets and neighbour offsets at the true cell."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pipnet_loss"]


def pipnet_loss(
    outputs: tuple[torch.Tensor, ...],
    cell: torch.Tensor,
    offset: torch.Tensor,
    nb_offset: torch.Tensor,
    score_weight: float = 10.0,
    reg_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of a batch.

    Args:
        outputs: ``(score, off_x, off_y, nb_x, nb_y)`` NCHW network outputs.
        cell: ``(B, N)`` flat index of each point's cell.
        offset: ``(B, N, 2)`` target offsets in cell units.
        nb_offset: ``(B, N, nb, 2)`` neighbour offsets in cell units.
    """
    score, ox, oy, nbx, nby = outputs
    b, n, h, w = score.shape
    nb = nb_offset.shape[2]
    target = torch.zeros(b, n, h * w, dtype=score.dtype, device=score.device)
    target.scatter_(2, cell.unsqueeze(-1), 1.0)
    loss_score = F.mse_loss(score.reshape(b, n, h * w).float(), target.float())

    idx = cell.unsqueeze(-1)
    sx = ox.reshape(b, n, h * w).gather(2, idx).squeeze(-1).float()
    sy = oy.reshape(b, n, h * w).gather(2, idx).squeeze(-1).float()
    nidx = cell[:, :, None, None].expand(b, n, nb, 1)
    snx = nbx.reshape(b, n, nb, h * w).gather(3, nidx).squeeze(-1).float()
    sny = nby.reshape(b, n, nb, h * w).gather(3, nidx).squeeze(-1).float()
    lx = F.l1_loss(sx, offset[..., 0])
    ly = F.l1_loss(sy, offset[..., 1])
    lnx = F.l1_loss(snx, nb_offset[..., 0])
    lny = F.l1_loss(sny, nb_offset[..., 1])
    total = score_weight * loss_score + reg_weight * (lx + ly + lnx + lny)
    parts = {"score": float(loss_score.detach()), "offset": float((lx + ly).detach()), "nb": float((lnx + lny).detach())}
    return total, parts

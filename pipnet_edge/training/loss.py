"""PIPNet loss: 10 * MSE(score map) + L1 on offsets and neighbour offsets at the true cell."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["distill_loss", "neighbor_slot_map", "pipnet_loss"]


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
    score = outputs[0]
    b, n, h, w = score.shape
    target = torch.zeros(b, n, h * w, dtype=score.dtype, device=score.device)
    target.scatter_(2, cell.unsqueeze(-1), 1.0)
    loss_score = F.mse_loss(score.reshape(b, n, h * w).float(), target.float())
    sx, sy, snx, sny = _at_cell(outputs, cell)
    lx = F.l1_loss(sx, offset[..., 0])
    ly = F.l1_loss(sy, offset[..., 1])
    lnx = F.l1_loss(snx, nb_offset[..., 0])
    lny = F.l1_loss(sny, nb_offset[..., 1])
    total = score_weight * loss_score + reg_weight * (lx + ly + lnx + lny)
    parts = {"score": float(loss_score.detach()), "offset": float((lx + ly).detach()), "nb": float((lnx + lny).detach())}
    return total, parts


def _at_cell(outputs: tuple[torch.Tensor, ...], cell: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Offsets ``(B, N)`` x2 and neighbour offsets ``(B, N, nb)`` x2 read at each point's cell."""
    score, ox, oy, nbx, nby = outputs
    b, n, h, w = score.shape
    nb = nbx.shape[1] // n
    idx = cell.unsqueeze(-1)
    sx = ox.reshape(b, n, h * w).gather(2, idx).squeeze(-1).float()
    sy = oy.reshape(b, n, h * w).gather(2, idx).squeeze(-1).float()
    nidx = cell[:, :, None, None].expand(b, n, nb, 1)
    snx = nbx.reshape(b, n, nb, h * w).gather(3, nidx).squeeze(-1).float()
    sny = nby.reshape(b, n, nb, h * w).gather(3, nidx).squeeze(-1).float()
    return sx, sy, snx, sny


def neighbor_slot_map(student: np.ndarray, teacher: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each student neighbour slot ``(i, j)``, the teacher's slot holding the same neighbour.

    Returns ``(slots, mask)``, both ``(N, nb)``: ``slots[i, j]`` indexes the teacher's slot
    for landmark ``student[i, j]`` (0 where the teacher does not list it, ``mask`` False).
    Mean faces from slightly different data give nearly, not exactly, the same tables.
    """
    student, teacher = np.asarray(student), np.asarray(teacher)
    match = student[:, :, None] == teacher[:, None, :]  # (N, nb_s, nb_t)
    return match.argmax(axis=2).astype(np.int64), match.any(axis=2)


def distill_loss(
    student: tuple[torch.Tensor, ...],
    teacher: tuple[torch.Tensor, ...],
    cell: torch.Tensor,
    nb_map: tuple[torch.Tensor, torch.Tensor] | None = None,
    score_weight: float = 10.0,
    reg_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Knowledge distillation from a teacher predicting on the same grid.

    The student's whole score map regresses the teacher's (its soft second choices are the
    knowledge a one-hot target lacks); offsets and neighbour offsets regress the teacher's
    at the ground-truth cell, where the teacher was trained. ``nb_map`` (from
    :func:`neighbor_slot_map`) re-indexes the teacher's neighbour outputs to the student's
    table and masks the neighbours it lacks; ``None`` means the tables are equal.
    Weights as in :func:`pipnet_loss`.
    """
    if student[0].shape != teacher[0].shape:
        raise ValueError(f"teacher outputs {tuple(teacher[0].shape)} do not match the student's {tuple(student[0].shape)}")
    loss_score = F.mse_loss(student[0].float(), teacher[0].float())
    sx, sy, snx, sny = _at_cell(student, cell)
    tx, ty, tnx, tny = _at_cell(teacher, cell)
    mask = torch.ones_like(snx)
    if nb_map is not None:
        slots, valid = nb_map
        index = slots.unsqueeze(0).expand(tnx.shape[0], -1, -1)
        tnx, tny = tnx.gather(2, index), tny.gather(2, index)
        mask = valid.unsqueeze(0).expand_as(snx).to(snx.dtype)
    denom = mask.sum().clamp(min=1.0)
    reg = [F.l1_loss(sx, tx), F.l1_loss(sy, ty), ((snx - tnx).abs() * mask).sum() / denom, ((sny - tny).abs() * mask).sum() / denom]
    total = score_weight * loss_score + reg_weight * sum(reg)
    parts = {"kd_score": float(loss_score.detach()), "kd_offset": float((reg[0] + reg[1]).detach()),
             "kd_nb": float((reg[2] + reg[3]).detach())}
    return total, parts

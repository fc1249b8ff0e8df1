"""PIPNet decode in numpy: heatmap argmax + offsets, merged with neighbour predictions.

This is the one decode of the project: the runtime, evaluation, parity checks and pseudo-labels
all go through :func:`decode_heads`. It reads the channels-last head outputs every artifact
returns (``(B, H, W, C)``, named as in :data:`~pipnet_edge.runtime.artifact.HEAD_NAMES`) at the
argmax cells in place, without transposing or copying the maps, vectorised over batch and
landmarks (no Python loop over points).

Coordinates are *normalised crop coordinates*: ``u = (x + 0.5) / input_size`` where ``x``
is a 0-based pixel coordinate in the network input (pixel centres at integers), so the
input square spans ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import InputError

__all__ = ["DecodeTables", "Decoded", "decode", "decode_heads"]


@dataclass(frozen=True)
class DecodeTables:
    """Neighbour tables the decode needs (derived from a ModelSpec)."""

    num_nb: int
    src_point: np.ndarray  # (N, R) landmark whose neighbour slot predicts point i
    src_slot: np.ndarray  # (N, R)
    valid: np.ndarray  # (N, R) float32 mask (1 = a real reverse neighbour, 0 = padding)
    count: np.ndarray  # (N,) predictions averaged per point: valid reverse neighbours + its own
    bias: np.ndarray | None = None  # (N, 2) the spec's point_bias, subtracted from NRM-merged points

    @classmethod
    def from_spec(cls, spec) -> "DecodeTables":
        src_point, src_slot, valid = spec.reverse_index
        mask = valid.astype(np.float32)
        return cls(spec.num_nb, src_point, src_slot, mask, mask.sum(-1) + 1.0, spec.point_bias_array)


@dataclass(frozen=True)
class Decoded:
    """What the decode reads off the heads of a batch of crops.

    Attributes:
        points: ``(B, N, 2)`` normalised crop coordinates (float32), NRM-merged unless ``use_nrm=False``.
        scores: ``(B, N)`` heatmap peak of each point.
        cells: ``(B, N)`` the peak's cell (flat index ``row * W + col`` into the score map).
        spread: ``(B, N)`` mean distance between each point's own estimate and its reverse neighbours'
            votes for it, as a fraction of the crop side (how much the NRM predictions agree; 0 for a
            point no neighbour votes for); ``None`` unless asked for (``with_spread=True``).
    """

    points: np.ndarray
    scores: np.ndarray
    cells: np.ndarray
    spread: np.ndarray | None = None


def decode_heads(outputs: Mapping[str, np.ndarray], tables: DecodeTables, use_nrm: bool = True, *,
                 with_spread: bool = False) -> Decoded:
    """Decode channels-last head outputs to landmarks.

    Args:
        outputs: ``score``, ``offset_x``, ``offset_y``: ``(B, H, W, N)``; ``nb_x``, ``nb_y``:
            ``(B, H, W, N * num_nb)`` with channel ``i * num_nb + j`` = neighbour ``j`` of point ``i``.
        tables: neighbour tables of the model.
        use_nrm: average each point with its reverse neighbours' predictions (the paper's
            NRM merge) and subtract the model's measured bias (``tables.bias``, the spec's
            ``point_bias``, measured on merged points); ``False`` gives the plain argmax + offset result.
        with_spread: also measure how far the neighbours' votes lie from each point's own estimate
            (:attr:`Decoded.spread`, the confidence self-training ranks faces by; off on the runtime's path).

    Raises:
        InputError: missing heads or shapes that do not fit together.
    """
    missing = [k for k in ("score", "offset_x", "offset_y", "nb_x", "nb_y") if k not in outputs]
    if missing:
        raise InputError(f"head outputs lack {missing}")
    score = np.asarray(outputs["score"], dtype=np.float32)
    if score.ndim != 4:
        raise InputError(f"score map must be (B, H, W, N), got shape {score.shape}")
    b, h, w, n = score.shape
    nb = tables.num_nb
    for name, ch in (("offset_x", n), ("offset_y", n), ("nb_x", n * nb), ("nb_y", n * nb)):
        if np.shape(outputs[name]) != (b, h, w, ch):
            raise InputError(f"{name} must have shape {(b, h, w, ch)}, got {np.shape(outputs[name])}")
    hw = h * w
    flat = score.reshape(b, hw, n)
    idx = flat.argmax(axis=1)  # (B, N)
    peak = np.take_along_axis(flat, idx[:, None, :], axis=1)[:, 0]
    cx = (idx % w).astype(np.float32)
    cy = (idx // w).astype(np.float32)
    ox = np.take_along_axis(np.asarray(outputs["offset_x"], np.float32).reshape(b, hw, n), idx[:, None, :], 1)[:, 0]
    oy = np.take_along_axis(np.asarray(outputs["offset_y"], np.float32).reshape(b, hw, n), idx[:, None, :], 1)[:, 0]
    px = (cx + ox) / w
    py = (cy + oy) / h
    nidx = np.repeat(idx, nb, axis=1)[:, None, :]  # channel i * nb + j sits at point i's cell
    nbx = np.take_along_axis(np.asarray(outputs["nb_x"], np.float32).reshape(b, hw, n * nb), nidx, 1)[:, 0].reshape(b, n, nb)
    nby = np.take_along_axis(np.asarray(outputs["nb_y"], np.float32).reshape(b, hw, n * nb), nidx, 1)[:, 0].reshape(b, n, nb)
    # NRM votes: where point i's cell says its neighbour j is, gathered per target point (B, N, R)
    gx = ((cx[..., None] + nbx) / w)[:, tables.src_point, tables.src_slot]
    gy = ((cy[..., None] + nby) / h)[:, tables.src_point, tables.src_slot]
    spread = None
    if with_spread:
        dist = np.hypot(gx - px[..., None], gy - py[..., None]) * tables.valid
        votes = tables.valid.sum(-1)
        spread = np.where(votes > 0, dist.sum(-1) / np.maximum(votes, 1.0), 0.0).astype(np.float32)
    if use_nrm:
        points = np.stack([((gx * tables.valid).sum(-1) + px) / tables.count,
                           ((gy * tables.valid).sum(-1) + py) / tables.count], axis=-1)
        if tables.bias is not None:
            points = points - tables.bias
    else:
        points = np.stack([px, py], axis=-1)
    return Decoded(points.astype(np.float32), peak, idx, spread)


def decode(outputs: Mapping[str, np.ndarray], tables: DecodeTables, use_nrm: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(points, scores)`` of :func:`decode_heads`: ``(B, N, 2)`` normalised crop coordinates and ``(B, N)`` peaks."""
    d = decode_heads(outputs, tables, use_nrm)
    return d.points, d.scores

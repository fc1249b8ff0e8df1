"""PIPNet decode in numpy: heatmap argmax + offsets, merged with neighbour predictions.

This is the one decode of the project: evaluation, parity checks and the runtime all call
:func:`decode`. It is vectorised over batch and landmarks (no Python loop over points).

Coordinates are *normalised crop coordinates*: ``u = (x + 0.5) / input_size`` where ``x``
is a 0-based pixel coordinate in the network input (pixel centres at integers), so the
input square spans ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["HeadOutputs", "DecodeTables", "decode", "decode_nhwc"]


@dataclass(frozen=True)
class HeadOutputs:
    """The five PIPNet head outputs, NCHW float arrays.

    ``score``, ``offset_x``, ``offset_y``: ``(B, N, H, W)``; ``nb_x``, ``nb_y``:
    ``(B, N * num_nb, H, W)`` with channel ``i * num_nb + j`` = neighbour ``j`` of point ``i``.
    """

    score: np.ndarray
    offset_x: np.ndarray
    offset_y: np.ndarray
    nb_x: np.ndarray
    nb_y: np.ndarray

    @classmethod
    def from_sequence(cls, outputs) -> "HeadOutputs":
        outs = list(outputs)
        if len(outs) != 5:
            raise InputError(f"PIPNet has 5 head outputs, got {len(outs)}")
        return cls(*(np.asarray(o, dtype=np.float32) for o in outs))


@dataclass(frozen=True)
class DecodeTables:
    """Neighbour tables the decode needs (derived from a ModelSpec)."""

    num_nb: int
    src_point: np.ndarray  # (N, R) landmark whose neighbour slot predicts point i
    src_slot: np.ndarray  # (N, R)
    valid: np.ndarray  # (N, R) float32 mask (1 = a real reverse neighbour, 0 = padding)
    count: np.ndarray  # (N,) predictions averaged per point: valid reverse neighbours + its own

    @classmethod
    def from_spec(cls, spec) -> "DecodeTables":
        src_point, src_slot, valid = spec.reverse_index
        mask = valid.astype(np.float32)
        return cls(spec.num_nb, src_point, src_slot, mask, mask.sum(-1) + 1.0)


def decode(outputs: HeadOutputs, tables: DecodeTables, use_nrm: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Decode head outputs to landmarks.

    Args:
        outputs: the five head outputs (NCHW).
        tables: neighbour tables of the model.
        use_nrm: average each point with its reverse neighbours' predictions (the paper's
            NRM merge); ``False`` gives the plain argmax + offset result.

    Returns:
        ``(points, scores)``: ``(B, N, 2)`` normalised crop coordinates (float32) and the
        ``(B, N)`` peak heatmap value of each point.
    """
    score = np.asarray(outputs.score, dtype=np.float32)
    if score.ndim != 4:
        raise InputError(f"score map must be (B, N, H, W), got shape {score.shape}")
    b, n, h, w = score.shape
    nb = tables.num_nb
    for name, arr, ch in (
        ("offset_x", outputs.offset_x, n),
        ("offset_y", outputs.offset_y, n),
        ("nb_x", outputs.nb_x, n * nb),
        ("nb_y", outputs.nb_y, n * nb),
    ):
        if np.shape(arr) != (b, ch, h, w):
            raise InputError(f"{name} must have shape {(b, ch, h, w)}, got {np.shape(arr)}")
    hw = h * w
    flat = score.reshape(b, n, hw)
    idx = flat.argmax(axis=-1)  # (B, N)
    peak = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    cx = (idx % w).astype(np.float32)
    cy = (idx // w).astype(np.float32)

    ox = np.take_along_axis(np.asarray(outputs.offset_x, np.float32).reshape(b, n, hw), idx[..., None], -1)[..., 0]
    oy = np.take_along_axis(np.asarray(outputs.offset_y, np.float32).reshape(b, n, hw), idx[..., None], -1)[..., 0]
    px = (cx + ox) / w
    py = (cy + oy) / h
    if not use_nrm:
        return np.stack([px, py], axis=-1), peak

    nidx = idx[:, :, None, None]
    nbx = np.take_along_axis(np.asarray(outputs.nb_x, np.float32).reshape(b, n, nb, hw), nidx, -1)[..., 0]
    nby = np.take_along_axis(np.asarray(outputs.nb_y, np.float32).reshape(b, n, nb, hw), nidx, -1)[..., 0]
    return _merge(px, py, cx, cy, nbx, nby, w, h, tables), peak


def decode_nhwc(outputs: dict[str, np.ndarray], tables: DecodeTables, use_nrm: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decode` for channels-last head outputs ``(B, H, W, C)`` (what the artifacts return).

    Reads the values at the argmax cells in place, without transposing or copying the maps;
    the result equals ``decode`` on the NCHW transposes (tested).
    """
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
    if not use_nrm:
        return np.stack([px, py], axis=-1), peak
    nidx = np.repeat(idx, nb, axis=1)[:, None, :]  # channel i * nb + j sits at point i's cell
    nbx = np.take_along_axis(np.asarray(outputs["nb_x"], np.float32).reshape(b, hw, n * nb), nidx, 1)[:, 0].reshape(b, n, nb)
    nby = np.take_along_axis(np.asarray(outputs["nb_y"], np.float32).reshape(b, hw, n * nb), nidx, 1)[:, 0].reshape(b, n, nb)
    return _merge(px, py, cx, cy, nbx, nby, w, h, tables), peak


def _merge(px, py, cx, cy, nbx, nby, w: int, h: int, tables: DecodeTables) -> np.ndarray:
    """NRM: average each point's own prediction with its reverse neighbours' predictions of it."""
    nbx = (cx[..., None] + nbx) / w  # (B, N, nb): where point i thinks its neighbour j is
    nby = (cy[..., None] + nby) / h

    gx = nbx[:, tables.src_point, tables.src_slot]  # (B, N, R)
    gy = nby[:, tables.src_point, tables.src_slot]
    mx = ((gx * tables.valid).sum(-1) + px) / tables.count
    my = ((gy * tables.valid).sum(-1) + py) / tables.count
    return np.stack([mx, my], axis=-1).astype(np.float32)

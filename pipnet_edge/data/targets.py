"""PIPNet training targets: landmarks -> (score map, offsets, neighbour offsets).

The inverse of :func:`pipnet_edge.runtime.decode.decode`: decoding the dense targets of a
landmark set gives the landmarks back (a property test pins this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CompactTargets", "encode", "to_dense"]


@dataclass(frozen=True)
class CompactTargets:
    """Targets at the ground-truth cell only (what the loss needs).

    ``cell``: ``(N,)`` flat index ``y * W + x`` of each point's cell; ``offset``: ``(N, 2)``;
    ``nb_offset``: ``(N, num_nb, 2)`` neighbour positions relative to the point's cell.
    """

    cell: np.ndarray
    offset: np.ndarray
    nb_offset: np.ndarray


def encode(points: np.ndarray, neighbors: np.ndarray, map_size: int) -> CompactTargets:
    """Encode normalised landmarks ``(N, 2)`` (input square = [0, 1]) for a ``map_size`` grid.

    Points outside the square are assigned to the nearest border cell with an offset
    outside [0, 1], exactly as the official implementation does.
    """
    pts = np.asarray(points, dtype=np.float64)
    g = pts * map_size
    cell_xy = np.clip(np.floor(g), 0, map_size - 1)
    offset = g - cell_xy
    nb = np.asarray(neighbors, dtype=np.int64)
    nb_offset = g[nb] - cell_xy[:, None, :]
    cell = (cell_xy[:, 1] * map_size + cell_xy[:, 0]).astype(np.int64)
    return CompactTargets(cell, offset.astype(np.float32), nb_offset.astype(np.float32))


def to_dense(t: CompactTargets, map_size: int) -> tuple[np.ndarray, ...]:
    """Dense maps in the network's layout: score, off_x, off_y ``(N, H, W)``, nb_x, nb_y ``(N*nb, H, W)``."""
    n = t.cell.shape[0]
    num_nb = t.nb_offset.shape[1]
    hw = map_size * map_size
    score = np.zeros((n, hw), np.float32)
    off_x = np.zeros((n, hw), np.float32)
    off_y = np.zeros((n, hw), np.float32)
    nb_x = np.zeros((n, num_nb, hw), np.float32)
    nb_y = np.zeros((n, num_nb, hw), np.float32)
    rows = np.arange(n)
    score[rows, t.cell] = 1.0
    off_x[rows, t.cell] = t.offset[:, 0]
    off_y[rows, t.cell] = t.offset[:, 1]
    nb_x[rows, :, t.cell] = t.nb_offset[:, :, 0]
    nb_y[rows, :, t.cell] = t.nb_offset[:, :, 1]
    shape = (map_size, map_size)
    return (
        score.reshape(n, *shape),
        off_x.reshape(n, *shape),
        off_y.reshape(n, *shape),
        nb_x.reshape(n * num_nb, *shape),
        nb_y.reshape(n * num_nb, *shape),
    )

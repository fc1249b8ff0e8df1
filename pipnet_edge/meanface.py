"""Mean face and neighbour tables (PIPNet's neighbour regression module, NRM).

Every landmark predicts, besides its own offset, the positions of its ``num_nb`` nearest
landmarks on the mean face. At decode time the prediction of landmark ``i`` is averaged
with what its "reverse neighbours" (the landmarks that list ``i`` among their neighbours)
predicted for it. These helpers build those tables; they are numpy only.
"""

from __future__ import annotations

import numpy as np

from .errors import SpecError

__all__ = ["compute_mean_face", "nearest_neighbors", "reverse_index"]


def compute_mean_face(landmarks: np.ndarray) -> np.ndarray:
    """Mean shape of a set of faces, each normalised to its own landmark box.

    Args:
        landmarks: ``(num_faces, num_points, 2)`` landmark coordinates, any units.

    Returns:
        ``(num_points, 2)`` float64 mean face in the unit square (box-normalised), as PIPNet
        computes it from its training crops.
    """
    lms = np.asarray(landmarks, dtype=np.float64)
    if lms.ndim != 3 or lms.shape[-1] != 2 or lms.shape[0] == 0:
        raise SpecError(f"landmarks must have shape (num_faces, num_points, 2), got {lms.shape}")
    lo = lms.min(axis=1, keepdims=True)
    hi = lms.max(axis=1, keepdims=True)
    side = np.maximum((hi - lo).max(axis=2, keepdims=True), 1e-9)
    center = (lo + hi) / 2.0
    normed = (lms - center) / side + 0.5
    return normed.mean(axis=0)


def nearest_neighbors(mean_face: np.ndarray, num_nb: int) -> np.ndarray:
    """Indices of the ``num_nb`` nearest other landmarks on the mean face, ``(N, num_nb)``.

    Ties are broken by index (stable sort), so the table is deterministic.
    """
    mf = np.asarray(mean_face, dtype=np.float64)
    n = mf.shape[0]
    if not 1 <= num_nb < n:
        raise SpecError(f"num_nb must be between 1 and num_points-1 ({n - 1}), got {num_nb}")
    d2 = ((mf[:, None, :] - mf[None, :, :]) ** 2).sum(-1)
    d2[np.arange(n), np.arange(n)] = np.inf  # a point is not its own neighbour
    order = np.argsort(d2, axis=1, kind="stable")
    return order[:, :num_nb].astype(np.int64)


def reverse_index(neighbors: np.ndarray, num_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each landmark, which (landmark, neighbour slot) pairs predict it.

    Returns:
        ``(src_point, src_slot, valid)``, each ``(num_points, max_len)``: landmark ``i`` is
        predicted by neighbour slot ``src_slot[i, k]`` of landmark ``src_point[i, k]`` where
        ``valid[i, k]``. Padding entries point at ``(i, 0)`` and are masked out, so the NRM
        average is an exact mean (the official code pads by repetition, which weights some
        neighbours twice).
    """
    nb = np.asarray(neighbors, dtype=np.int64)
    lists: list[list[tuple[int, int]]] = [[] for _ in range(num_points)]
    for i in range(nb.shape[0]):
        for j in range(nb.shape[1]):
            lists[int(nb[i, j])].append((i, j))
    max_len = max(1, max(len(x) for x in lists))
    src_point = np.zeros((num_points, max_len), dtype=np.int64)
    src_slot = np.zeros((num_points, max_len), dtype=np.int64)
    valid = np.zeros((num_points, max_len), dtype=bool)
    for i, entries in enumerate(lists):
        for k, (p, s) in enumerate(entries):
            src_point[i, k], src_slot[i, k], valid[i, k] = p, s, True
    return src_point, src_slot, valid

"""Five-point faces (eye centres, nose tip, mouth corners): the 68 -> 5 mapping, the scheme and the metric.

MTFL-style annotations (``../shared/data/mtfl``) give five points per face: left eye centre,
right eye centre, nose tip, left mouth corner, right mouth corner (the image's left/right).
A 68-point 300W model is compared with them through five points derived from its 68
(:func:`five_from_68`; the one place the mapping lives is :mod:`pipnet_edge.runtime.face_geometry`); the NME is normalised by the
distance between the eye centres and the failure rate counts faces above 0.10.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .metrics import AccuracySummary, summarize
# the 68 -> 5 mapping lives with the runtime's face geometry (aligned crops use it on devices); named here too
from .runtime.face_geometry import EYE_68, MOUTH_CORNERS_68, NOSE_TIP_68, five_from_68
from .schemes import LandmarkScheme, flip_permutation_from_pairs

__all__ = [
    "EYE_68",
    "FIVE_POINT_NAMES",
    "FIVE_POINT_SCHEME",
    "MOUTH_CORNERS_68",
    "NOSE_TIP_68",
    "POSE_BINS",
    "five_from_68",
    "five_point_by_pose",
    "five_point_summary",
    "pose_proxy",
]

FIVE_POINT_NAMES = ("left_eye", "right_eye", "nose_tip", "left_mouth", "right_mouth")

# mirror pairs: the eyes and the mouth corners; NME normalised by the eye centres (points 0 and 1)
FIVE_POINT_SCHEME = LandmarkScheme("five-point", 5, flip_permutation_from_pairs(5, [(0, 1), (3, 4)]), "points", (0, 1))

# edges of the pose-proxy bins: frontal, slightly, clearly turned (|nose offset| in inter-ocular distances)
POSE_BINS = (0.10, 0.20, 0.35)


def five_point_summary(pred: np.ndarray, truth: np.ndarray, threshold: float = 0.10) -> AccuracySummary:
    """NME (% of the eye-centre distance), failure rate above ``threshold``, AUC, per point and per face.

    ``pred`` is ``(F, 68, 2)`` 300W points (mapped with :func:`five_from_68`) or ``(F, 5, 2)``
    five points; ``truth`` is ``(F, 5, 2)``.
    """
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == 3 and p.shape[1] == 68:
        p = five_from_68(p)
    t = np.asarray(truth, dtype=np.float64)
    if t.ndim != 3 or t.shape[1:] != (5, 2):
        raise InputError(f"five-point truth must be (faces, 5, 2), got shape {t.shape}")
    return summarize(p, t, FIVE_POINT_SCHEME, threshold)


def pose_proxy(five: np.ndarray) -> np.ndarray:
    """How far each face is turned, from its five points alone: ``|(nose - eye_mid) . eye_dir| / iod``.

    The nose tip's offset from the eyes' midpoint along the line through the eyes, in inter-ocular distances: about
    0 for a frontal face, above 0.35 for a clearly turned one (yaw; pitch and roll move it little). ``five``:
    ``(F, 5, 2)`` (or ``(5, 2)``); returns ``(F,)`` (or a scalar).
    """
    f = np.asarray(five, dtype=np.float64)
    if f.shape[-2:] != (5, 2):
        raise InputError(f"pose_proxy takes (..., 5, 2) five-point faces, got shape {f.shape}")
    eye_vec = f[..., 1, :] - f[..., 0, :]
    iod = np.linalg.norm(eye_vec, axis=-1)
    if np.any(iod <= 0):
        raise InputError("pose_proxy: a face has both eye centres at the same place")
    offset = f[..., 2, :] - (f[..., 0, :] + f[..., 1, :]) / 2
    return np.abs((offset * eye_vec).sum(-1)) / iod**2


def _bin_labels(edges: tuple[float, ...]) -> list[str]:
    lo = ("",) + tuple(f"{e:.2f}" for e in edges)
    hi = tuple(f"{e:.2f}" for e in edges) + ("",)
    return [f"< {h}" if not a else (f">= {a}" if not h else f"{a}-{h}") for a, h in zip(lo, hi)]


def five_point_by_pose(pred: np.ndarray, truth: np.ndarray, edges: tuple[float, ...] = POSE_BINS,
                       threshold: float = 0.10) -> list[tuple[str, AccuracySummary | None]]:
    """:func:`five_point_summary` per pose-proxy bin of the *labelled* faces (the proxy of ``truth``), plus all faces.

    Returns ``[(label, summary), ...]`` from frontal to turned, then ``("all", summary)``; an empty bin's summary is
    None.
    """
    t = np.asarray(truth, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == 3 and p.shape[1] == 68:
        p = five_from_68(p)
    proxy = pose_proxy(t)
    which = np.searchsorted(np.asarray(edges, dtype=np.float64), proxy, side="right")
    out: list[tuple[str, AccuracySummary | None]] = []
    for i, label in enumerate(_bin_labels(tuple(edges))):
        m = which == i
        out.append((label, five_point_summary(p[m], t[m], threshold) if m.any() else None))
    out.append(("all", five_point_summary(p, t, threshold)))
    return out

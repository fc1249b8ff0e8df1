"""Five-point faces (eye centres, nose tip, mouth corners): the 68 -> 5 mapping, the scheme and the metric.

MTFL-style annotations (``../shared/data/mtfl``) give five points per face: left eye centre,
right eye centre, nose tip, left mouth corner, right mouth corner (the image's left/right).
A 68-point 300W model is compared with them through five points derived from its 68
(:func:`five_from_68`, the one place the mapping lives); the NME is normalised by the
distance between the eye centres and the failure rate counts faces above 0.10.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .metrics import AccuracySummary, summarize
from .schemes import LandmarkScheme, flip_permutation_from_pairs

__all__ = [
    "EYE_68",
    "FIVE_POINT_NAMES",
    "FIVE_POINT_SCHEME",
    "MOUTH_CORNERS_68",
    "NOSE_TIP_68",
    "five_from_68",
    "five_point_summary",
]

FIVE_POINT_NAMES = ("left_eye", "right_eye", "nose_tip", "left_mouth", "right_mouth")

# 0-based 300W indices: the six points of each eye (their mean is the eye centre), the nose tip, the mouth corners
EYE_68 = (tuple(range(36, 42)), tuple(range(42, 48)))
NOSE_TIP_68 = 30
MOUTH_CORNERS_68 = (48, 54)

# mirror pairs: the eyes and the mouth corners; NME normalised by the eye centres (points 0 and 1)
FIVE_POINT_SCHEME = LandmarkScheme("five-point", 5, flip_permutation_from_pairs(5, [(0, 1), (3, 4)]), "points", (0, 1))


def five_from_68(points: np.ndarray) -> np.ndarray:
    """The five MTFL points of 300W-68 faces: ``(..., 68, 2)`` -> ``(..., 5, 2)`` (float64).

    Eye centres are the means of 0-based points 36-41 and 42-47, the nose tip is point 30,
    the mouth corners are points 48 and 54.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim < 2 or p.shape[-2:] != (68, 2):
        raise InputError(f"five_from_68 takes (..., 68, 2) 300W points, got shape {p.shape}")
    return np.stack(
        [
            p[..., list(EYE_68[0]), :].mean(axis=-2),
            p[..., list(EYE_68[1]), :].mean(axis=-2),
            p[..., NOSE_TIP_68, :],
            p[..., MOUTH_CORNERS_68[0], :],
            p[..., MOUTH_CORNERS_68[1], :],
        ],
        axis=-2,
    )


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

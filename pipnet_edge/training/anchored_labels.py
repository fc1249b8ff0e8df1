"""Pseudo-labels anchored to the human five points of weakly labelled faces.

MTFL-style faces come with five human points (eye centres, nose tip, mouth corners). A teacher's
68 pseudo-landmarks are surest where the face is frontal and weakest where it is turned, the very
faces a student should learn from; the five human points say where the teacher went wrong. Anchoring
moves the teacher's 68 points so that their five derived points
(:func:`~pipnet_edge.five_point.five_from_68`) land on the human ones:

1. **convention offset** (:func:`convention_offset`): the two schemes define the points a little
   differently (an eye centre as the mean of six eyelid points or as the pupil; MTFL's mouth corners),
   a constant measured as the median, over the pool's faces, of the teacher's five derived points minus
   the human ones, in each face's own frame (origin the eyes' midpoint, x along the eyes, unit the
   inter-ocular distance). The target of each face is its human points plus that offset, so anchoring
   corrects the teacher's errors on the face and does not pull the student towards MTFL's conventions
   (which would cost accuracy on 300W-style points);
2. **smooth warp** (:func:`anchor_points`): a thin-plate spline through the five derived points
   carries each to its target and moves the other 63 points smoothly with them (its affine part
   handles a shifted, scaled or turned face); the six points of each eye are then shifted together
   so that their mean lands exactly on the eye's target.

``mode="affine"`` moves the 68 points by the least-squares affine map from the five derived points to their targets
instead (6 parameters for 10 coordinates): it corrects a teacher that placed, scaled or sheared the whole face wrongly
and keeps the teacher's shape, so a human point that differs from the scheme's for its own reasons (a pupil looking
sideways is not the mean of the eyelid) is matched only in part. ``strength`` scales the move
(0: the teacher's points, 1: anchored). Faces whose teacher points
are further than ``max_move`` inter-ocular distances from their targets at any of the five points
are reported by :func:`anchor_points` (a teacher lost on the face, or an annotation error).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..data.thin_plate import ThinPlateSpline
from ..errors import InputError
from ..five_point import five_from_68
from ..runtime.face_geometry import EYE_68

__all__ = ["ANCHOR_MODES", "AnchorReport", "anchor_points", "convention_offset", "face_frames"]

ANCHOR_MODES = ("spline", "affine")


def face_frames(five: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each face's frame from its five points: origin ``(F, 2)``, unit x axis ``(F, 2)``, scale ``(F,)`` (the IOD)."""
    f = np.asarray(five, dtype=np.float64)
    if f.ndim != 3 or f.shape[1:] != (5, 2):
        raise InputError(f"five points must be (faces, 5, 2), got shape {f.shape}")
    vec = f[:, 1] - f[:, 0]
    iod = np.linalg.norm(vec, axis=-1)
    if np.any(iod <= 0) or not np.isfinite(f).all():
        raise InputError("a face's five points have coincident eyes or non-finite values")
    return (f[:, 0] + f[:, 1]) / 2, vec / iod[:, None], iod


def _to_frame(points: np.ndarray, origin: np.ndarray, ux: np.ndarray, scale: np.ndarray) -> np.ndarray:
    d = points - origin[:, None]
    uy = np.stack([-ux[:, 1], ux[:, 0]], axis=-1)
    return np.stack([(d * ux[:, None]).sum(-1), (d * uy[:, None]).sum(-1)], axis=-1) / scale[:, None, None]


def _from_frame(local: np.ndarray, origin: np.ndarray, ux: np.ndarray, scale: np.ndarray) -> np.ndarray:
    uy = np.stack([-ux[:, 1], ux[:, 0]], axis=-1)
    l = local * scale[:, None, None]
    return origin[:, None] + l[..., :1] * ux[:, None] + l[..., 1:] * uy[:, None]


def _in_face_frames(points68: np.ndarray, five: np.ndarray) -> tuple[tuple, np.ndarray, np.ndarray]:
    """``(frame, teacher's 68 points, human five points)``, both point sets in each face's frame (IODs)."""
    p = np.asarray(points68, dtype=np.float64)
    h = np.asarray(five, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (68, 2) or h.shape != (len(p), 5, 2):
        raise InputError(f"anchoring needs (faces, 68, 2) points and (faces, 5, 2) five points, got {p.shape}, {h.shape}")
    frame = face_frames(h)
    return frame, _to_frame(p, *frame), _to_frame(h, *frame)


def _median_offset(local68: np.ndarray, local5: np.ndarray) -> np.ndarray:
    return np.median(five_from_68(local68) - local5, axis=0)


def convention_offset(points68: np.ndarray, five: np.ndarray) -> np.ndarray:
    """The median ``(5, 2)`` offset of the teacher's derived five points from the human ones, in face frames (IODs)."""
    _, local68, local5 = _in_face_frames(points68, five)
    return _median_offset(local68, local5)


@dataclass
class AnchorReport:
    """What anchoring did: the faces, the median and 90th-percentile move of each face's most-moved derived point (in
    inter-ocular distances), how many moved more than ``max_move``, the settings and the convention offset used."""

    faces: int
    median_move: float
    p90_move: float
    beyond_max_move: int
    max_move: float
    strength: float
    mode: str
    offset: list[list[float]]
    moves: np.ndarray = field(repr=False)  # (F,): each face's largest move of a derived point, in IODs

    def to_dict(self) -> dict:
        """The report as JSON-ready values (without the per-face ``moves``)."""
        return {k: v for k, v in asdict(self).items() if k != "moves"}


def _affine_fit(src: np.ndarray, dst: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The least-squares affine map taking ``src`` ``(K, 2)`` to ``dst``, applied to ``query`` ``(Q, 2)``."""
    a = np.concatenate([src, np.ones((len(src), 1))], axis=1)
    m = np.linalg.lstsq(a, dst, rcond=None)[0]
    return np.concatenate([query, np.ones((len(query), 1))], axis=1) @ m


def anchor_points(points68: np.ndarray, five: np.ndarray, offset: np.ndarray | None = None, strength: float = 1.0,
                  max_move: float = 0.5, mode: str = "spline") -> tuple[np.ndarray, AnchorReport]:
    """The teacher's ``(F, 68, 2)`` points warped so their five derived points land on ``five`` + ``offset``
    (``mode="spline"``, exactly) or as near as one affine map takes them (``"affine"``).

    ``five``: the human ``(F, 5, 2)`` points (same pixels as ``points68``); ``offset``: the ``(5, 2)`` convention
    offset in face frames (:func:`convention_offset`; None: measured on these faces). Returns the anchored points and
    an :class:`AnchorReport`.
    """
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"anchoring strength must be in [0, 1], got {strength}")
    if mode not in ANCHOR_MODES:
        raise InputError(f"anchoring mode must be one of {', '.join(ANCHOR_MODES)}, got {mode!r}")
    # work in each face's frame: the spline's smoothness is then the same for a small and a large face
    frame, local, local5 = _in_face_frames(points68, five)
    off = _median_offset(local, local5) if offset is None else np.asarray(offset, np.float64)
    target = local5 + off[None]
    derived = five_from_68(local)
    move = target - derived
    out = np.empty_like(local)
    if mode == "affine":
        for i in range(len(local)):
            out[i] = local[i] + strength * (_affine_fit(derived[i], target[i], local[i]) - local[i])
    else:
        for i in range(len(local)):
            out[i] = local[i] + strength * ThinPlateSpline.fit(derived[i], move[i], 1e-8)(local[i])
        for side, eye in enumerate(EYE_68):  # each eye's mean exactly on its target
            eye = list(eye)
            out[:, eye] += (local[:, eye].mean(1) + strength * move[:, side] - out[:, eye].mean(1))[:, None]
    size = np.linalg.norm(move, axis=-1).max(1)
    report = AnchorReport(faces=len(local), median_move=round(float(np.median(size)), 4),
                          p90_move=round(float(np.percentile(size, 90)), 4), beyond_max_move=int((size > max_move).sum()),
                          max_move=max_move, strength=strength, mode=mode, offset=np.round(off, 4).tolist(), moves=size)
    return _from_frame(out, *frame).astype(np.float32), report

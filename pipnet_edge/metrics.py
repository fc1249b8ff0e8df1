"""Landmark accuracy metrics (numpy): NME, failure rate, AUC, per-landmark error."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .schemes import LandmarkScheme

__all__ = ["normalizers", "per_point_errors", "AccuracySummary", "summarize"]


def normalizers(truth: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """Per-face normalising distance ``(F,)`` for the scheme (eye corners / pupils / box)."""
    t = np.asarray(truth, dtype=np.float64)
    if scheme.norm == "points":
        a, b = scheme.norm_indices  # type: ignore[misc]
        d = np.linalg.norm(t[:, a] - t[:, b], axis=-1)
    else:
        w = t[..., 0].max(1) - t[..., 0].min(1)
        h = t[..., 1].max(1) - t[..., 1].min(1)
        d = np.sqrt(w * h)
    if (d <= 0).any():
        raise InputError("a face has a zero normalising distance (coincident reference points)")
    return d


def per_point_errors(pred: np.ndarray, truth: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """Normalised point errors ``(F, N)`` (fractions, not percent)."""
    p, t = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    if p.shape != t.shape or p.ndim != 3:
        raise InputError(f"predictions {p.shape} and truth {t.shape} must both be (faces, points, 2)")
    return np.linalg.norm(p - t, axis=-1) / normalizers(t, scheme)[:, None]


@dataclass
class AccuracySummary:
    """NME etc. in percent over a set of faces."""

    faces: int
    nme: float
    failure_rate: float  # % of faces with NME > threshold
    auc: float  # area under the CED curve up to threshold, in [0, 1]
    threshold: float
    per_landmark: list[float] = field(default_factory=list)  # mean error per point, %
    per_face: list[float] = field(default_factory=list)  # NME per face, %

    def to_dict(self, with_faces: bool = False) -> dict:
        d = {
            "faces": self.faces,
            "nme_percent": round(self.nme, 4),
            "failure_rate_percent": round(self.failure_rate, 3),
            "auc": round(self.auc, 4),
            "threshold": self.threshold,
            "per_landmark_percent": [round(v, 4) for v in self.per_landmark],
        }
        if with_faces:
            d["per_face_percent"] = [round(v, 4) for v in self.per_face]
        return d


def summarize(pred: np.ndarray, truth: np.ndarray, scheme: LandmarkScheme, threshold: float = 0.10) -> AccuracySummary:
    err = per_point_errors(pred, truth, scheme)
    face = err.mean(axis=1)
    xs = np.linspace(0.0, threshold, 1001)
    ced = (face[None, :] <= xs[:, None]).mean(axis=1)
    auc = float(np.trapezoid(ced, xs) / threshold) if hasattr(np, "trapezoid") else float(np.trapz(ced, xs) / threshold)
    return AccuracySummary(
        faces=int(face.size),
        nme=float(face.mean() * 100),
        failure_rate=float((face > threshold).mean() * 100),
        auc=auc,
        threshold=threshold,
        per_landmark=(err.mean(axis=0) * 100).tolist(),
        per_face=(face * 100).tolist(),
    )

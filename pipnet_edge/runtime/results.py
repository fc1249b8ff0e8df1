"""Typed results of the Landmarker."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FaceLandmarks", "LandmarkerResult"]


@dataclass(frozen=True)
class FaceLandmarks:
    """Landmarks of one face.

    Attributes:
        points: ``(N, 2)`` float32 ``(x, y)`` in image pixels (0-based, pixel centres at integers).
        box: ``[x0, y0, x1, y1]`` the face box the crop was made from.
        score: mean heatmap peak over the points (about 1 on a clear face, near 0 on no face).
        point_scores: ``(N,)`` heatmap peak per point.
        track_id: in video and live-stream modes, the same number for the same face from frame
            to frame (``None`` for photos).
    """

    points: np.ndarray
    box: np.ndarray
    score: float
    point_scores: np.ndarray
    track_id: int | None = None


@dataclass(frozen=True)
class LandmarkerResult:
    """All faces found in one image (possibly none)."""

    faces: list[FaceLandmarks] = field(default_factory=list)
    timestamp_ms: int | None = None

    def __len__(self) -> int:
        return len(self.faces)

    def __iter__(self):
        return iter(self.faces)

    def __getitem__(self, i: int) -> FaceLandmarks:
        return self.faces[i]

    @property
    def points(self) -> np.ndarray:
        """``(F, N, 2)`` points of every face (``(0, 0, 2)`` when none)."""
        if not self.faces:
            return np.zeros((0, 0, 2), np.float32)
        return np.stack([f.points for f in self.faces])

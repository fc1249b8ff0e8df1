"""Typed results of the Landmarker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .face_geometry import HeadPose, Openness

__all__ = ["FaceLandmarks", "LandmarkerResult"]


@dataclass(frozen=True)
class FaceLandmarks:
    """Landmarks of one face.

    Attributes:
        points: ``(N, 2)`` float32 ``(x, y)`` in image pixels (0-based, pixel centres at integers).
        box: ``[x0, y0, x1, y1]`` the face box the crop was made from.
        score: mean heatmap peak over the points, the face presence score ``min_face_presence`` compares (real
            faces about 0.5-0.8, the detector's non-faces about 0.1-0.3).
        point_scores: ``(N,)`` heatmap peak per point.
        track_id: in video and live-stream modes, the same number for the same face from frame
            to frame (``None`` for photos).

    Face geometry of 68-point (300W) faces, computed only when called
    (:mod:`~pipnet_edge.runtime.face_geometry`): :meth:`head_pose`, :meth:`aligned_crop`, :meth:`openness`,
    :meth:`five_points`; other point counts raise ``InputError``.
    """

    points: np.ndarray
    box: np.ndarray
    score: float
    point_scores: np.ndarray
    track_id: int | None = None

    def head_pose(self, image_size: Any, *, focal: float | None = None) -> "HeadPose":
        """Yaw, pitch, roll (degrees) of this face: :func:`~pipnet_edge.runtime.face_geometry.head_pose`.

        Args:
            image_size: ``(width, height)`` of the image the face was found in, or the image itself.
            focal: focal length in pixels (default: the image width).
        """
        from .face_geometry import head_pose

        return head_pose(self.points, image_size, focal=focal)

    def aligned_crop(self, image: np.ndarray, size: int = 112) -> np.ndarray:
        """This face aligned for recognition, ``size x size`` (ArcFace's template at 112), cut from the image it
        was found in: :func:`~pipnet_edge.runtime.face_geometry.aligned_crop`."""
        from .face_geometry import aligned_crop

        return aligned_crop(image, self.points, size)

    def openness(self) -> "Openness":
        """Eye aspect ratio per eye and the mouth aspect ratio: :func:`~pipnet_edge.runtime.face_geometry.openness`."""
        from .face_geometry import openness

        return openness(self.points)

    def five_points(self) -> np.ndarray:
        """``(5, 2)`` eye centres, nose tip, mouth corners (image-left first):
        :func:`~pipnet_edge.runtime.face_geometry.five_from_68`."""
        from .face_geometry import _points, five_from_68

        return five_from_68(_points(self.points, "five_points"))


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

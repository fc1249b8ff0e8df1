"""Drawing landmarks on images."""

from __future__ import annotations

import numpy as np

from .results import LandmarkerResult

__all__ = ["draw_landmarks"]


def draw_landmarks(
    image: np.ndarray,
    result: LandmarkerResult,
    color: tuple[int, int, int] = (0, 255, 0),
    radius: int | None = None,
    draw_box: bool = True,
) -> np.ndarray:
    """A copy of ``image`` with each face's points (and box) drawn; colour in the image's channel order."""
    import cv2

    out = image.copy()
    h, w = out.shape[:2]
    r = radius or max(1, int(round(max(h, w) / 300)))
    for face in result:
        if draw_box:
            x0, y0, x1, y1 = (int(round(v)) for v in face.box)
            cv2.rectangle(out, (x0, y0), (x1, y1), (255, 128, 0), max(1, r // 2), cv2.LINE_AA)
        for x, y in face.points:
            cv2.circle(out, (int(round(x)), int(round(y))), r, color, -1, cv2.LINE_AA)
    return out

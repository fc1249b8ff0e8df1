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
    """A copy of ``image`` with each face's points (and box, and track id in video) drawn; colour in the
    image's channel order. The point radius follows each face's size unless ``radius`` is given.

    Args:
        image: the photo the result came from, ``(H, W, 3)`` or ``(H, W)``, uint8 (or float32) as OpenCV draws on.
        result: a :class:`LandmarkerResult` (or any iterable of :class:`FaceLandmarks`).
        color: point colour, in the image's channel order.
        radius: point radius in pixels (``None``: from each face's size).
        draw_box: also draw each face's box (and its ``track_id`` in video).

    Returns:
        the drawn copy; ``image`` itself is left unchanged.

    Raises:
        cv2.error: an image OpenCV cannot draw on (not a numpy array, or a pixel type such as int64);
            the image is not checked beforehand.
        AttributeError: ``result`` holds something other than :class:`FaceLandmarks`.
    """
    import cv2

    out = image.copy()
    for face in result:
        side = float(max(face.box[2] - face.box[0], face.box[3] - face.box[1]))
        r = radius or max(1, int(round(side / 90)))
        if draw_box:
            x0, y0, x1, y1 = (int(round(v)) for v in face.box)
            cv2.rectangle(out, (x0, y0), (x1, y1), (255, 128, 0), max(1, r // 2), cv2.LINE_AA)
            if face.track_id is not None:
                cv2.putText(out, f"#{face.track_id}", (x0, max(y0 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, max(0.4, side / 300),
                            (255, 128, 0), max(1, r // 2), cv2.LINE_AA)
        for x, y in face.points:
            cv2.circle(out, (int(round(x)), int(round(y))), r, color, -1, cv2.LINE_AA)
    return out

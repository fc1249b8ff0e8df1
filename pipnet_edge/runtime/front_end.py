"""The face detector in front of the landmark model: chosen and checked when a Landmarker is made, loaded on first use.

:class:`FrontEnd` turns a photo into face regions for the model: it runs the detector (a bundled one by name, or any
object with ``detect(image_rgb)`` and ``crop_rule``), filters its faces by score and count, and cuts each face's crop
region by the detector's calibrated crop rule, turned upright by its eye keypoints when ``align_faces``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from .detectors import Detections, as_detections, check_detector, create_detector
from .preprocess import box_regions, roll_angles

__all__ = ["FrontEnd"]


class FrontEnd:
    """The detector of one Landmarker (its ``options``: a :class:`~pipnet_edge.runtime.options.LandmarkerOptions`).

    Raises:
        InputError: an unknown detector, options it cannot honour, or an object without ``detect`` / ``crop_rule``.
    """

    def __init__(self, options) -> None:
        self.options = options
        self._detector = None
        self.calls = 0  # how many times the detector has run
        det = options.detector
        if isinstance(det, str):
            check_detector(det, **self._detector_options())
        elif det is not None and (not callable(getattr(det, "detect", None)) or not hasattr(det, "crop_rule")):
            raise InputError("detector must be a bundled name, None, or an object with detect(image_rgb) and crop_rule")

    def _detector_options(self) -> dict[str, Any]:
        o = self.options
        return {"min_confidence": o.min_detection_confidence, "min_face_size": o.min_face_size,
                "num_threads": o.num_threads if o.detector != "haar" else None}

    @property
    def detector(self):
        """The face detector (created on first use), or ``None`` when boxes are required."""
        o = self.options
        if self._detector is None and o.detector is not None:
            bundled = isinstance(o.detector, str)
            self._detector = create_detector(o.detector, **self._detector_options()) if bundled else o.detector
        return self._detector

    def find(self, image: np.ndarray, order: str, limit: int | None = None) -> Detections:
        """The faces in ``image`` (``order``: its channel order), best first, at most ``limit`` (default
        ``max_faces``)."""
        det = self.detector
        if det is None:
            raise InputError("no boxes given and the Landmarker has no face detector (detector=None)")
        self.calls += 1
        if getattr(det, "takes_color_order", False):
            raw = det.detect(image, color_order=order)
        else:
            import cv2

            raw = det.detect(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if order == "BGR" else image)
        # bundled detectors apply min_detection_confidence themselves; a plugged-in one is filtered here
        min_score = self.options.min_detection_confidence
        if min_score is None or isinstance(self.options.detector, str):
            min_score = 0.0
        return as_detections(raw).filtered(min_score, limit or self.options.max_faces)

    def regions(self, found: Detections) -> np.ndarray:
        """Each found face's crop region ``[cx, cy, side, roll]`` by the detector's crop rule."""
        rolls = None
        if self.options.align_faces and found.keypoints is not None and found.keypoints.shape[1] >= 2:
            rolls = roll_angles(found.keypoints[:, 0], found.keypoints[:, 1])
        return box_regions(found.boxes, self.detector.crop_rule, rolls)

    def close(self) -> None:
        """Release the detector (a later call creates it again)."""
        self._detector = None

"""OpenCV's Haar frontal-face cascade: no model file to ship, frontal faces only, slow on large photos.

Kept as ``detector="haar"`` for comparison and for installations that want nothing else; YuNet
(the default) finds more faces, invents fewer and is about 15x faster on the same photos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError, ModelLoadError
from ...spec import CropRule
from .base import Detections

__all__ = ["HAAR_CROP_RULE", "HaarFaceDetector"]

# Calibrated on ../shared/data/300w/train (2,012 faces, 1,900 detected) with
#   python -m pipnet_edge.calibration.crop_rules --detector haar --data ../shared/data/300w/train
# -> scale 0.986 (IQR 0.941-1.027), shift_x 0.0051, shift_y 0.149 of the Haar box
HAAR_CROP_RULE = CropRule(scale=0.986, shift_x=0.0051, shift_y=0.149)


@dataclass
class HaarFaceDetector:
    """OpenCV Haar cascade (``haarcascade_frontalface_default.xml`` from the OpenCV wheel).

    ``min_confidence`` applies to the cascade's level weights (not a probability; 0 keeps all),
    ``min_face_size`` is the smallest face searched, in photo pixels.
    """

    crop_rule: CropRule = HAAR_CROP_RULE
    min_confidence: float = 0.0
    max_faces: int | None = None
    min_face_size: int = 40
    scale_factor: float = 1.1
    min_neighbors: int = 5
    cascade: str = "haarcascade_frontalface_default.xml"

    def __post_init__(self) -> None:
        import cv2

        if self.min_face_size is None:
            self.min_face_size = 40
        if self.min_face_size < 1:
            raise InputError(f"min_face_size must be at least 1 pixel, got {self.min_face_size}")
        path = Path(cv2.data.haarcascades) / self.cascade if hasattr(cv2, "data") else Path(self.cascade)
        if not path.exists():
            raise ModelLoadError(
                f"OpenCV face cascade {path} not found; opencv-python-headless 5.x no longer ships cascades: "
                "install 'opencv-python-headless<5' or pass boxes / another detector"
            )
        self._cv = cv2.CascadeClassifier(str(path))
        if self._cv.empty():
            raise ModelLoadError(f"cannot load OpenCV cascade {path}")

    takes_color_order = True

    def detect(self, image_rgb: np.ndarray, color_order: str = "RGB") -> Detections:
        """Faces in a ``(H, W, 3)`` uint8 photo (RGB, or BGR with ``color_order="BGR"``), best first."""
        import cv2

        gray = cv2.equalizeHist(cv2.cvtColor(image_rgb, cv2.COLOR_BGR2GRAY if color_order == "BGR" else cv2.COLOR_RGB2GRAY))
        side = int(self.min_face_size)
        rects, _, weights = self._cv.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(side, side), outputRejectLevels=True,
        )
        if len(rects) == 0:
            return Detections.empty()
        r = np.asarray(rects, np.float32)
        boxes = np.column_stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]])
        return Detections(boxes, np.asarray(weights, np.float32).reshape(-1)).filtered(self.min_confidence, self.max_faces)

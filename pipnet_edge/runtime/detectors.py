"""Face detector front-ends. A detector returns boxes; its crop rule maps them to model crops.

Each detector's boxes sit differently on a face (a Haar box is tighter than the landmark box
and centred lower, for instance), so each carries a :class:`~pipnet_edge.spec.CropRule`
calibrated on the 300W training faces with :func:`calibrate_crop_rule`
(``python -m pipnet_edge.runtime.calibrate_detector``), not guessed.

Built in:

* :class:`HaarFaceDetector` - OpenCV's bundled frontal-face cascade; works offline with
  ``opencv-python-headless`` 4.x, no extra files. Fast, frontal faces only.
* :class:`YuNetFaceDetector` - OpenCV's ``FaceDetectorYN`` with a YuNet ``.onnx`` you supply.

Anything with a ``detect(image_rgb) -> (K, 5)`` method (``x0, y0, x1, y1, score``) and a
``crop_rule`` attribute plugs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..errors import ModelLoadError
from ..spec import CropRule

__all__ = ["FaceDetector", "HaarFaceDetector", "YuNetFaceDetector", "calibrate_crop_rule", "box_iou"]


class FaceDetector(Protocol):
    crop_rule: CropRule

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        """``(K, 5)`` float array of ``[x0, y0, x1, y1, score]``, best first."""


# Calibrated on ../shared/data/300w/train (2,012 faces, 1,900 detected) with
#   python -m pipnet_edge.runtime.calibrate_detector --detector haar --data ../shared/data/300w/train
# -> scale 0.986 (IQR 0.941-1.027), shift_x 0.0051, shift_y 0.149 of the Haar box
HAAR_CROP_RULE = CropRule(scale=0.986, shift_x=0.0051, shift_y=0.149)


@dataclass
class HaarFaceDetector:
    """OpenCV Haar cascade (``haarcascade_frontalface_default.xml`` from the OpenCV wheel)."""

    crop_rule: CropRule = HAAR_CROP_RULE
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 40
    cascade: str = "haarcascade_frontalface_default.xml"

    def __post_init__(self) -> None:
        import cv2

        path = Path(cv2.data.haarcascades) / self.cascade if hasattr(cv2, "data") else Path(self.cascade)
        if not path.exists():
            raise ModelLoadError(
                f"OpenCV face cascade {path} not found; opencv-python-headless 5.x no longer ships cascades: "
                "install 'opencv-python-headless<5' or pass boxes / another detector"
            )
        self._cv = cv2.CascadeClassifier(str(path))
        if self._cv.empty():
            raise ModelLoadError(f"cannot load OpenCV cascade {path}")

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        import cv2

        gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
        gray = cv2.equalizeHist(gray)
        rects, _, weights = self._cv.detectMultiScale3(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size), outputRejectLevels=True,
        )
        if len(rects) == 0:
            return np.zeros((0, 5), np.float32)
        r = np.asarray(rects, np.float32)
        w = np.asarray(weights, np.float32).reshape(-1)
        boxes = np.column_stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3], w])
        return boxes[np.argsort(-boxes[:, 4])]


@dataclass
class YuNetFaceDetector:
    """OpenCV ``FaceDetectorYN`` with a YuNet model file (e.g. ``face_detection_yunet_2023mar.onnx``).

    YuNet's boxes sit differently on a face than Haar's, and no YuNet file ships with the
    package, so its crop rule must be calibrated once with your file::

        python -m pipnet_edge.runtime.calibrate_detector --detector face_detection_yunet.onnx --data TRAIN_FACES

    and passed as ``crop_rule=CropRule(scale=..., shift_x=..., shift_y=...)``.
    """

    model_path: str
    crop_rule: CropRule | None = None
    score_threshold: float = 0.6
    calibrating: bool = False  # True only inside calibrate_detector

    def __post_init__(self) -> None:
        import cv2

        if not Path(self.model_path).is_file():
            raise ModelLoadError(f"YuNet model {self.model_path} does not exist")
        if self.crop_rule is None and not self.calibrating:
            raise ModelLoadError(
                "YuNetFaceDetector needs a calibrated crop_rule: run python -m pipnet_edge.runtime.calibrate_detector "
                f"--detector {self.model_path} --data TRAIN_FACES and pass the printed rule"
            )
        self._det = cv2.FaceDetectorYN.create(self.model_path, "", (320, 320), self.score_threshold)

    def detect(self, image_rgb: np.ndarray) -> np.ndarray:
        import cv2

        h, w = image_rgb.shape[:2]
        self._det.setInputSize((w, h))
        _, faces = self._det.detect(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        if faces is None or len(faces) == 0:
            return np.zeros((0, 5), np.float32)
        f = np.asarray(faces, np.float32)
        boxes = np.column_stack([f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3], f[:, -1]])
        return boxes[np.argsort(-boxes[:, 4])]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of ``(K, 4)`` and ``(M, 4)`` boxes."""
    a, b = np.asarray(a, np.float64)[:, None, :4], np.asarray(b, np.float64)[None, :, :4]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def calibrate_crop_rule(
    detector: FaceDetector, images: Sequence[np.ndarray], landmark_boxes: Sequence[np.ndarray], target: CropRule
) -> tuple[CropRule, dict]:
    """Fit the crop rule that turns this detector's boxes into the crops ``target`` makes from
    ground-truth landmark boxes (medians over the faces the detector finds, IoU >= 0.3)."""
    sx, sy, sc = [], [], []
    found = 0
    for img, lb in zip(images, landmark_boxes):
        det = detector.detect(img)
        if len(det) == 0:
            continue
        iou = box_iou(det, np.asarray(lb)[None])[:, 0]
        k = int(iou.argmax())
        if iou[k] < 0.3:
            continue
        found += 1
        d = det[k, :4]
        dw, dh = d[2] - d[0], d[3] - d[1]
        gx0, gy0, gx1, gy1 = lb
        gw, gh = gx1 - gx0, gy1 - gy0
        # the target crop: centre of the landmark box + target shift, side target.scale * max(gw, gh)
        tcx = (gx0 + gx1) / 2 + target.shift_x * gw
        tcy = (gy0 + gy1) / 2 + target.shift_y * gh
        sx.append((tcx - (d[0] + d[2]) / 2) / dw)
        sy.append((tcy - (d[1] + d[3]) / 2) / dh)
        sc.append(target.scale * max(gw, gh) / max(dw, dh))
    if found == 0:
        raise ModelLoadError("the detector found none of the calibration faces")
    rule = CropRule(scale=float(np.median(sc)), shift_x=float(np.median(sx)), shift_y=float(np.median(sy)))
    stats = {"faces": len(images), "matched": found, "detection_rate": found / len(images),
             "scale_iqr": [float(np.percentile(sc, 25)), float(np.percentile(sc, 75))]}
    return rule, stats

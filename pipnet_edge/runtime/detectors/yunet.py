"""YuNet (Wu, Peng, Yu, 2023; MIT licence): the default face detector, run by OpenCV's ``FaceDetectorYN``.

OpenCV is already a core dependency, so the default front end needs nothing else installed.
The model file (``face_detection_yunet_2023mar.onnx``, 233 kB, from the OpenCV Zoo) ships inside
the package with its licence (``pipnet_edge/assets/detectors/yunet/LICENSE``).

The photo is shrunk so that its longer side is ``input_size`` (320 px by default) before
detection: that finds faces down to about 8 % of the photo's longer side at a few ms per photo.
``min_face_size`` (photo pixels) raises the working resolution so that faces that small still
reach the size YuNet finds reliably (:data:`YUNET_MIN_FACE_PX` at its input), at a higher cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError, ModelLoadError
from ...spec import CropRule
from .base import Detections, working_scale

__all__ = ["YUNET_CROP_RULE", "YUNET_INPUT_SIZE", "YUNET_MIN_FACE_PX", "YuNetFaceDetector", "yunet_model_path"]

# Calibrated on ../shared/data/300w/train with
#   python -m pipnet_edge.calibration.crop_rules --detector yunet --data ../shared/data/300w/train
# -> 2,012 of 2,012 faces; scale 0.8759 (IQR 0.848-0.910), shift_x -0.0041, shift_y 0.1167 (IQR 0.101-0.130)
YUNET_CROP_RULE = CropRule(scale=0.8759, shift_x=-0.0041, shift_y=0.1167)
# the default working resolution (longer side, px) and the smallest face height (px, at that
# working resolution) YuNet finds reliably; both measured (README: the face front end)
YUNET_INPUT_SIZE = 320
YUNET_MIN_FACE_PX = 20


def yunet_model_path() -> Path:
    from ...assets import ASSETS_DIR

    return ASSETS_DIR / "detectors" / "yunet" / "face_detection_yunet_2023mar.onnx"


@dataclass
class YuNetFaceDetector:
    """YuNet through ``cv2.FaceDetectorYN``: boxes, scores and 5 keypoints per face.

    Args:
        min_confidence: drop faces scored below this (0-1).
        max_faces: keep at most this many faces, best first (``None``: all).
        min_face_size: smallest face (photo pixels, box height) to find; raises the working
            resolution when needed (``None``: the default resolution, faces from ~8 % of the
            photo's longer side).
        input_size: longer side of the working image at the default resolution.
        num_threads: OpenCV threads while detecting (``None``: OpenCV's setting).
        model_path: a YuNet ``.onnx`` (default: the bundled 2023mar model).
        model_bytes: the same file's contents (e.g. read from an Android asset), instead of a path.
        crop_rule: how a YuNet box becomes the landmark model's crop (calibrated; see module).
    """

    min_confidence: float = 0.6
    max_faces: int | None = None
    min_face_size: float | None = None
    input_size: int = YUNET_INPUT_SIZE
    num_threads: int | None = None
    model_path: str | Path | None = None
    model_bytes: bytes | None = None
    crop_rule: CropRule = YUNET_CROP_RULE
    nms_threshold: float = 0.3

    def __post_init__(self) -> None:
        import cv2

        if not 0.0 <= float(self.min_confidence) <= 1.0:
            raise InputError(f"min_confidence must lie in [0, 1], got {self.min_confidence}")
        if self.max_faces is not None and int(self.max_faces) < 1:
            raise InputError(f"max_faces must be at least 1 (or None for all), got {self.max_faces}")
        if self.min_face_size is not None and not float(self.min_face_size) > 0:
            raise InputError(f"min_face_size must be a positive number of pixels, got {self.min_face_size}")
        if int(self.input_size) < 32:
            raise InputError(f"input_size must be at least 32 px, got {self.input_size}")
        if self.num_threads is not None and int(self.num_threads) < 1:
            raise InputError(f"num_threads must be at least 1, got {self.num_threads}")
        if self.model_bytes is None:
            path = Path(self.model_path) if self.model_path is not None else yunet_model_path()
            if not path.is_file():
                raise ModelLoadError(f"YuNet model {path} does not exist")
            data = path.read_bytes()
            where = str(path)
        else:
            data, where = bytes(self.model_bytes), "the YuNet model bytes"
        if len(data) == 0:
            raise ModelLoadError(f"{where} is empty")
        try:
            # the score threshold is applied here too (it saves NMS work); 0.3 NMS IoU and top_k 5000 are YuNet's defaults
            self._det = cv2.FaceDetectorYN.create("onnx", np.frombuffer(data, np.uint8), np.zeros(0, np.uint8),
                                                  (self.input_size, self.input_size), float(self.min_confidence),
                                                  float(self.nms_threshold), 5000)
        except cv2.error as exc:
            raise ModelLoadError(f"{where} is not a YuNet ONNX model OpenCV can load: {str(exc).strip().splitlines()[-1]}") from None
        self._size = (0, 0)

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """``(w, h)`` of the image YuNet sees for a photo of this size."""
        longest = int(self.input_size)
        if self.min_face_size is not None:
            longest = max(longest, math.ceil(max(height, width) * YUNET_MIN_FACE_PX / float(self.min_face_size)))
        s = working_scale(height, width, longest)
        return max(1, round(width * s)), max(1, round(height * s))

    def detect(self, image_rgb: np.ndarray) -> Detections:
        """Faces in a ``(H, W, 3)`` uint8 RGB photo, best first, in photo pixels."""
        import cv2

        h, w = image_rgb.shape[:2]
        ww, wh = self.working_size(h, w)
        small = image_rgb if (ww, wh) == (w, h) else cv2.resize(image_rgb, (ww, wh), interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        if self._size != (ww, wh):
            self._det.setInputSize((ww, wh))
            self._size = (ww, wh)
        threads = cv2.getNumThreads()
        if self.num_threads is not None:
            cv2.setNumThreads(int(self.num_threads))
        try:
            _, faces = self._det.detect(bgr)
        finally:
            if self.num_threads is not None:
                cv2.setNumThreads(threads)
        if faces is None or len(faces) == 0:
            return Detections.empty(5)
        f = np.asarray(faces, np.float32)
        boxes = np.column_stack([f[:, 0], f[:, 1], f[:, 0] + f[:, 2], f[:, 1] + f[:, 3]])
        # keypoints: right eye, left eye (subject's; the right eye is on the image's left), nose tip, mouth corners
        found = Detections(boxes, f[:, 14], f[:, 4:14].reshape(-1, 5, 2)).scaled(w / ww, h / wh)
        return found.filtered(self.min_confidence, self.max_faces)

"""YuNet (Wu, Peng, Yu, 2023; MIT licence): the default face detector.

Two engines run the same network with the same decoding:

* ``"onnxruntime"`` (used when onnxruntime is installed): about 3x faster than OpenCV's DNN on
  this model; the anchor-free decode and NMS are done here in numpy, as OpenCV's
  ``FaceDetectorYN`` does them (score ``sqrt(cls * obj)``, box ``(cell + d) * stride``, size
  ``exp(d) * stride``, input padded to a multiple of 32 at the bottom and right).
* ``"opencv"``: ``cv2.FaceDetectorYN``; OpenCV is a core dependency, so the default front end
  works with nothing else installed.

The model file (``face_detection_yunet_2023mar.onnx``, 233 kB, from the OpenCV Zoo, with its input
and output shapes made symbolic by ``scripts/make_yunet_dynamic.py`` so that onnxruntime takes any
size) ships inside the package with its licence (``pipnet_edge/assets/detectors/yunet/LICENSE``).

The photo is shrunk so that its longer side is ``input_size`` (512 px by default) before
detection. YuNet finds faces reliably from :data:`YUNET_MIN_FACE_PX` (32 px of landmark-box height)
at its input, so the default finds faces down to about 6 % of the photo's longer side (32 / 512)
at a few ms per photo. ``min_face_size`` (photo pixels) raises the working resolution so that
faces that small still reach 32 px, at a higher cost (a 1920-px photo with ``min_face_size=40``
is detected at 1536 px).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError, ModelLoadError
from ...spec import CropRule
from .base import Detections, check_detector_options, nms, read_detector_model, working_scale

__all__ = ["YUNET_CROP_RULE", "YUNET_ENGINES", "YUNET_INPUT_SIZE", "YUNET_MIN_CONFIDENCE", "YUNET_MIN_FACE_PX",
           "YuNetFaceDetector", "decode_yunet", "yunet_model_path"]

YUNET_ENGINES = ("auto", "onnxruntime", "opencv")
YUNET_STRIDES = (8, 16, 32)

# Calibrated on ../shared/data/300w/train with
#   python -m pipnet_edge.calibration.crop_rules --detector yunet --data ../shared/data/300w/train
# -> 2,012 of 2,012 faces; scale 0.8669 (IQR 0.836-0.906), shift_x 0.0043, shift_y 0.1211 (IQR 0.103-0.134)
YUNET_CROP_RULE = CropRule(scale=0.8669, shift_x=0.0043, shift_y=0.1211)
# The smallest face (landmark-box height, px, at YuNet's input) it finds reliably, the default working
# resolution (longer side, px) and score threshold, chosen on multi-face photos made from the 300W
# TRAINING faces by `python -m benchmarks detectors` (docs/benchmarks.md): of 520 faces of
# 7.5-13 % of the longer side, 509 / 515 / 517 found at 416 / 512 / 640 px (score >= 0.5), no false
# detection; 40-100 px faces found 130 / 131 / 132 of 133 when they reach 28 / 32 / 40 px.
YUNET_MIN_FACE_PX = 32
YUNET_INPUT_SIZE = 512
YUNET_MIN_CONFIDENCE = 0.5


def yunet_model_path() -> Path:
    from ...assets import ASSETS_DIR, verify_asset

    path = ASSETS_DIR / "detectors" / "yunet" / "face_detection_yunet_2023mar.onnx"
    return verify_asset(path) if path.is_file() else path


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
        num_threads: threads while detecting (``None``: the engine's default).
        engine: ``"auto"`` (onnxruntime when installed, else OpenCV), ``"onnxruntime"`` or ``"opencv"``.
        model_path: a YuNet ``.onnx`` (default: the bundled 2023mar model).
        model_bytes: the same file's contents (e.g. read from an Android asset), instead of a path.
        crop_rule: how a YuNet box becomes the landmark model's crop (calibrated; see module).
    """

    min_confidence: float = YUNET_MIN_CONFIDENCE
    max_faces: int | None = None
    min_face_size: float | None = None
    input_size: int = YUNET_INPUT_SIZE
    num_threads: int | None = None
    model_path: str | Path | None = None
    model_bytes: bytes | None = None
    crop_rule: CropRule = YUNET_CROP_RULE
    nms_threshold: float = 0.3
    engine: str = "auto"

    def __post_init__(self) -> None:
        check_detector_options(self.min_confidence, self.max_faces, self.num_threads)
        if self.min_face_size is not None and not float(self.min_face_size) > 0:
            raise InputError(f"min_face_size must be a positive number of pixels, got {self.min_face_size}")
        if int(self.input_size) < 32:
            raise InputError(f"input_size must be at least 32 px, got {self.input_size}")
        if self.engine not in YUNET_ENGINES:
            raise InputError(f"engine must be one of {', '.join(YUNET_ENGINES)}, got {self.engine!r}")
        data, where = read_detector_model("YuNet", self.model_path, self.model_bytes, yunet_model_path())
        if self.engine in ("auto", "onnxruntime"):
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                if self.engine == "onnxruntime":
                    raise ModelLoadError("engine 'onnxruntime' needs onnxruntime: "
                                         "pip install 'pipnet-edge[onnxruntime]'") from None
            else:
                self._session = self._ort_session(data, where)
                self.engine = "onnxruntime"
                return
        self.engine = "opencv"
        self._session = None
        self._det = self._opencv_detector(data, where)
        self._size = (0, 0)

    def _ort_session(self, data: bytes, where: str):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.log_severity_level = 3
        if self.num_threads is not None:
            so.intra_op_num_threads = int(self.num_threads)
            so.inter_op_num_threads = 1
        try:
            return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelLoadError(f"{where} is not a YuNet ONNX model onnxruntime can load: {_reason(exc)}") from None

    def _opencv_detector(self, data: bytes, where: str):
        import cv2

        try:
            # the score threshold is applied here too (it saves NMS work); top_k 5000 is YuNet's default
            return cv2.FaceDetectorYN.create("onnx", np.frombuffer(data, np.uint8), np.zeros(0, np.uint8),
                                             (self.input_size, self.input_size), float(self.min_confidence),
                                             float(self.nms_threshold), 5000)
        except cv2.error as exc:
            raise ModelLoadError(f"{where} is not a YuNet ONNX model OpenCV can load: {_reason(exc)}") from None

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """``(w, h)`` of the image YuNet sees for a photo of this size."""
        longest = int(self.input_size)
        if self.min_face_size is not None:
            longest = max(longest, math.ceil(max(height, width) * YUNET_MIN_FACE_PX / float(self.min_face_size)))
        s = working_scale(height, width, longest)
        return max(1, round(width * s)), max(1, round(height * s))

    takes_color_order = True

    def detect(self, image_rgb: np.ndarray, color_order: str = "RGB") -> Detections:
        """Faces in a ``(H, W, 3)`` uint8 photo (RGB, or BGR with ``color_order="BGR"``), best first, in photo pixels."""
        import cv2

        h, w = image_rgb.shape[:2]
        ww, wh = self.working_size(h, w)
        # bilinear: as many faces found as with area averaging on our multi-face photos, at a tenth of the cost
        small = image_rgb if (ww, wh) == (w, h) else cv2.resize(image_rgb, (ww, wh), interpolation=cv2.INTER_LINEAR)
        bgr = small if color_order == "BGR" else small[:, :, ::-1]  # YuNet was trained on BGR pixels
        found = self._detect_ort(bgr) if self._session is not None else self._detect_opencv(np.ascontiguousarray(bgr))
        return found.scaled(w / ww, h / wh).filtered(self.min_confidence, self.max_faces)

    def _detect_ort(self, bgr: np.ndarray) -> Detections:
        h, w = bgr.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), np.float32)  # padded at the bottom and right, as OpenCV does
        blob[0, :, :h, :w] = bgr.transpose(2, 0, 1)
        outs = dict(zip((o.name for o in self._session.get_outputs()), self._session.run(None, {"input": blob})))
        return decode_yunet(outs, ph, pw, float(self.min_confidence), float(self.nms_threshold))

    def _detect_opencv(self, bgr: np.ndarray) -> Detections:
        import cv2

        size = (bgr.shape[1], bgr.shape[0])
        if self._size != size:
            self._det.setInputSize(size)
            self._size = size
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
        return Detections(boxes, f[:, 14], f[:, 4:14].reshape(-1, 5, 2))


def _reason(exc: Exception) -> str:
    """The last line of a backend's error message (the one that says what went wrong)."""
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__


def decode_yunet(outputs: dict[str, np.ndarray], height: int, width: int, min_score: float, nms_threshold: float,
                 top_k: int = 5000) -> Detections:
    """YuNet's raw outputs (``cls_8`` ... ``kps_32``) for a ``height x width`` padded input -> faces, best first.

    Per stride ``s`` and cell ``(r, c)``: score ``sqrt(clip(cls) * clip(obj))``, box centre
    ``((c, r) + d_xy) * s``, size ``exp(d_wh) * s``, keypoints ``((c, r) + k) * s``; then greedy NMS.
    """
    boxes, scores, kps = [], [], []
    for s in YUNET_STRIDES:
        cols = width // s
        score = np.sqrt(np.clip(outputs[f"cls_{s}"].reshape(-1), 0, 1) * np.clip(outputs[f"obj_{s}"].reshape(-1), 0, 1))
        keep = np.flatnonzero(score >= min_score)
        if len(keep) == 0:
            continue
        cell = np.column_stack([keep % cols, keep // cols]).astype(np.float32)
        b = outputs[f"bbox_{s}"].reshape(-1, 4)[keep]
        centre = (cell + b[:, :2]) * s
        size = np.exp(b[:, 2:]) * s
        boxes.append(np.column_stack([centre - size / 2, centre + size / 2]))
        scores.append(score[keep])
        kps.append((outputs[f"kps_{s}"].reshape(-1, 5, 2)[keep] + cell[:, None, :]) * s)
    if not boxes:
        return Detections.empty(5)
    boxes_a, scores_a, kps_a = np.concatenate(boxes), np.concatenate(scores), np.concatenate(kps)
    order = np.argsort(-scores_a, kind="stable")[:top_k]
    keep = order[nms(boxes_a[order], scores_a[order], nms_threshold)]
    return Detections(boxes_a[keep], scores_a[keep], kps_a[keep])

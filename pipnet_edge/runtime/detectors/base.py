"""What every face detector shares: the typed result, the protocol, box maths and NMS.

A detector takes a ``(H, W, 3)`` uint8 RGB photo and returns :class:`Detections`, best first,
in the photo's pixels (0-based, pixel centres at integers). Its ``crop_rule`` maps its boxes
onto the crops the landmark model was trained on (calibrated on the 300W training faces).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ...errors import InputError, ModelLoadError
from ...spec import CropRule

__all__ = [
    "Detections",
    "FaceDetector",
    "as_detections",
    "box_iou",
    "check_detector_options",
    "read_detector_model",
    "nms",
    "weighted_nms",
    "working_scale",
]


@dataclass(frozen=True)
class Detections:
    """Faces found in one photo, best score first.

    Attributes:
        boxes: ``(K, 4)`` float32 ``[x0, y0, x1, y1]`` in photo pixels.
        scores: ``(K,)`` float32 detector confidence in ``[0, 1]``.
        keypoints: ``(K, P, 2)`` float32 photo pixels, or ``None`` when the detector gives none.
            The first two are the eye centres, the one on the image's left first (the subject's
            right eye); what follows depends on the detector (YuNet: nose tip, mouth corners;
            BlazeFace: nose tip, mouth centre, ear tragions).
    """

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray | None = None

    def __post_init__(self) -> None:
        b = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        s = np.asarray(self.scores, np.float32).reshape(-1)
        if len(s) != len(b):
            raise InputError(f"detections: {len(b)} boxes but {len(s)} scores")
        object.__setattr__(self, "boxes", b)
        object.__setattr__(self, "scores", s)
        if self.keypoints is not None:
            k = np.asarray(self.keypoints, np.float32)
            if k.ndim != 3 or k.shape[0] != len(b) or k.shape[2] != 2:
                raise InputError(f"detections: keypoints must be ({len(b)}, P, 2), got {k.shape}")
            object.__setattr__(self, "keypoints", k)

    @classmethod
    def empty(cls, num_keypoints: int | None = None) -> "Detections":
        kp = None if num_keypoints is None else np.zeros((0, num_keypoints, 2), np.float32)
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), kp)

    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, index) -> "Detections":
        """The detections at ``index`` (an int array, a boolean mask or a slice), in that order."""
        kp = None if self.keypoints is None else self.keypoints[index]
        return Detections(self.boxes[index], self.scores[index], kp)

    def sorted(self) -> "Detections":
        """Best score first (stable)."""
        return self.select(np.argsort(-self.scores, kind="stable"))

    def scaled(self, sx: float, sy: float | None = None) -> "Detections":
        """x coordinates multiplied by ``sx``, y by ``sy`` (default ``sx``): a working image back to the photo."""
        f = np.array([sx, sx if sy is None else sy], np.float32)
        kp = None if self.keypoints is None else self.keypoints * f
        return Detections(self.boxes * np.tile(f, 2), self.scores, kp)

    def filtered(self, min_score: float = 0.0, max_faces: int | None = None, min_size: float = 0.0) -> "Detections":
        """Scores at least ``min_score``, boxes at least ``min_size`` px on their longer side, best ``max_faces``."""
        side = np.maximum(self.boxes[:, 2] - self.boxes[:, 0], self.boxes[:, 3] - self.boxes[:, 1])
        keep = np.flatnonzero((self.scores >= min_score) & (side >= min_size))
        keep = keep[np.argsort(-self.scores[keep], kind="stable")]
        if max_faces is not None:
            keep = keep[:max_faces]
        return self.select(keep)

    def as_array(self) -> np.ndarray:
        """``(K, 5)`` ``[x0, y0, x1, y1, score]`` (the plain-array form custom detectors may return)."""
        return np.column_stack([self.boxes, self.scores]).astype(np.float32)


@runtime_checkable
class FaceDetector(Protocol):
    """Anything with a ``detect`` method and a calibrated ``crop_rule`` plugs into the Landmarker.

    ``detect`` takes an RGB photo and may return :class:`Detections` or a plain ``(K, 5)`` array
    ``[x0, y0, x1, y1, score]``. A detector that also takes ``detect(image, color_order="BGR")``
    says so with ``takes_color_order = True``: the Landmarker then hands it BGR photos as they are,
    without converting the whole photo (the bundled detectors do).
    """

    crop_rule: CropRule

    def detect(self, image_rgb: np.ndarray) -> "Detections | np.ndarray":
        ...


def as_detections(found) -> Detections:
    """A detector's output as :class:`Detections` (accepts ``Detections`` or a ``(K, 4|5)`` array)."""
    if isinstance(found, Detections):
        return found
    a = np.asarray(found, np.float32)
    if a.size == 0:
        return Detections.empty()
    if a.ndim != 2 or a.shape[1] not in (4, 5):
        raise InputError(f"a face detector must return Detections or a (K, 5) array [x0, y0, x1, y1, score], got shape {a.shape}")
    scores = a[:, 4] if a.shape[1] == 5 else np.ones(len(a), np.float32)
    return Detections(a[:, :4], scores)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of ``(K, 4)`` and ``(M, 4)`` boxes."""
    a, b = np.asarray(a, np.float64)[:, None, :4], np.asarray(b, np.float64)[None, :, :4]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while len(order):
        i = order[0]
        keep.append(i)
        if len(order) == 1:
            break
        iou = box_iou(boxes[i : i + 1], boxes[order[1:]])[0]
        order = order[1:][iou <= iou_threshold]
    return np.asarray(keep, np.int64)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray | None, iou_threshold: float
) -> Detections:
    """MediaPipe's ``WEIGHTED`` non-maximum suppression: each cluster of boxes overlapping the
    best remaining one by more than ``iou_threshold`` is replaced by their score-weighted mean
    (boxes and keypoints), keeping the best score."""
    order = np.argsort(-np.asarray(scores), kind="stable")
    out_b, out_s, out_k = [], [], []
    while len(order):
        iou = box_iou(boxes[order[:1]], boxes[order])[0]
        members = order[iou > iou_threshold]
        if len(members) == 0:  # a degenerate box overlaps nothing, not even itself
            members = order[:1]
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_s.append(scores[order[0]])
        if keypoints is not None:
            out_k.append((keypoints[members] * w[:, :, None]).sum(0) / w.sum())
        order = order[~np.isin(order, members)]
    if not out_b:
        return Detections.empty(None if keypoints is None else keypoints.shape[1])
    kp = np.stack(out_k) if keypoints is not None else None
    return Detections(np.stack(out_b), np.asarray(out_s), kp)


def working_scale(height: int, width: int, longest_side: int | None) -> float:
    """Factor that brings a photo's longer side to ``longest_side`` (never enlarges; ``None``: 1)."""
    if longest_side is None:
        return 1.0
    return min(1.0, float(longest_side) / max(height, width))


def _is_whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_fraction(name: str, value: object) -> None:
    """``InputError`` unless ``value`` is a number in [0, 1]."""
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be a number in [0, 1], got {value!r}")


def check_detector_options(min_confidence: object, max_faces: object, num_threads: object) -> None:
    """The options every bundled detector takes: a score in [0, 1], ``None`` or a positive face count,
    ``None`` or a positive thread count.

    Raises:
        InputError: naming the option and the value.
    """
    check_fraction("min_confidence", min_confidence)
    if max_faces is not None and (not _is_whole(max_faces) or max_faces < 1):
        raise InputError(f"max_faces must be a whole number of at least 1 (or None for all), got {max_faces!r}")
    if num_threads is not None and (not _is_whole(num_threads) or num_threads < 1):
        raise InputError(f"num_threads must be a whole number of at least 1, got {num_threads!r}")


def read_detector_model(kind: str, model_path: str | Path | None, model_bytes: bytes | None, default: Path) -> tuple[bytes, str]:
    """A detector model's contents, from ``model_bytes``, ``model_path`` or the bundled ``default`` file,
    and how to name it in messages.

    Raises:
        ModelLoadError: the file is missing or empty.
    """
    if model_bytes is not None:
        data, where = bytes(model_bytes), f"the {kind} model bytes"
    else:
        path = Path(model_path) if model_path is not None else default
        if not path.is_file():
            hint = "" if model_path is not None else " (reinstall pipnet-edge)"
            raise ModelLoadError(f"{kind} model {path} does not exist{hint}")
        data, where = path.read_bytes(), f"{kind} model {path}"
    if len(data) == 0:
        raise ModelLoadError(f"{where} is empty")
    return data, where

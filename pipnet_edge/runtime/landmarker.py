"""``Landmarker``: face landmarks from a photo or a video stream, over any exported artifact.

Three lines to landmarks::

    import cv2
    from pipnet_edge.runtime import Landmarker
    faces = Landmarker().detect(cv2.imread("photo.jpg"), color_order="BGR")

The model file carries its own ModelSpec (landmarks, input size, neighbours, crop rule), so
nothing else is needed. Backends are imported only when a model of their format is opened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ModelLoadError
from . import geometry
from .backends import open_backend
from .decode import DecodeTables, decode_nhwc
from .metadata import ArtifactInfo, read_artifact_info
from .preprocess import as_rgb, check_boxes, crop_faces
from .results import FaceLandmarks, LandmarkerResult
from .smoothing import OneEuroFilter

__all__ = ["Landmarker", "LandmarkerOptions"]

log = logging.getLogger("pipnet_edge.runtime")


@dataclass
class LandmarkerOptions:
    """Options of a :class:`Landmarker` (see its docstring for each field)."""

    model: str | Path | None = None
    backend: str = "auto"
    num_threads: int | None = None
    delegate: Any = None
    device: str | None = None
    detector: Any = "default"
    color_order: str = "RGB"
    max_faces: int = 8
    use_nrm: bool = True
    track_min_score: float = 0.25
    smoothing: bool = True
    backend_options: dict | None = None


class Landmarker:
    """Facial landmarks with a PIPNet artifact.

    Args:
        model: an exported ``.tflite`` / ``.onnx`` / ``.xml`` file, or a bundled model name:
            ``"default"`` (MobileNetV2, 256 px, the accurate one) or ``"lite"`` (112 px, the
            fast one); ``None`` loads the bundled default (full-INT8 TFLite).
        backend: ``"auto"`` (by file type), ``"tflite"``, ``"onnxruntime"`` or ``"openvino"``.
        num_threads: CPU threads for the backend (``None``: backend default; TFLite uses 1).
        delegate: TFLite external delegate, a ``.so`` path (e.g. an NPU vendor's) or a loaded delegate.
        device: OpenVINO device (``"CPU"``, ``"GPU"``, ``"NPU"``) or onnxruntime providers list.
        detector: face detector used when ``detect`` gets no boxes: ``"default"`` (OpenCV Haar
            cascade), ``None`` (boxes required), or any object with ``detect`` and ``crop_rule``.
        color_order: channel order of the images you pass (``"RGB"``, or ``"BGR"`` as ``cv2.imread`` gives).
        max_faces: most faces per image (largest detector scores first).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        backend: str = "auto",
        num_threads: int | None = None,
        delegate: Any = None,
        device: str | None = None,
        detector: Any = "default",
        color_order: str = "RGB",
        max_faces: int = 8,
        use_nrm: bool = True,
        track_min_score: float = 0.25,
        smoothing: bool = True,
        backend_options: dict | None = None,
    ) -> None:
        self.options = LandmarkerOptions(
            model, backend, num_threads, delegate, device, detector, color_order, max_faces, use_nrm,
            track_min_score, smoothing, backend_options,
        )
        self.path = self._resolve(model)
        self.info: ArtifactInfo = read_artifact_info(self.path)
        self.spec = self.info.spec
        opts = dict(backend_options or {})
        if device is not None:
            if isinstance(device, (list, tuple)):
                opts["providers"] = list(device)
            else:
                opts["device"] = device
        self.backend = open_backend(self.path, self.info, backend, num_threads=num_threads, delegate=delegate, **opts)
        self.tables = DecodeTables.from_spec(self.spec)
        self._detector_arg = detector
        self._detector = None
        self._track: dict | None = None
        log.info("loaded %s: %s %d points, %s", self.path.name, self.spec.backbone, self.spec.num_points, self.backend.describe())

    @classmethod
    def create_from_options(cls, options: LandmarkerOptions) -> "Landmarker":
        return cls(
            options.model, backend=options.backend, num_threads=options.num_threads, delegate=options.delegate,
            device=options.device, detector=options.detector, color_order=options.color_order,
            max_faces=options.max_faces, use_nrm=options.use_nrm, track_min_score=options.track_min_score,
            smoothing=options.smoothing, backend_options=options.backend_options,
        )

    @staticmethod
    def _resolve(model) -> Path:
        from ..assets import BUNDLED_MODELS, bundled_model_path

        if model is None:
            return bundled_model_path("default")
        if isinstance(model, str) and model in BUNDLED_MODELS:
            if model.endswith(("-float", "-qat")):
                runtime_name = model.rsplit("-", 1)[0]
                raise ModelLoadError(f"bundled {model!r} holds torch weights for export; the runtime loads {runtime_name!r}")
            return bundled_model_path(model)
        path = Path(model)
        if not path.exists():
            raise ModelLoadError(f"model file {path} does not exist (bundled models: {', '.join(BUNDLED_MODELS)})")
        return path

    # ------------------------------------------------------------------ detector
    @property
    def detector(self):
        if self._detector is None and self._detector_arg is not None:
            if self._detector_arg == "default":
                from .detectors import HaarFaceDetector

                self._detector = HaarFaceDetector()
            elif isinstance(self._detector_arg, str):
                raise InputError(f"unknown detector {self._detector_arg!r}; pass 'default', None or a detector object")
            else:
                self._detector = self._detector_arg
        return self._detector

    # ------------------------------------------------------------------ core
    def infer_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on ``(B, S, S, 3)`` RGB crops; returns normalised points ``(B, N, 2)`` and peak scores."""
        s = self.spec.input_size
        if crops.ndim != 4 or crops.shape[1:] != (s, s, 3):
            raise InputError(f"crops must have shape (B, {s}, {s}, 3), got {crops.shape}")
        return decode_nhwc(self.backend.run(crops), self.tables, use_nrm=self.options.use_nrm)

    def _landmarks_for_boxes(self, rgb: np.ndarray, boxes: np.ndarray, rule) -> list[FaceLandmarks]:
        crops, mats = crop_faces(rgb, boxes, rule, self.spec.input_size)
        pts, scores = self.infer_crops(crops)
        px = geometry.from_normalized(pts, self.spec.input_size)
        faces = []
        for k in range(len(boxes)):
            img_pts = geometry.apply(geometry.invert(mats[k]), px[k]).astype(np.float32)
            faces.append(FaceLandmarks(img_pts, boxes[k, :4].astype(np.float32), float(scores[k].mean()), scores[k].astype(np.float32)))
        return faces

    def detect(self, image: np.ndarray, boxes=None, *, color_order: str | None = None) -> LandmarkerResult:
        """Landmarks of every face in a photo.

        Args:
            image: ``(H, W, 3)`` uint8 (or grayscale ``(H, W)``, or 4-channel with alpha).
            boxes: optional ``(K, 4)`` face boxes ``[x0, y0, x1, y1]`` in pixels. They are
                cropped with the model's own crop rule (300W protocol: ground-truth landmark
                boxes). Without boxes the face detector runs and its calibrated rule applies.
            color_order: ``"RGB"`` or ``"BGR"``; defaults to the Landmarker's option.

        Returns:
            a :class:`LandmarkerResult`; empty when no face is found.
        """
        rgb = as_rgb(image, color_order or self.options.color_order)
        h, w = rgb.shape[:2]
        if boxes is not None:
            b = check_boxes(boxes, w, h)
            if len(b) == 0:
                return LandmarkerResult([])
            return LandmarkerResult(self._landmarks_for_boxes(rgb, b, self.spec.crop))
        det = self.detector
        if det is None:
            raise InputError("no boxes given and the Landmarker has no face detector (detector=None)")
        found = np.asarray(det.detect(rgb), np.float64)
        if len(found) == 0:
            return LandmarkerResult([])
        found = found[: self.options.max_faces]
        return LandmarkerResult(self._landmarks_for_boxes(rgb, found[:, :4], det.crop_rule))

    def detect_for_video(self, frame: np.ndarray, timestamp_ms: int, *, color_order: str | None = None) -> LandmarkerResult:
        """Landmarks of one face in a video stream, tracked from frame to frame.

        The crop of each frame comes from the previous frame's landmarks (as the 300W protocol
        crops ground-truth landmark boxes); the detector runs only on the first frame and when
        tracking is lost (mean heatmap peak below ``track_min_score``). Points are smoothed
        with a One Euro filter, scaled by face size, so they are steady at rest and follow
        fast motion. ``timestamp_ms`` must increase.
        """
        rgb = as_rgb(frame, color_order or self.options.color_order)
        h, w = rgb.shape[:2]
        t = self._track
        if t is not None and timestamp_ms <= t["ts"]:
            raise InputError(f"timestamp_ms must increase: got {timestamp_ms} after {t['ts']}")
        faces: list[FaceLandmarks] = []
        if t is not None:
            box = geometry.box_from_points(t["raw"])
            try:
                box = check_boxes(box, w, h)
                faces = self._landmarks_for_boxes(rgb, box, self.spec.crop)
            except InputError:
                faces = []
            if faces and faces[0].score < self.options.track_min_score:
                faces = []
        if not faces:
            det = self.detect(rgb, color_order="RGB")
            faces = det.faces[:1]
            if t is not None:
                t["filter"].reset()
        if not faces:
            self._track = None
            return LandmarkerResult([], timestamp_ms)
        face = faces[0]
        filt = t["filter"] if t is not None else OneEuroFilter()
        raw = face.points
        pts = raw
        if self.options.smoothing:
            size = float(np.ptp(raw, axis=0).max())
            pts = filt(raw, timestamp_ms / 1000.0, scale=size).astype(np.float32)
        self._track = {"raw": raw, "ts": timestamp_ms, "filter": filt}
        return LandmarkerResult([FaceLandmarks(pts, face.box, face.score, face.point_scores)], timestamp_ms)

    def reset_tracking(self) -> None:
        self._track = None

    def __repr__(self) -> str:
        return f"Landmarker({self.path.name!r}, {self.backend.describe()}, {self.spec.num_points} points)"

"""``Landmarker``: face landmarks from a photo, a video or a live stream, over any exported artifact.

Three lines to landmarks::

    import cv2
    from pipnet_edge.runtime import Landmarker
    faces = Landmarker().detect(cv2.imread("photo.jpg"), color_order="BGR")

The model file carries its own ModelSpec (landmarks, input size, neighbours, crop rule), so
nothing else is needed. Backends are imported only when a model of their format is opened; the
face detector in front (YuNet by default) is loaded on first use.

Running modes follow MediaPipe Tasks: ``"image"`` (:meth:`Landmarker.detect`), ``"video"``
(:meth:`Landmarker.detect_for_video`, faces tracked from frame to frame) and ``"live_stream"``
(:meth:`Landmarker.detect_async`, results delivered to a callback, frames dropped while busy).

Thread safety: a Landmarker serialises its own calls with a lock, so sharing one between threads
is safe but runs one call at a time; for parallel work create one Landmarker per thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError, ModelLoadError
from . import geometry
from .backends import Backend, open_backend
from .decode import DecodeTables, Decoded, decode_heads
from .detectors import DEFAULT_DETECTOR, Detections, as_detections, box_iou, check_detector, create_detector
from .artifact import ArtifactInfo, ModelContent, as_model_content, is_model_content, read_artifact_info
from .preprocess import as_image, box_regions, check_boxes, crop_regions, roll_angles
from .results import FaceLandmarks, LandmarkerResult
from .smoothing import OneEuroFilter

__all__ = ["Landmarker", "LandmarkerOptions", "RUNNING_MODES", "Decoded"]

log = logging.getLogger("pipnet_edge.runtime")

RUNNING_MODES = ("image", "video", "live_stream")


@dataclass(frozen=True)
class LandmarkerOptions:
    """Everything a :class:`Landmarker` can be told; the single source of its defaults.

    Attributes:
        model: an exported ``.tflite`` / ``.onnx`` / ``.xml`` file, or a bundled model name:
            ``"default"`` (MobileNetV2, 256 px, the accurate one) or ``"lite"`` (112 px, the fast
            one); ``None`` loads the bundled default (full-INT8 TFLite). Or the model held in
            memory (an Android asset, a zip member, a decrypted bundle): a ``.tflite`` or ``.onnx``
            file's ``bytes`` / ``bytearray`` / ``memoryview``, its format recognised from the
            content, or OpenVINO IR as ``(xml_bytes, bin_bytes)``; :attr:`Landmarker.path` is then a
            placeholder such as ``<bytes 4821944 B, tflite>``.
        backend: ``"auto"`` (by file type), ``"tflite"``, ``"onnxruntime"``, ``"openvino"``, or ``"opencv"``
            (OpenCV's DNN for ``.onnx``, float or INT8: nothing else installed, but slower than onnxruntime).
        num_threads: CPU threads for the model and the detector (``None``: backend default; TFLite uses 1).
        delegate: TFLite external delegate, a ``.so`` path (e.g. an NPU vendor's) or a loaded delegate.
        device: OpenVINO device (``"CPU"``, ``"GPU"``, ``"NPU"``) or onnxruntime providers list.
        backend_options: extra keyword options for the backend.
        detector: the face detector used when no boxes are given: ``"yunet"`` (the default),
            ``"blazeface-short"``, ``"blazeface-full"``, ``"haar"``, ``None`` (boxes required), or
            any object with ``detect(image_rgb)`` and ``crop_rule``.
        min_detection_confidence: drop detector boxes scored below this (``None``: the detector's default).
        min_face_size: smallest face to find, in photo pixels (YuNet, Haar). ``None``: faces from
            about 8 % of the photo's longer side; smaller values cost time on large photos.
        max_faces: most faces per image (best detector scores first) and most tracks in video.
        align_faces: turn tilted faces upright before the model, using the detector's eye keypoints.
        refine: photos: run the model a second time on the crop its own first landmarks give (the
            300W protocol's crop), which removes most of the detector box's error, for one more
            model run per face.
        color_order: channel order of the images you pass (``"RGB"``, or ``"BGR"`` as ``cv2.imread`` gives).
        running_mode: ``"image"``, ``"video"`` or ``"live_stream"`` (which ``detect*`` method is allowed).
        redetect_interval: in video, run the detector every this many frames (and whenever a track
            is lost) so faces that walk in are picked up.
        track_min_score: in video, a track whose mean heatmap peak falls below this is dropped.
        smoothing: One Euro smoothing of each track's points in video.
        use_nrm: merge the neighbour (NRM) predictions into each point (PIPNet's decode).
        result_callback: ``callback(result, image, timestamp_ms)`` for ``"live_stream"`` (the frame as
            passed, 3 channels, in ``color_order``).
    """

    model: str | Path | bytes | bytearray | memoryview | tuple[bytes, bytes] | None = None
    backend: str = "auto"
    num_threads: int | None = None
    delegate: Any = None
    device: str | list | None = None
    backend_options: dict | None = None
    detector: Any = DEFAULT_DETECTOR
    min_detection_confidence: float | None = None
    min_face_size: float | None = None
    max_faces: int = 8
    align_faces: bool = True
    refine: bool = False
    color_order: str = "RGB"
    running_mode: str = "image"
    redetect_interval: int = 10
    track_min_score: float = 0.25
    smoothing: bool = True
    use_nrm: bool = True
    result_callback: Callable | None = None

    def __post_init__(self) -> None:
        if self.running_mode not in RUNNING_MODES:
            raise InputError(f"running_mode must be one of {', '.join(RUNNING_MODES)}, got {self.running_mode!r}")
        if self.color_order not in ("RGB", "BGR"):
            raise InputError(f"color_order must be 'RGB' or 'BGR', got {self.color_order!r}")
        if not isinstance(self.max_faces, int) or self.max_faces < 1:
            raise InputError(f"max_faces must be a positive integer, got {self.max_faces!r}")
        if not isinstance(self.redetect_interval, int) or self.redetect_interval < 1:
            raise InputError(f"redetect_interval must be a positive integer (frames), got {self.redetect_interval!r}")
        if self.min_detection_confidence is not None and not 0.0 <= self.min_detection_confidence <= 1.0:
            raise InputError(f"min_detection_confidence must lie in [0, 1], got {self.min_detection_confidence}")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise InputError(f"num_threads must be a positive integer or None, got {self.num_threads!r}")
        if self.running_mode == "live_stream" and self.result_callback is None:
            raise InputError("running_mode 'live_stream' needs a result_callback(result, image, timestamp_ms)")
        if self.running_mode != "live_stream" and self.result_callback is not None:
            raise InputError("result_callback is only used in running_mode 'live_stream'")


def _add_ms(timing: dict[str, float], key: str, t0: float, t1: float) -> None:
    timing[key] = timing.get(key, 0.0) + (t1 - t0) * 1000.0


def _check_timestamp(timestamp_ms, last: int | None) -> int:
    """A video / stream timestamp as an int; ``InputError`` unless it is an integer above ``last``."""
    if not isinstance(timestamp_ms, (int, np.integer)) or isinstance(timestamp_ms, bool):
        raise InputError(f"timestamp_ms must be an integer (milliseconds), got {type(timestamp_ms).__name__}")
    if last is not None and timestamp_ms <= last:
        raise InputError(f"timestamp_ms must increase: got {timestamp_ms} after {last}")
    return int(timestamp_ms)


@dataclass
class _Track:
    """One face followed through a video."""

    track_id: int
    raw: np.ndarray  # unsmoothed points of the last frame (image pixels)
    filter: OneEuroFilter


class Landmarker:
    """Facial landmarks with a PIPNet artifact, behind a bundled face detector.

    ``Landmarker(model, **overrides)`` or ``Landmarker(options=LandmarkerOptions(...))``; each
    keyword is a :class:`LandmarkerOptions` field. Use it as a context manager, or call
    :meth:`close`, to release the model, the detector and the live-stream worker.

    Raises:
        ModelLoadError: the model file (or model bytes) is missing, empty, corrupt, of no artifact format, or
            lacks pipnet-edge metadata; its backend is not installed or does not run its format.
        InputError: an unknown option, an option value out of range, or a ``model`` of the wrong type.
    """

    def __init__(self, model: str | Path | bytes | bytearray | memoryview | tuple[bytes, bytes] | None = None, *,
                 options: LandmarkerOptions | None = None, **overrides: Any) -> None:
        self.options: LandmarkerOptions = self._merge_options(options, model, overrides)
        o = self.options
        self._check_detector_option()
        model = self._resolve(o.model)  # a path, or the model's bytes
        info: ArtifactInfo = read_artifact_info(model)
        backend_opts = dict(o.backend_options or {})
        if o.device is not None:
            if isinstance(o.device, (list, tuple)):
                backend_opts["providers"] = list(o.device)
            else:
                backend_opts["device"] = o.device
        backend = open_backend(model, info, o.backend, num_threads=o.num_threads, delegate=o.delegate, **backend_opts)
        self._start(backend)

    @classmethod
    def from_backend(cls, backend: Backend, *, options: LandmarkerOptions | None = None, **overrides: Any) -> "Landmarker":
        """A Landmarker over an already opened :class:`~pipnet_edge.runtime.backends.Backend` (any object with
        ``run(images) -> heads``, ``path``, ``info`` and ``describe()``), e.g. evaluation's torch backend for
        checkpoints; ``model``, ``backend``, ``device``, ``delegate`` and ``backend_options`` are then unused.

        Raises:
            InputError: an unknown option or an option value out of range.
        """
        self = cls.__new__(cls)
        self.options = cls._merge_options(options, None, overrides)
        self._check_detector_option()
        self._start(backend)
        return self

    @staticmethod
    def _merge_options(options: LandmarkerOptions | None, model, overrides: dict[str, Any]) -> LandmarkerOptions:
        fields = {f.name for f in dataclasses.fields(LandmarkerOptions)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise InputError(f"unknown Landmarker option(s) {', '.join(unknown)}; options are {', '.join(sorted(fields))}")
        if model is not None:
            overrides["model"] = model
        return dataclasses.replace(options or LandmarkerOptions(), **overrides)

    def _start(self, backend: Backend) -> None:
        self.backend = backend
        self.path: Path = Path(backend.path)
        self.info: ArtifactInfo = backend.info
        self.spec = self.info.spec
        self.tables = DecodeTables.from_spec(self.spec)
        self._detector = None
        self._lock = threading.RLock()
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_ts: int | None = None
        self._since_detect = 0
        self._redetect = True
        self._detector_calls = 0
        self._frames = 0
        self._worker: _StreamWorker | None = None
        self._closed = False
        log.info("loaded %s: %s %d points, %s", self.path.name, self.spec.backbone, self.spec.num_points, backend.describe())

    @property
    def name(self) -> str:
        """``"file [backend]"``: how reports name this model."""
        return f"{self.path.name} [{getattr(self.backend, 'name', '?')}]" if self.backend is not None else f"{self.path.name} [closed]"

    @classmethod
    def create_from_options(cls, options: LandmarkerOptions) -> "Landmarker":
        """A Landmarker from a complete :class:`LandmarkerOptions` (MediaPipe Tasks style).

        Raises:
            ModelLoadError, InputError: as the constructor.
        """
        return cls(options=options)

    @staticmethod
    def _resolve(model) -> Path | ModelContent:
        """The model option as a file path, or as in-memory content (``bytes``, or OpenVINO's ``(xml, bin)``)."""
        import os

        from ..assets import BUNDLED_MODELS, bundled_model_path

        if is_model_content(model) or isinstance(model, tuple):
            return as_model_content(model)
        if model is not None and not isinstance(model, (str, os.PathLike)):
            raise InputError(
                f"model must be a path, a bundled model name, the model's bytes or None; got {type(model).__name__}"
            )
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

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Stop the live-stream worker and release the model and the detector. Idempotent."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        with self._lock:
            self._closed = True
            if self.backend is not None:
                self.backend.close()
            self.backend = None
            self._detector = None
            self._tracks = []

    def __enter__(self) -> "Landmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise InputError("this Landmarker is closed; create a new one")

    def _check_mode(self, method: str, mode: str) -> None:
        if self.options.running_mode != mode:
            raise InputError(
                f"{method}() is for running_mode {mode!r}, but this Landmarker was created with running_mode "
                f"{self.options.running_mode!r}; create it with running_mode={mode!r}"
            )

    # ------------------------------------------------------------------ detector
    def _detector_options(self) -> dict[str, Any]:
        o = self.options
        return {"min_confidence": o.min_detection_confidence, "min_face_size": o.min_face_size,
                "num_threads": o.num_threads if o.detector != "haar" else None}

    def _check_detector_option(self) -> None:
        """Reject an unknown detector, or options it cannot honour, when the Landmarker is made (it loads later)."""
        det = self.options.detector
        if det is None:
            return
        if isinstance(det, str):
            check_detector(det, **self._detector_options())
        elif not callable(getattr(det, "detect", None)) or not hasattr(det, "crop_rule"):
            raise InputError("detector must be a bundled name, None, or an object with detect(image_rgb) and crop_rule")

    @property
    def detector(self):
        """The face detector (created on first use), or ``None`` when boxes are required."""
        o = self.options
        if self._detector is None and o.detector is not None:
            bundled = isinstance(o.detector, str)
            self._detector = create_detector(o.detector, **self._detector_options()) if bundled else o.detector
        return self._detector

    def _detect_faces(self, image: np.ndarray, order: str) -> Detections:
        det = self.detector
        if det is None:
            raise InputError("no boxes given and the Landmarker has no face detector (detector=None)")
        self._detector_calls += 1
        if getattr(det, "takes_color_order", False):
            raw = det.detect(image, color_order=order)
        else:
            import cv2

            raw = det.detect(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if order == "BGR" else image)
        # bundled detectors apply min_detection_confidence themselves; a plugged-in one is filtered here
        min_score = self.options.min_detection_confidence
        if min_score is None or isinstance(self.options.detector, str):
            min_score = 0.0
        return as_detections(raw).filtered(min_score, self.options.max_faces)

    def _detection_regions(self, found: Detections) -> np.ndarray:
        rule = self.detector.crop_rule
        rolls = None
        if self.options.align_faces and found.keypoints is not None and found.keypoints.shape[1] >= 2:
            rolls = roll_angles(found.keypoints[:, 0], found.keypoints[:, 1])
        return box_regions(found.boxes, rule, rolls)

    # ------------------------------------------------------------------ core
    def predict_crops(self, crops: np.ndarray, *, timing: dict[str, float] | None = None, with_spread: bool = False) -> Decoded:
        """Run the model and the decode on ``(B, S, S, 3)`` RGB crops: the one path from crops to points.

        :meth:`detect` and the video modes call it after cropping; evaluation, parity reports, export
        summaries and the benchmarks call it on their own crops.

        Args:
            crops: ``(B, S, S, 3)`` RGB pixels (uint8, or float in [0, 255]), ``S`` the model's input size.
            timing: if given, ``"model_ms"`` and ``"decode_ms"`` are added to it (milliseconds).
            with_spread: also return the NRM spread of every point (:attr:`Decoded.spread`).

        Returns:
            :class:`~pipnet_edge.runtime.decode.Decoded`: normalised crop points ``(B, N, 2)``, heatmap peaks,
            argmax cells and NRM spread.

        Raises:
            InputError: crops of the wrong shape; the Landmarker is closed (also by another thread's ``close()``
                while this call waits for the model: calls hold the Landmarker's lock, ``close()`` takes it too).
        """
        s = self.spec.input_size
        if not isinstance(crops, np.ndarray) or crops.ndim != 4 or crops.shape[1:] != (s, s, 3):
            raise InputError(f"crops must be a numpy array of shape (B, {s}, {s}, 3), got {getattr(crops, 'shape', type(crops))}")
        with self._lock:  # re-entrant: detect() and the video modes already hold it
            self._check_open()
            t0 = time.perf_counter()
            heads = self.backend.run(crops)
        t1 = time.perf_counter()
        out = decode_heads(heads, self.tables, use_nrm=self.options.use_nrm, with_spread=with_spread)
        if timing is not None:
            _add_ms(timing, "model_ms", t0, t1)
            _add_ms(timing, "decode_ms", t1, time.perf_counter())
        return out

    def _landmarks_for_regions(self, image: np.ndarray, order: str, regions: np.ndarray,
                               boxes: np.ndarray, timing: dict[str, float] | None = None) -> list[FaceLandmarks]:
        if len(regions) == 0:
            return []
        t0 = time.perf_counter()
        crops, mats = crop_regions(image, regions, self.spec.input_size, order)
        if timing is not None:
            _add_ms(timing, "crop_ms", t0, time.perf_counter())
        out = self.predict_crops(crops, timing=timing)
        t0 = time.perf_counter()
        px = geometry.from_normalized(out.points, self.spec.input_size)
        faces = []
        for k in range(len(regions)):
            img_pts = geometry.apply(geometry.invert(mats[k]), px[k]).astype(np.float32)
            faces.append(FaceLandmarks(img_pts, np.asarray(boxes[k, :4], np.float32), float(out.scores[k].mean()),
                                       out.scores[k].astype(np.float32)))
        if timing is not None:
            _add_ms(timing, "warp_ms", t0, time.perf_counter())
        return faces

    def detect(self, image: np.ndarray, boxes=None, *, color_order: str | None = None,
               timing: dict[str, float] | None = None) -> LandmarkerResult:
        """Landmarks of every face in a photo (running mode ``"image"``).

        Args:
            image: ``(H, W, 3)`` uint8 (or grayscale ``(H, W)``, or 4-channel with alpha).
            boxes: optional ``(K, 4)`` face boxes ``[x0, y0, x1, y1]`` in pixels. They are
                cropped with the model's own crop rule (300W protocol: ground-truth landmark
                boxes). Without boxes the face detector runs and its calibrated rule applies.
            color_order: ``"RGB"`` or ``"BGR"``; defaults to the Landmarker's option.
            timing: if given, milliseconds per stage are added to it: ``detect_ms`` (face detector),
                ``crop_ms``, ``model_ms``, ``decode_ms``, ``warp_ms`` (points back to the photo).

        Returns:
            a :class:`LandmarkerResult`; empty when no face is found.

        Raises:
            InputError: a bad image or box, no boxes and no detector, or the wrong running mode.
        """
        with self._lock:
            self._check_open()
            self._check_mode("detect", "image")
            order = color_order or self.options.color_order
            return LandmarkerResult(self._detect_image(as_image(image, order), order, boxes, timing))

    def _detect_image(self, image: np.ndarray, order: str, boxes=None, timing: dict[str, float] | None = None) -> list[FaceLandmarks]:
        h, w = image.shape[:2]
        if boxes is not None:
            b = check_boxes(boxes, w, h)
            return self._landmarks_for_regions(image, order, box_regions(b, self.spec.crop), b, timing)
        t0 = time.perf_counter()
        found = self._detect_faces(image, order)
        if timing is not None:
            _add_ms(timing, "detect_ms", t0, time.perf_counter())
        faces = self._landmarks_for_regions(image, order, self._detection_regions(found), found.boxes, timing)
        if self.options.refine and faces:
            regions = np.stack([self._points_region(f.points) for f in faces])
            refined = self._landmarks_for_regions(image, order, regions, found.boxes, timing)
            faces = [r if r.score >= f.score * 0.8 else f for f, r in zip(faces, refined)]
        return faces

    # ------------------------------------------------------------------ video
    def detect_for_video(self, frame: np.ndarray, timestamp_ms: int, *, color_order: str | None = None) -> LandmarkerResult:
        """Landmarks of up to ``max_faces`` faces in a video, each tracked with a stable ``track_id``.

        Each track's crop comes from its previous frame's landmarks (as the 300W protocol crops
        ground-truth landmark boxes). The detector runs on the first frame, every
        ``redetect_interval`` frames (new faces start new tracks) and on the frame after a track
        is lost (mean heatmap peak below ``track_min_score``: the face left or was occluded).
        Points are smoothed per track with a One Euro filter scaled by face size: steady at rest,
        little lag in fast motion.

        Raises:
            InputError: a bad frame, a timestamp that does not increase, or the wrong running mode.
        """
        with self._lock:
            self._check_open()
            self._check_mode("detect_for_video", "video")
            order = color_order or self.options.color_order
            return self._track_frame(as_image(frame, order), order, timestamp_ms)

    def _track_frame(self, image: np.ndarray, order: str, timestamp_ms: int) -> LandmarkerResult:
        self._last_ts = _check_timestamp(timestamp_ms, self._last_ts)
        self._frames += 1
        o = self.options
        tracks = list(self._tracks)
        regions = [self._points_region(t.raw) for t in tracks]
        boxes = [geometry.box_from_points(t.raw) for t in tracks]
        run_detector = self._redetect or not tracks or self._since_detect + 1 >= o.redetect_interval
        if run_detector:
            self._since_detect = 0
            self._redetect = False
            found = self._detect_faces(image, order)
            if len(found):
                det_regions = self._detection_regions(found)
                # a detection is a new face when it overlaps no tracked (or just added) face
                for k in range(len(found)):
                    if len(regions) >= o.max_faces:
                        break
                    if boxes and box_iou(found.boxes[k : k + 1], np.array(boxes)).max() > 0.2:
                        continue
                    regions.append(det_regions[k])
                    boxes.append(found.boxes[k])
        else:
            self._since_detect += 1
        h, w = image.shape[:2]
        faces = self._landmarks_for_regions(image, order, np.array(regions).reshape(-1, 4), np.array(boxes).reshape(-1, 4))
        # tracks first (existing ids), then new faces
        kept: list[_Track] = []
        out: list[FaceLandmarks] = []
        for i, face in enumerate(faces):
            inside = np.isfinite(face.points).all() and geometry.box_from_points(face.points)[[2, 3]].min() > 0 \
                and face.points[:, 0].min() < w and face.points[:, 1].min() < h
            if face.score < o.track_min_score or not inside:
                if i < len(tracks):
                    self._redetect = True  # lost: look for faces on the next frame
                continue
            if i < len(tracks):
                track = tracks[i]
            else:
                track = _Track(self._next_id, face.points, OneEuroFilter())
                self._next_id += 1
            # two tracks that converged on one face: the older one stays
            lm_box = geometry.box_from_points(face.points)
            if any(box_iou(lm_box[None], geometry.box_from_points(t.raw)[None])[0, 0] > 0.5 for t in kept):
                continue
            track.raw = face.points
            pts = face.points
            if o.smoothing:
                size = float(np.ptp(face.points, axis=0).max())
                pts = track.filter(face.points, timestamp_ms / 1000.0, scale=size).astype(np.float32)
            kept.append(track)
            out.append(FaceLandmarks(pts, lm_box.astype(np.float32), face.score, face.point_scores, track.track_id))
        self._tracks = kept
        return LandmarkerResult(out, int(timestamp_ms))

    def _points_roll(self, points: np.ndarray) -> float:
        """Roll of a face from its own landmarks (the scheme's normalising eye points; 0 when the
        scheme has none or alignment is off)."""
        scheme = self.spec.scheme
        if not self.options.align_faces or scheme.norm != "points" or scheme.norm_indices is None:
            return 0.0
        a, b = scheme.norm_indices
        return float(roll_angles(points[a][None], points[b][None])[0])

    def _points_region(self, pts: np.ndarray) -> np.ndarray:
        """The crop for a face whose landmarks are known (a track's last frame, or a first pass):
        their box under the model's own (300W) crop rule, measured and cut in the face's upright
        frame when it is rolled."""
        roll = self._points_roll(pts)
        if roll == 0.0:
            return box_regions(geometry.box_from_points(pts)[None], self.spec.crop)[0]
        centre = pts.mean(0)
        r = np.radians(roll)
        rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])  # screen -> upright face frame
        box = geometry.box_from_points((pts - centre) @ rot.T)
        region = box_regions(box[None], self.spec.crop)[0]  # in the upright frame
        region[:2] = centre + rot.T @ region[:2]  # back to screen coordinates
        region[3] = roll
        return region

    def reset_tracking(self) -> None:
        """Forget every track (e.g. at a scene cut); the next frame runs the detector."""
        with self._lock:
            self._tracks = []
            self._last_ts = None
            self._redetect = True

    @property
    def detector_calls(self) -> int:
        """How many times the face detector has run (video: compare with :attr:`frames`)."""
        return self._detector_calls

    @property
    def frames(self) -> int:
        """Video / live-stream frames processed."""
        return self._frames

    # ------------------------------------------------------------------ live stream
    def detect_async(self, frame: np.ndarray, timestamp_ms: int, *, color_order: str | None = None) -> bool:
        """Queue a live-stream frame; its result goes to ``result_callback`` from a worker thread.

        Returns ``True`` when the frame was taken, ``False`` when it was dropped because the
        previous frame is still being processed (a live stream never queues up latency).

        Raises:
            InputError: a bad frame, a timestamp that does not increase, or the wrong running mode.
        """
        self._check_open()
        self._check_mode("detect_async", "live_stream")
        order = color_order or self.options.color_order
        image = as_image(frame, order)
        _check_timestamp(timestamp_ms, None)
        if self._worker is None:
            self._worker = _StreamWorker(self)
        return self._worker.offer(image, order, int(timestamp_ms))

    def __repr__(self) -> str:
        backend = self.backend.describe() if self.backend is not None else "closed"
        return f"Landmarker({self.path.name!r}, {backend}, {self.spec.num_points} points)"


class _StreamWorker:
    """One background thread for ``detect_async``: holds at most one frame, drops frames while busy."""

    def __init__(self, landmarker: Landmarker) -> None:
        self.lm = landmarker
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, str, int] | None = None
        self._busy = False
        self._stopped = False
        self._last_ts: int | None = None
        self._thread = threading.Thread(target=self._run, name="pipnet-edge-live-stream", daemon=True)
        self._thread.start()

    def offer(self, image: np.ndarray, order: str, ts: int) -> bool:
        with self._cond:
            self._last_ts = _check_timestamp(ts, self._last_ts)  # also for frames that will be dropped
            if self._busy or self._pending is not None:
                return False
            self._pending = (image, order, ts)
            self._cond.notify()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                image, order, ts = self._pending
                self._pending = None
                self._busy = True
            try:
                with self.lm._lock:
                    result = self.lm._track_frame(image, order, ts)
                self.lm.options.result_callback(result, image, ts)
            except Exception:  # a failing callback must not kill the stream
                log.exception("live-stream frame %d failed", ts)
            finally:
                with self._cond:
                    self._busy = False

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

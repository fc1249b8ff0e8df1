"""``Landmarker``: face landmarks from a photo, a video or a live stream, over any exported artifact.

Three lines to landmarks::

    import cv2
    from pipnet_edge.runtime import Landmarker
    faces = Landmarker().detect(cv2.imread("photo.jpg"), color_order="BGR")

The model file carries its own ModelSpec (landmarks, input size, neighbours, crop rule), so
nothing else is needed. Backends are imported only when a model of their format is opened; the
face detector in front (YuNet by default) is loaded on first use.

Running modes follow MediaPipe Tasks (:class:`~pipnet_edge.runtime.options.RunningMode`): ``"image"``
(:meth:`Landmarker.detect`), ``"video"`` (:meth:`Landmarker.detect_for_video`, faces tracked from frame to frame by
:class:`~pipnet_edge.runtime.tracking.FaceTracker`) and ``"live_stream"`` (:meth:`Landmarker.detect_async`, results
delivered to a callback by :class:`~pipnet_edge.runtime.live_stream.LiveStreamWorker`, frames dropped while busy).
Options: :class:`~pipnet_edge.runtime.options.LandmarkerOptions`.

Thread safety: a Landmarker serialises its own calls with a lock, so sharing one between threads
is safe but runs one call at a time; for parallel work create one Landmarker per thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from . import geometry
from .backends import Backend, open_backend
from .decode import DecodeTables, Decoded, decode_heads
from .artifact import ArtifactInfo, read_artifact_info, resolve_runtime_model
from .detectors import Detections
from .front_end import FrontEnd
from .live_stream import LiveStreamWorker
from .options import RUNNING_MODES, LandmarkerOptions, RunningMode
from .preprocess import as_image, box_regions, check_boxes, crop_regions, points_region
from .presence import keep_present, resolve_min_face_presence
from .results import FaceLandmarks, LandmarkerResult
from .tracking import FaceTracker, check_timestamp

__all__ = ["Landmarker", "LandmarkerOptions", "RunningMode", "RUNNING_MODES", "Decoded"]

log = logging.getLogger("pipnet_edge.runtime")



def _add_ms(timing: dict[str, float], key: str, t0: float, t1: float) -> None:
    timing[key] = timing.get(key, 0.0) + (t1 - t0) * 1000.0





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
        front = FrontEnd(o)  # checks the detector option now; the detector loads on first use
        model = resolve_runtime_model(o.model)  # a path, or the model's bytes
        info: ArtifactInfo = read_artifact_info(model)
        backend_opts = dict(o.backend_options or {})
        if o.device is not None:
            if isinstance(o.device, (list, tuple)):
                backend_opts["providers"] = list(o.device)
            else:
                backend_opts["device"] = o.device
        backend = open_backend(model, info, o.backend, num_threads=o.num_threads, delegate=o.delegate, **backend_opts)
        self._start(backend, front)

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
        self._start(backend, FrontEnd(self.options))
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

    def _start(self, backend: Backend, front: FrontEnd) -> None:
        self.backend = backend
        self.path: Path = Path(backend.path)
        self.info: ArtifactInfo = backend.info
        self.spec = self.info.spec
        self.tables = DecodeTables.from_spec(self.spec)
        # the presence threshold in force (``min_face_presence`` resolved for this model; None: off)
        self.min_face_presence: float | None = resolve_min_face_presence(self.options.min_face_presence, self.spec)
        self._front = front
        self._lock = threading.RLock()
        self._tracker = FaceTracker()  # the video / live-stream state
        self._worker: LiveStreamWorker | None = None
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
            self._front.close()
            self._tracker = FaceTracker()

    def __enter__(self) -> "Landmarker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise InputError("this Landmarker is closed; create a new one")

    def _check_mode(self, method: str, mode: RunningMode) -> None:
        if self.options.running_mode != mode:
            raise InputError(
                f"{method}() is for running_mode {mode.value!r}, but this Landmarker was created with running_mode "
                f"{self.options.running_mode.value!r}; create it with running_mode={mode.value!r}"
            )

    # ------------------------------------------------------------------ detector
    @property
    def detector(self):
        """The face detector (created on first use), or ``None`` when boxes are required."""
        return self._front.detector

    def _detect_faces(self, image: np.ndarray, order: str) -> Detections:
        # with the presence filter on, twice max_faces candidates: a non-face must not take a real face's place
        n = self.options.max_faces
        return self._front.find(image, order, n if self.min_face_presence is None else 2 * n)

    def _detection_regions(self, found: Detections) -> np.ndarray:
        return self._front.regions(found)

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
            a :class:`LandmarkerResult`; empty when no face is found. Without boxes, faces whose presence score
            is below ``min_face_presence`` are dropped; faces of given boxes never are.

        Raises:
            InputError: a bad image or box, no boxes and no detector, or the wrong running mode.
        """
        with self._lock:
            self._check_open()
            self._check_mode("detect", RunningMode.IMAGE)
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
            regions = np.stack([self.points_region(f.points) for f in faces])
            refined = self._landmarks_for_regions(image, order, regions, found.boxes, timing)
            faces = [r if r.score >= f.score * 0.8 else f for f, r in zip(faces, refined)]
        # the detector's non-faces (not given boxes) out, then the best max_faces
        return keep_present(faces, self.min_face_presence)[: self.options.max_faces]

    # ------------------------------------------------------------------ video
    def detect_for_video(self, frame: np.ndarray, timestamp_ms: int, *, color_order: str | None = None) -> LandmarkerResult:
        """Landmarks of up to ``max_faces`` faces in a video, each tracked with a stable ``track_id``.

        Each track's crop comes from its previous frame's landmarks (as the 300W protocol crops
        ground-truth landmark boxes). The detector runs on the first frame, every
        ``redetect_interval`` frames (new faces start new tracks) and on the frame after a track
        is lost (its presence score below ``min_face_presence``, or ``track_min_score`` when set: the face left
        or was occluded); a detection below it starts no track.
        Points are smoothed per track with a One Euro filter scaled by face size: steady at rest,
        little lag in fast motion.

        Raises:
            InputError: a bad frame, a timestamp that does not increase, or the wrong running mode.
        """
        with self._lock:
            self._check_open()
            self._check_mode("detect_for_video", RunningMode.VIDEO)
            order = color_order or self.options.color_order
            return self._tracker.step(self, as_image(frame, order), order, timestamp_ms)

    def points_region(self, pts: np.ndarray) -> np.ndarray:
        """The crop region of a face whose landmarks are known, under this model's crop rule
        (:func:`~pipnet_edge.runtime.preprocess.points_region`, upright when ``align_faces``)."""
        return points_region(pts, self.spec, self.options.align_faces)

    def reset_tracking(self) -> None:
        """Forget every track (e.g. at a scene cut); the next frame runs the detector."""
        with self._lock:
            self._tracker.reset()

    @property
    def detector_calls(self) -> int:
        """How many times the face detector has run (video: compare with :attr:`frames`)."""
        return self._front.calls

    @property
    def frames(self) -> int:
        """Video / live-stream frames processed."""
        return self._tracker.frames

    # ------------------------------------------------------------------ live stream
    def detect_async(self, frame: np.ndarray, timestamp_ms: int, *, color_order: str | None = None) -> bool:
        """Queue a live-stream frame; its result goes to ``result_callback`` from a worker thread.

        Returns ``True`` when the frame was taken, ``False`` when it was dropped because the
        previous frame is still being processed (a live stream never queues up latency).

        Raises:
            InputError: a bad frame, a timestamp that does not increase, or the wrong running mode.
        """
        self._check_open()
        self._check_mode("detect_async", RunningMode.LIVE_STREAM)
        order = color_order or self.options.color_order
        image = as_image(frame, order)
        check_timestamp(timestamp_ms, None)
        if self._worker is None:
            self._worker = LiveStreamWorker(self)
        return self._worker.offer(image, order, int(timestamp_ms))

    def __repr__(self) -> str:
        backend = self.backend.describe() if self.backend is not None else "closed"
        return f"Landmarker({self.path.name!r}, {backend}, {self.spec.num_points} points)"

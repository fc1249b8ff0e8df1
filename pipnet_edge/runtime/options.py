"""``LandmarkerOptions``: everything a :class:`~pipnet_edge.runtime.Landmarker` can be told, and its running modes."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from .detectors import DEFAULT_DETECTOR
from .presence import AUTO, check_min_face_presence

__all__ = ["LandmarkerOptions", "RunningMode", "RUNNING_MODES"]


class RunningMode(str, Enum):
    """Which ``detect*`` method a Landmarker serves (as MediaPipe Tasks); equal to its string value."""

    IMAGE = "image"  # Landmarker.detect
    VIDEO = "video"  # Landmarker.detect_for_video: faces tracked from frame to frame
    LIVE_STREAM = "live_stream"  # Landmarker.detect_async: results to a callback, frames dropped while busy

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


RUNNING_MODES = tuple(m.value for m in RunningMode)


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
        min_face_presence: drop a face the detector found when its presence score (:attr:`FaceLandmarks.score
            <pipnet_edge.runtime.results.FaceLandmarks.score>`, the landmark model's mean heatmap peak) is below this,
            as MediaPipe's ``min_face_presence_confidence``: the detector's non-faces (a skull mask's eye sockets,
            a cup, a cat) score low. ``"auto"`` (default): the threshold chosen for the model's network
            (:data:`~pipnet_edge.runtime.presence.MIN_FACE_PRESENCE`: ``default`` 0.48, ``lite`` 0.44; other networks
            0.48); a number in [0, 1]; ``0`` or ``None``: off. Faces of boxes you give are never dropped (you said they
            are faces). In video it also ends a track (see ``track_min_score``).
        min_face_size: smallest face to find, in photo pixels (YuNet, Haar). ``None``: faces from
            about 8 % of the photo's longer side; smaller values cost time on large photos.
        max_faces: most faces per image (best detector scores first) and most tracks in video.
        align_faces: turn tilted faces upright before the model, using the detector's eye keypoints.
        refine: photos: run the model a second time on the crop its own first landmarks give (the
            300W protocol's crop), which removes most of the detector box's error, for one more
            model run per face.
        color_order: channel order of the images you pass (``"RGB"``, or ``"BGR"`` as ``cv2.imread`` gives).
        running_mode: :class:`RunningMode` or its value, ``"image"``, ``"video"`` or ``"live_stream"`` (which
            ``detect*`` method is allowed); stored as the enum, which compares equal to its string.
        redetect_interval: in video, run the detector every this many frames (and whenever a track
            is lost) so faces that walk in are picked up.
        track_min_score: in video, a track whose presence score (mean heatmap peak) falls below this ends; ``None``
            (default): the same threshold as ``min_face_presence`` (with it off, a track ends only when its face
            leaves the frame).
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
    min_face_presence: float | str | None = AUTO
    min_face_size: float | None = None
    max_faces: int = 8
    align_faces: bool = True
    refine: bool = False
    color_order: str = "RGB"
    running_mode: RunningMode | str = RunningMode.IMAGE
    redetect_interval: int = 10
    track_min_score: float | None = None
    smoothing: bool = True
    use_nrm: bool = True
    result_callback: Callable | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "running_mode", RunningMode(self.running_mode))
        except ValueError:
            raise InputError(f"running_mode must be one of {', '.join(RUNNING_MODES)}, got {self.running_mode!r}") from None
        if self.color_order not in ("RGB", "BGR"):
            raise InputError(f"color_order must be 'RGB' or 'BGR', got {self.color_order!r}")
        if not isinstance(self.max_faces, int) or self.max_faces < 1:
            raise InputError(f"max_faces must be a positive integer, got {self.max_faces!r}")
        if not isinstance(self.redetect_interval, int) or self.redetect_interval < 1:
            raise InputError(f"redetect_interval must be a positive integer (frames), got {self.redetect_interval!r}")
        if self.min_detection_confidence is not None and not 0.0 <= self.min_detection_confidence <= 1.0:
            raise InputError(f"min_detection_confidence must lie in [0, 1], got {self.min_detection_confidence}")
        check_min_face_presence(self.min_face_presence)
        if self.track_min_score is not None and (isinstance(self.track_min_score, bool) or not isinstance(
                self.track_min_score, numbers.Real) or not 0.0 <= self.track_min_score <= 1.0):
            raise InputError(f"track_min_score must be a number in [0, 1] or None (min_face_presence's threshold), "
                             f"got {self.track_min_score!r}")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise InputError(f"num_threads must be a positive integer or None, got {self.num_threads!r}")
        if self.running_mode == "live_stream" and self.result_callback is None:
            raise InputError("running_mode 'live_stream' needs a result_callback(result, image, timestamp_ms)")
        if self.running_mode != "live_stream" and self.result_callback is not None:
            raise InputError("result_callback is only used in running_mode 'live_stream'")

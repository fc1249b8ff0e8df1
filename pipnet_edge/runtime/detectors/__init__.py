"""Face detectors in front of the landmark model: a photo in, every face's box (and keypoints) out.

Bundled, offline, torch-free (``Landmarker(detector=NAME)``):

==========================  ==========================================================  ============
name                        what                                                        licence
==========================  ==========================================================  ============
``"yunet"`` (default)       YuNet 2023mar via OpenCV ``FaceDetectorYN``; any face size  MIT
``"blazeface-short"``       MediaPipe BlazeFace short range on LiteRT; near faces       Apache-2.0
``"blazeface-full"``        MediaPipe BlazeFace full range on LiteRT; up to ~5 m        Apache-2.0
``"blazeface-short-int8"``  BlazeFace short range, full-integer INT8 (for NPUs)         Apache-2.0
``"haar"``                  OpenCV's Haar frontal-face cascade (no file shipped)        BSD (OpenCV)
==========================  ==========================================================  ============

Each detector's boxes sit differently on a face, so each carries a ``crop_rule`` calibrated on
the 300W training faces (``python -m pipnet_edge.calibration.crop_rules``). Any object with a
``detect(image_rgb)`` method (returning :class:`Detections` or a ``(K, 5)`` array) and a
``crop_rule`` plugs in instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ...errors import InputError
from .base import Detections, FaceDetector, as_detections, box_iou, nms, weighted_nms, working_scale
from .blazeface import BlazeFaceDetector
from .haar import HaarFaceDetector
from .yunet import YuNetFaceDetector

__all__ = [
    "DETECTORS",
    "DEFAULT_DETECTOR",
    "BlazeFaceDetector",
    "DetectorInfo",
    "Detections",
    "FaceDetector",
    "HaarFaceDetector",
    "YuNetFaceDetector",
    "as_detections",
    "box_iou",
    "check_detector",
    "create_detector",
    "nms",
    "weighted_nms",
    "working_scale",
]


def _yunet(**kw):
    return YuNetFaceDetector(**kw)


def _blazeface(variant: str) -> Callable[..., Any]:
    def make(**kw):
        return BlazeFaceDetector(variant=variant, **kw)

    return make


def _haar(**kw):
    return HaarFaceDetector(**kw)


@dataclass(frozen=True)
class DetectorInfo:
    """One bundled detector: how to build it, what it is for (shown in the CLI's help), the options it takes."""

    name: str
    factory: Callable[..., Any]
    description: str
    options: tuple[str, ...]


DETECTORS: dict[str, DetectorInfo] = {
    d.name: d
    for d in (
        DetectorInfo("yunet", _yunet,
                     "YuNet 2023mar, boxes + 5 keypoints; finds small faces with min_face_size (MIT licence)",
                     ("min_confidence", "max_faces", "min_face_size", "num_threads")),
        DetectorInfo("blazeface-short", _blazeface("short"),
                     "MediaPipe BlazeFace short range, 128 px: faces within ~2 m, the fastest (Apache-2.0)",
                     ("min_confidence", "max_faces", "num_threads")),
        DetectorInfo("blazeface-full", _blazeface("full"),
                     "MediaPipe BlazeFace full range, 192 px: faces up to ~5 m (Apache-2.0)",
                     ("min_confidence", "max_faces", "num_threads")),
        DetectorInfo("blazeface-short-int8", _blazeface("short-int8"),
                     "MediaPipe BlazeFace short range quantized to full-integer INT8 (int8 I/O, no float op): "
                     "for NPUs such as Arm Ethos-U; faces within ~2 m (Apache-2.0)",
                     ("min_confidence", "max_faces", "num_threads")),
        DetectorInfo("haar", _haar,
                     "OpenCV Haar frontal-face cascade: frontal faces only, slow on large photos",
                     ("min_confidence", "max_faces", "min_face_size")),
    )
}
DEFAULT_DETECTOR = "yunet"


def check_detector(name: str, **options: Any) -> tuple[DetectorInfo, dict[str, Any]]:
    """The registry entry of a bundled detector and the options given to it (``None`` values dropped),
    without loading anything.

    Raises:
        InputError: unknown name, or an option this detector cannot honour.
    """
    info = DETECTORS.get(DEFAULT_DETECTOR if name == "default" else name)
    if info is None:
        raise InputError(f"unknown detector {name!r}; bundled: {', '.join(DETECTORS)} (or None, or an object with detect())")
    given = {k: v for k, v in options.items() if v is not None}
    unsupported = sorted(set(given) - set(info.options))
    if unsupported:
        raise InputError(f"detector {info.name!r} does not take {', '.join(unsupported)}; it takes {', '.join(info.options)}")
    return info, given


def create_detector(name: str = DEFAULT_DETECTOR, **options: Any) -> FaceDetector:
    """A bundled detector by name (``"default"``: YuNet); options given as ``None`` are left at the detector's default.

    Raises:
        InputError: unknown name, or an option this detector cannot honour.
        ModelLoadError: the detector's model file is missing or corrupt, or its runtime is not installed.
    """
    info, given = check_detector(name, **options)
    return info.factory(**given)

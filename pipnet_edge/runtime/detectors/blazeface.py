"""MediaPipe BlazeFace (Bazarevsky et al., 2019; Apache-2.0): two small SSD face detectors run by LiteRT.

* ``variant="short"`` (``face_detection_short_range.tflite``, 128x128 input, 896 anchors): faces within
  about 2 m of the camera, i.e. selfies, phone and webcam video, portraits. The fastest front end.
* ``variant="full"`` (``face_detection_full_range_sparse.tflite``, 192x192 input, 2304 anchors): faces
  up to about 5 m away (group photos, a room seen by a fixed camera), at about twice the cost.
* ``variant="short-int8"`` (``face_detection_short_range_int8.tflite``): the short range model made
  full-integer INT8 (int8 input, outputs, activations and weights, int32 biases; no float tensor, no
  QUANTIZE / DEQUANTIZE), for NPUs: Arm Vela places all of it on Ethos-U55 / U65 / U85. Same anchors and
  graph settings as ``"short"`` but score threshold 0.4 (so that it finds the faces the float model finds at 0.5)
  and its own crop rule; its four outputs are the two heads' pieces (joined here).

Both float models ship inside the package with their licence (``pipnet_edge/assets/detectors/blazeface/LICENSE``,
Apache-2.0; the files are those of the ``mediapipe==0.10.14`` wheel).

NOTICE: ``face_detection_short_range_int8.tflite`` is a derived work of MediaPipe's
``face_detection_short_range.tflite`` (Copyright Google LLC, Apache-2.0), modified and quantized by the
pipnet-edge authors with ``scripts/quantize_blazeface.py``: float16 weights folded to float32, the two output
concatenations removed (four outputs), RELUs fused into the ops before them, depthwise / 1x1 convolution pairs
rescaled (cross-layer equalization; the float function is unchanged), then post-training quantized to INT8 with
Google's LiteRT quantizer (``litert-quantizer`` 0.11.0), calibrated on 300W training photos. It is distributed under
the same Apache-2.0 licence (``LICENSE`` beside it).

Everything the ``.tflite`` files do not hold (letterbox preprocessing, SSD anchors, box layout and scales,
score clipping, weighted NMS) follows MediaPipe's graph files copied beside them (``face_detection.pbtxt``,
``face_detection_short_range.pbtxt``, ``face_detection_full_range.pbtxt``) and its calculators
(``ssd_anchors_calculator.cc``, ``tensors_to_detections_calculator.cc``, ``non_max_suppression_calculator.cc``).
The default score threshold is each graph's ``min_score_thresh``: 0.5 short range, 0.6 full range (what MediaPipe 0.10.14's
``FaceDetection`` really applies: its ``min_detection_confidence`` argument does not reach the graphs).

The whole photo is letterboxed into the model's square input (scaled to fit, centred, black border,
which is -1 after scaling to ``[-1, 1]``) exactly as MediaPipe's CPU graph does, so the network sees the
same input; there is no ROI or tiling, so a face must be large enough in the letterboxed input to be found.
One difference from MediaPipe, on purpose: its projection back to the photo is off by half an input pixel
(see ``_letterbox``). Boxes and keypoints here are MediaPipe's shifted left and up by
``(longer photo side / input size - 1) / 2`` pixels (2 px on a 640 px photo with short range); otherwise
they agree with ``mediapipe==0.10.14`` within 0.1 px.

Only numpy, OpenCV and a TFLite interpreter (``ai-edge-litert``, see :func:`import_interpreter`) are used.
A detector holds one interpreter and one input buffer: use one detector per thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...errors import InputError, ModelLoadError
from ...spec import CropRule
from ..backends.base import dequantize
from ..backends.quiet import quiet_native
from ..backends.tflite import import_interpreter
from .base import Detections, check_detector_options, check_fraction, read_detector_model, weighted_nms

__all__ = [
    "BLAZEFACE_FULL_CROP_RULE",
    "BLAZEFACE_KEYPOINTS",
    "BLAZEFACE_SHORT_CROP_RULE",
    "BLAZEFACE_SHORT_INT8_CROP_RULE",
    "BLAZEFACE_VARIANTS",
    "BlazeFaceDetector",
    "BlazeFaceVariant",
    "blazeface_model_path",
    "decode_blazeface",
    "ssd_anchors",
]

# Calibrated on ../shared/data/300w/train with
#   python -m pipnet_edge.calibration.crop_rules --detector blazeface-short --data ../shared/data/300w/train
# -> 2,012 of 2,012 faces; scale 1.0556 (IQR 1.012-1.117), shift_x 0.0022, shift_y 0.0587
BLAZEFACE_SHORT_CROP_RULE = CropRule(scale=1.0556, shift_x=0.0022, shift_y=0.0587)
#   python -m pipnet_edge.calibration.crop_rules --detector blazeface-full --data ../shared/data/300w/train
# -> 1,830 of 2,012 faces; scale 0.9823 (IQR 0.939-1.035), shift_x 0.0085, shift_y 0.1068
BLAZEFACE_FULL_CROP_RULE = CropRule(scale=0.9823, shift_x=0.0085, shift_y=0.1068)
#   python -m pipnet_edge.calibration.crop_rules --detector blazeface-short-int8 --data ../shared/data/300w/train
# -> 2,012 of 2,012 faces; scale 1.0592 (IQR 1.014-1.115), shift_x 0.0053, shift_y 0.0630 (at its default score
# threshold 0.4, which merges a few more anchors per face than 0.5 does)
BLAZEFACE_SHORT_INT8_CROP_RULE = CropRule(scale=1.0592, shift_x=0.0053, shift_y=0.0630)

# MediaPipe's keypoint order ("right" is the subject's right). The model puts the eye on the image's left first
# (the subject's right eye in an unmirrored photo; it does so for mirrored faces too, checked on docs/astronaut.png),
# which is already the Detections convention: no reordering needed.
BLAZEFACE_KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")

# face_detection.pbtxt: SsdAnchorsCalculatorOptions shared by both variants
_MIN_SCALE = 0.1484375
_MAX_SCALE = 0.75
_ANCHOR_OFFSET = 0.5
_ASPECT_RATIOS = (1.0,)
# face_detection.pbtxt: TensorsToDetectionsCalculatorOptions (reverse_output_order: true -> x, y, w, h layout)
_NUM_COORDS = 16
_KEYPOINT_OFFSET = 4
_NUM_KEYPOINTS = 6
_SCORE_CLIP = 100.0
_INPUT_DTYPES = (np.dtype(np.float32), np.dtype(np.int8), np.dtype(np.uint8))


@dataclass(frozen=True)
class BlazeFaceVariant:
    """One BlazeFace model and the settings MediaPipe's graph gives it (``face_detection_*.pbtxt``)."""

    name: str
    file: str
    input_size: int  # tensor_width == tensor_height; also x/y/w/h_scale
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    num_boxes: int
    min_score: float  # min_score_thresh: the default min_confidence
    crop_rule: CropRule


BLAZEFACE_VARIANTS: dict[str, BlazeFaceVariant] = {
    "short": BlazeFaceVariant("short", "face_detection_short_range.tflite", 128, (8, 16, 16, 16), 1.0, 896, 0.5,
                              BLAZEFACE_SHORT_CROP_RULE),
    "full": BlazeFaceVariant("full", "face_detection_full_range_sparse.tflite", 192, (4,), 0.0, 2304, 0.6,
                             BLAZEFACE_FULL_CROP_RULE),
    # full-integer INT8 of "short" (scripts/quantize_blazeface.py): the same anchors, its own crop rule, and score
    # threshold 0.4: its logits differ from the float model's by ~0.12-0.15 at random, so at 0.5 it lost 9 of the
    # 845 faces the float model finds at 0.5 on 300 multi-face TRAINING canvases (and found 7 others); at 0.4 it lost
    # none and found 34 more, with no false detection, as the float model (the script's step 6)
    "short-int8": BlazeFaceVariant("short-int8", "face_detection_short_range_int8.tflite", 128, (8, 16, 16, 16), 1.0,
                                   896, 0.4, BLAZEFACE_SHORT_INT8_CROP_RULE),
}


def blazeface_model_path(variant: str = "short") -> Path:
    """The bundled ``.tflite`` of a variant (``"short"``, ``"full"`` or ``"short-int8"``)."""
    from ...assets import ASSETS_DIR, verify_asset

    path = ASSETS_DIR / "detectors" / "blazeface" / _variant(variant).file
    return verify_asset(path) if path.is_file() else path


def _variant(name: str) -> BlazeFaceVariant:
    if not isinstance(name, str) or name not in BLAZEFACE_VARIANTS:
        raise InputError(f"unknown BlazeFace variant {name!r}: use 'short' (faces within ~2 m), 'full' (up to ~5 m) "
                         "or 'short-int8' (short, full-integer INT8)")
    return BLAZEFACE_VARIANTS[name]


def _layer_scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def ssd_anchors(
    input_size: tuple[int, int],
    strides: tuple[int, ...],
    *,
    min_scale: float = _MIN_SCALE,
    max_scale: float = _MAX_SCALE,
    anchor_offset: tuple[float, float] = (_ANCHOR_OFFSET, _ANCHOR_OFFSET),
    aspect_ratios: tuple[float, ...] = _ASPECT_RATIOS,
    interpolated_scale_aspect_ratio: float = 1.0,
    fixed_anchor_size: bool = True,
    reduce_boxes_in_lowest_layer: bool = False,
) -> np.ndarray:
    """MediaPipe's ``SsdAnchorsCalculator`` (strides form): ``(N, 4)`` float32 ``[x_center, y_center, w, h]``,
    normalised to the input (``input_size`` is ``(height, width)``).

    Consecutive layers with the same stride share one feature map: their anchors are interleaved per cell
    (cell-major), each layer adding one anchor per aspect ratio plus one interpolated anchor (aspect
    ``interpolated_scale_aspect_ratio``, scale ``sqrt(scale * next_scale)``) when that ratio is positive.
    With ``fixed_anchor_size`` every anchor is ``1 x 1`` (BlazeFace: the regressors hold absolute offsets).
    """
    height, width = input_size
    n = len(strides)
    out = []
    layer = 0
    while layer < n:
        sizes: list[tuple[float, float]] = []  # (w, h) of the anchors in one cell
        last = layer
        while last < n and strides[last] == strides[layer]:
            scale = _layer_scale(min_scale, max_scale, last, n)
            if last == 0 and reduce_boxes_in_lowest_layer:
                pairs = [(1.0, 0.1), (2.0, scale), (0.5, scale)]
            else:
                pairs = [(ratio, scale) for ratio in aspect_ratios]
                if interpolated_scale_aspect_ratio > 0.0:
                    following = 1.0 if last == n - 1 else _layer_scale(min_scale, max_scale, last + 1, n)
                    pairs.append((interpolated_scale_aspect_ratio, math.sqrt(scale * following)))
            sizes += [(s * math.sqrt(r), s / math.sqrt(r)) for r, s in pairs]
            last += 1
        rows, cols = math.ceil(height / strides[layer]), math.ceil(width / strides[layer])
        wh = np.ones((len(sizes), 2)) if fixed_anchor_size else np.asarray(sizes, np.float64)
        yy, xx = np.meshgrid((np.arange(rows) + anchor_offset[1]) / rows, (np.arange(cols) + anchor_offset[0]) / cols,
                             indexing="ij")
        centres = np.repeat(np.column_stack([xx.ravel(), yy.ravel()]), len(sizes), axis=0)
        out.append(np.column_stack([centres, np.tile(wh, (rows * cols, 1))]))
        layer = last
    return np.concatenate(out).astype(np.float32)


def decode_blazeface(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, input_size: int, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's ``TensorsToDetectionsCalculator`` for BlazeFace, vectorised.

    Args:
        raw_boxes: ``(N, 16)`` regressors: ``dx, dy, w, h`` then 6 keypoints ``(dx, dy)``, in input pixels
            relative to the anchor centre (``reverse_output_order``: x before y).
        raw_scores: ``(N,)`` or ``(N, 1)`` logits.
        anchors: ``(N, 4)`` from :func:`ssd_anchors`.
        input_size: the model's input side (MediaPipe's ``x/y/w/h_scale``).
        min_score: keep anchors whose sigmoid score (logits clipped to +-100) is at least this.

    Returns:
        ``boxes (K, 4)`` ``[x0, y0, x1, y1]``, ``scores (K,)`` and ``keypoints (K, 6, 2)``, all normalised to the
        input (0-1 across the letterboxed square), in anchor order; boxes with a negative or NaN size are dropped.
    """
    logits = np.clip(np.asarray(raw_scores, np.float32).reshape(-1), -_SCORE_CLIP, _SCORE_CLIP)
    with np.errstate(over="ignore"):  # exp(100) overflows float32 to inf, as in MediaPipe: the score is then 0
        scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    raw = np.asarray(raw_boxes, np.float32).reshape(-1, _NUM_COORDS)[keep] / np.float32(input_size)
    a = anchors[keep]
    centre = raw[:, 0:2] * a[:, 2:4] + a[:, 0:2]
    half = raw[:, 2:4] * a[:, 2:4] * 0.5
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    kp = raw[:, _KEYPOINT_OFFSET:].reshape(-1, _NUM_KEYPOINTS, 2) * a[:, None, 2:4] + a[:, None, 0:2]
    valid = np.flatnonzero((half >= 0).all(axis=1))  # MediaPipe drops negative (and NaN) widths and heights
    return boxes[valid], scores[keep][valid], kp[valid]


@dataclass
class BlazeFaceDetector:
    """MediaPipe BlazeFace through LiteRT: boxes, scores and 6 keypoints per face (see :data:`BLAZEFACE_KEYPOINTS`).

    Args:
        variant: ``"short"`` (faces within ~2 m: selfies, webcams; 128 px input), ``"full"`` (up to ~5 m; 192 px)
            or ``"short-int8"`` (``"short"`` made full-integer INT8, for NPUs).
        min_confidence: drop faces scored below this, 0-1 (``None``: MediaPipe's graph value, 0.5 short, 0.6 full;
            0.4 short-int8, which then finds the faces the float model finds at 0.5).
        max_faces: keep at most this many faces, best first (``None``: all).
        num_threads: LiteRT CPU threads.
        model_path: a BlazeFace ``.tflite`` of this variant's layout (default: the bundled file). Its input may be
            float32 (``[-1, 1]``) or int8 / uint8 (that range quantized with the tensor's scale and zero point);
            its outputs the two ``(1, N, 16)`` / ``(1, N, 1)`` tensors or each split into pieces along the anchors
            (joined by shape, the larger piece first), float or quantized.
        model_bytes: the same file's contents (e.g. read from an Android asset), instead of a path.
        crop_rule: how a box becomes the landmark model's crop (``None``: the variant's calibrated rule).
        nms_threshold: IoU above which boxes merge in MediaPipe's weighted NMS.

    The model is loaded when the detector is made; ``min_confidence``, ``max_faces`` and ``nms_threshold`` may
    be changed afterwards, the other fields may not.
    """

    variant: str = "short"
    min_confidence: float | None = None
    max_faces: int | None = None
    num_threads: int = 1
    model_path: str | Path | None = None
    model_bytes: bytes | None = field(default=None, repr=False)
    crop_rule: CropRule | None = None
    nms_threshold: float = 0.3

    def __post_init__(self) -> None:
        spec = _variant(self.variant)
        if self.min_confidence is None:
            self.min_confidence = spec.min_score
        check_detector_options(self.min_confidence, self.max_faces, self.num_threads)
        if self.num_threads is None:
            raise InputError("num_threads must be a whole number of at least 1, got None")
        check_fraction("nms_threshold", self.nms_threshold)
        if self.crop_rule is None:
            self.crop_rule = spec.crop_rule
        elif not isinstance(self.crop_rule, CropRule):
            raise InputError(f"crop_rule must be a pipnet_edge.spec.CropRule (or None), got {type(self.crop_rule).__name__}")
        self._spec = spec
        self._interpreter, where = self._load(spec)
        self._check_layout(spec, where)
        self._anchors = ssd_anchors((spec.input_size, spec.input_size), spec.strides,
                                    interpolated_scale_aspect_ratio=spec.interpolated_scale_aspect_ratio)
        size = spec.input_size
        self._canvas = np.zeros((size, size, 3), np.uint8)  # the letterboxed photo
        self._warp = np.zeros((2, 3), np.float64)  # photo -> input, a scale and a shift
        self._tensor = np.empty((1, size, size, 3), self._input_dtype)

    def _load(self, spec: BlazeFaceVariant) -> tuple[Any, str]:
        Interpreter, _, package = import_interpreter()  # ModelLoadError with the install hint when none is installed
        data, where = read_detector_model("BlazeFace", self.model_path, self.model_bytes, blazeface_model_path(spec.name))
        try:
            with quiet_native("TFLite"):  # the first interpreter of a process logs its XNNPACK delegate on fd 2
                interpreter = Interpreter(model_content=data, num_threads=int(self.num_threads))
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError, OSError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"{where} is not a TFLite model {package} can load: {detail}") from None
        return interpreter, where

    def _check_layout(self, spec: BlazeFaceVariant, where: str) -> None:
        """Find the input and the outputs by shape (the models name their tensors differently).

        The input is float32 in ``[-1, 1]``, or int8 / uint8 quantized: then a pixel value ``p`` enters as
        ``round((p * 2 / 255 - 1) / scale) + zero_point`` (a 256-entry table). The outputs are the ``(1, N, 16)``
        regressors and ``(1, N, 1)`` logits, or each split along the anchors into pieces ``(1, n_i, 16)`` /
        ``(1, n_i, 1)`` with ``sum(n_i) == N`` (a full-integer model has one scale per head that way), joined in
        anchor order: the larger piece (the finer stride) first. Quantized outputs are dequantized with their scale
        and zero point.
        """
        size, n = spec.input_size, spec.num_boxes
        ins, outs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        in_dtype = np.dtype(ins[0]["dtype"]) if len(ins) == 1 else None
        if len(ins) != 1 or tuple(ins[0]["shape"]) != (1, size, size, 3) or in_dtype not in _INPUT_DTYPES:
            got = [(tuple(d["shape"]), np.dtype(d["dtype"]).name) for d in ins]
            raise ModelLoadError(f"{where}: expected one float32, int8 or uint8 input of shape (1, {size}, {size}, 3) for "
                                 f"BlazeFace variant {spec.name!r}, got {got} (wrong variant, or not a BlazeFace model)")
        self._input_index = ins[0]["index"]
        self._input_dtype = in_dtype
        self._lut = None
        if in_dtype != np.float32:
            scale, zero = ins[0]["quantization"]
            if not scale > 0:
                raise ModelLoadError(f"{where}: the {in_dtype.name} input has no quantization scale")
            real = np.arange(256, dtype=np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)  # as the float path
            v = real.astype(np.float64) / scale
            q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zero  # TFLite's QUANTIZE: round half away from zero
            info = np.iinfo(in_dtype)
            self._lut = np.clip(q, info.min, info.max).astype(in_dtype)
        pieces: dict[int, list[dict]] = {_NUM_COORDS: [], 1: []}
        for d in outs:
            shape = tuple(int(v) for v in d["shape"])
            if len(shape) != 3 or shape[0] != 1 or shape[2] not in pieces:
                pieces = {}
                break
            pieces[shape[2]].append(d)
        if not pieces or any(sum(int(d["shape"][1]) for d in group) != n for group in pieces.values()):
            got = [(d["name"], tuple(int(v) for v in d["shape"])) for d in outs]
            raise ModelLoadError(f"{where}: expected outputs of shapes (1, {n}, 16) and (1, {n}, 1) (or those split along "
                                 f"the anchors) for BlazeFace variant {spec.name!r}, got {got}")

        def readers(group: list[dict]) -> list[tuple[int, float, int]]:
            group = sorted(group, key=lambda d: -int(d["shape"][1]))  # stable: equal sizes keep the model's order
            out = []
            for d in group:
                scale, zero = (d["quantization"] if np.dtype(d["dtype"]) != np.float32 else (0.0, 0))
                out.append((d["index"], float(scale), int(zero)))
            return out

        self._boxes_outputs = readers(pieces[_NUM_COORDS])
        self._scores_outputs = readers(pieces[1])

    def _output(self, readers: list[tuple[int, float, int]]) -> np.ndarray:
        """One output, its pieces joined and dequantized: ``(N, width)`` float32."""
        parts = []
        for index, scale, zero in readers:
            raw = self._interpreter.get_tensor(index)[0]
            parts.append(dequantize(raw, scale, zero) if scale else raw)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def _letterbox(self, image_rgb: np.ndarray, bgr: bool = False) -> tuple[float, float, float]:
        """Letterbox the photo into the model's input as MediaPipe's CPU ``ImageToTensorCalculator`` does, in ``[-1, 1]``.

        Returns ``(scale, x_offset, y_offset)``: a point at normalised input position ``(u, v)`` lies at photo
        pixel ``(u * scale + x_offset, v * scale + y_offset)`` (pixel centres at integers).
        """
        h, w = image_rgb.shape[:2]
        side = float(max(h, w))  # the letterboxed square, centred on the photo
        step = side / self._spec.input_size  # photo pixels per input pixel
        x0, y0 = (w - side) / 2.0, (h - side) / 2.0
        # MediaPipe maps the square's corners onto the input's corners with cv2.warpPerspective, so input pixel (i, j)
        # samples photo point (x0 + j * step, y0 + i * step), bilinear, black outside the photo. The same warp here
        # (one call, cost independent of the photo's size) gives the network exactly MediaPipe's input.
        warp = self._warp
        warp[0, 0] = warp[1, 1] = 1.0 / step
        warp[0, 2], warp[1, 2] = -x0 / step, -y0 / step
        cv2.warpAffine(image_rgb, warp, self._canvas.shape[1::-1], dst=self._canvas, flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        # ImageToTensor's value range [-1, 1]: value * 2 / 255 - 1 (a BGR photo is reordered here, on the small input)
        pixels = self._canvas[:, :, ::-1] if bgr else self._canvas
        if self._lut is not None:  # an integer input: that value quantized, by table
            np.take(self._lut, pixels, out=self._tensor[0])
        else:
            np.multiply(pixels, np.float32(2.0 / 255.0), out=self._tensor[0], dtype=np.float32)
            np.subtract(self._tensor, np.float32(1.0), out=self._tensor)
        # The centre of input pixel j (normalised (j + 0.5) / size) therefore shows photo point x0 + j * step.
        # MediaPipe's DetectionProjection maps it to x0 + (j + 0.5) * step instead (as if pixel j covered
        # [x0 + j * step, x0 + (j + 1) * step)): its coordinates are ours plus step / 2 (minus 0.5 for its
        # pixel-corner convention), e.g. +2 px on a 640 px photo with short range, +9 px on a 2400 px one.
        return side, x0 - step / 2.0, y0 - step / 2.0

    takes_color_order = True

    @staticmethod
    def _check_image(image_rgb: np.ndarray) -> np.ndarray:
        image_rgb = np.asarray(image_rgb)
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8 or min(image_rgb.shape[:2]) < 1:
            raise InputError(f"BlazeFace needs an (H, W, 3) uint8 RGB image, got {image_rgb.shape} {image_rgb.dtype}")
        return image_rgb

    def model_input(self, image_rgb: np.ndarray, color_order: str = "RGB") -> np.ndarray:
        """The ``(1, S, S, 3)`` tensor :meth:`detect` feeds the network for this photo (a copy): the letterboxed
        photo in ``[-1, 1]`` (float32), or quantized to the model's integer input type."""
        self._letterbox(self._check_image(image_rgb), color_order == "BGR")
        return self._tensor.copy()

    def detect(self, image_rgb: np.ndarray, color_order: str = "RGB") -> Detections:
        """Faces in a ``(H, W, 3)`` uint8 photo (RGB, or BGR with ``color_order="BGR"``), best first, in photo
        pixels (pixel centres at integers)."""
        image_rgb = self._check_image(image_rgb)
        scale, x_offset, y_offset = self._letterbox(image_rgb, color_order == "BGR")
        it = self._interpreter
        it.set_tensor(self._input_index, self._tensor)
        it.invoke()
        boxes, scores, kp = decode_blazeface(self._output(self._boxes_outputs), self._output(self._scores_outputs),
                                             self._anchors, self._spec.input_size, float(self.min_confidence))
        if len(scores) == 0:
            return Detections.empty(_NUM_KEYPOINTS)
        # MediaPipe's NMS runs before the projection; IoU and weighted means do not change under it (one scale, a shift)
        found = weighted_nms(boxes, scores, kp, float(self.nms_threshold))
        offset = np.asarray([x_offset, y_offset], np.float32)
        b = found.boxes.reshape(-1, 2, 2) * np.float32(scale) + offset
        k = found.keypoints * np.float32(scale) + offset
        return Detections(b.reshape(-1, 4), found.scores, k).filtered(max_faces=self.max_faces)

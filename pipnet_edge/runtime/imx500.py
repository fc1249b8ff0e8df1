"""The Raspberry Pi AI Camera (Sony IMX500) side of the ``imx500`` export target: the camera's output tensors to
68 points in the frame's pixels, through the one decode (:func:`~pipnet_edge.runtime.decode.decode_heads`).

The camera runs one network on its sensor, on the *inference ROI* (``IMX500.set_inference_roi_abs``: a rectangle of
the full sensor, scaled by the chip to the network's ``S x S`` input), and hands the outputs to the Pi as frame
metadata. ``IMX500.get_outputs(metadata)`` of Picamera2 returns them as a list of numpy arrays, one per network
output, in the network's output order (the ``ordinal`` of each ``outputTensor`` in the converter's
``dnnParams.xml``), each shaped as that output of MCT's PyTorch ONNX without the batch dimension: ``(C, H, W)``
(``add_batch=True``: ``(1, C, H, W)``), float32 (the chip's 8-bit values times their scale). Sources: Picamera2's
``picamera2/devices/imx500/imx500.py`` (``get_outputs`` reshapes each tensor of the flat ``CnnOutputTensor`` to the
shape of ``CnnOutputTensorInfo`` in Fortran order; its YOLOv8 post-processing reads PyTorch models' outputs in their
NCHW shapes), and ``imxconv-pt`` 3.19's ``dnnParams.xml`` for our models: five output tensors, ordinals 0-4 =
``cls_layer``, ``x_layer``, ``y_layer``, ``nb_x_layer``, ``nb_y_layer`` (our :data:`HEAD_NAMES` order), each of
dimensions ``(C, H, W)`` with serialization order = ordinal (no reordering by libcamera).

The network's metadata (landmark scheme, neighbour tables, input size, the point bias) cannot ride in
``packerOut.zip`` / the ``.rpk``; the export writes it beside them as ``pipnet_edge.json``
(:data:`SIDECAR_NAME`), which :class:`Imx500Landmarker` reads. Nothing here needs torch or Picamera2.

Coordinates: an ROI ``(left, top, width, height)`` in integer pixels of some frame (the full sensor, as
``set_inference_roi_abs`` takes it, or the main stream's pixels, as Picamera2's ``IMX500.get_roi_scaled(request)``
returns it) covers pixel columns ``left .. left + width - 1``; points come back in that frame, pixel centres at
integers (the :class:`~pipnet_edge.runtime.results.FaceLandmarks` convention). :func:`roi_for_points` makes the next
frame's ROI from this frame's points (the model's own crop rule, the 300W protocol), :func:`roi_for_box` from a CPU
detector's box (its calibrated crop rule), :func:`frame_to_sensor` and
:func:`sensor_to_frame` convert between the main stream's pixels and the full sensor's through the frame's
``ScalerCrop``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError, ModelLoadError
from . import geometry
from .artifact import HEAD_NAMES, ArtifactInfo, decode_metadata
from .decode import DecodeTables, decode_heads
from .preprocess import box_regions
from .presence import AUTO, resolve_min_face_presence
from .results import FaceLandmarks, LandmarkerResult

__all__ = ["SENSOR_SIZE", "SIDECAR_NAME", "Imx500Landmarker", "camera_heads", "frame_to_sensor", "read_imx500_metadata",
           "roi_for_box", "roi_for_points", "sensor_to_frame"]

SIDECAR_NAME = "pipnet_edge.json"  # written by `python -m pipnet_edge.export --target imx500` beside packerOut.zip
SENSOR_SIZE = (4056, 3040)  # the IMX500's full resolution: the frame of set_inference_roi_abs and ScalerCrop


def read_imx500_metadata(path: str | Path) -> ArtifactInfo:
    """The metadata of an ``imx500`` export: ``path`` is the sidecar JSON itself, the export's folder, or a file
    beside the sidecar (``packerOut.zip``, the ``network.rpk`` packaged from it).

    Raises:
        ModelLoadError: no sidecar there, or not pipnet-edge metadata.
    """
    p = Path(path)
    sidecar = p if p.suffix == ".json" else (p / SIDECAR_NAME if p.is_dir() else p.with_name(SIDECAR_NAME))
    if not sidecar.is_file():
        raise ModelLoadError(f"no {SIDECAR_NAME} at {sidecar}: copy the one `python -m pipnet_edge.export --target imx500` "
                             "wrote beside packerOut.zip next to the .rpk (it holds the model's landmarks and neighbour "
                             "tables, which the .rpk cannot carry)")
    return decode_metadata(sidecar.read_text(), str(sidecar))


def camera_heads(outputs: Sequence[np.ndarray] | Mapping[str, np.ndarray], spec,
                 names: Sequence[str] = HEAD_NAMES) -> dict[str, np.ndarray]:
    """The five heads channels-last ``(1, H, W, C)``, as :func:`~pipnet_edge.runtime.decode.decode_heads` reads
    them, from the camera's outputs: Picamera2's ``IMX500.get_outputs(metadata)`` list (one ``(C, H, W)`` array per
    head in ``names`` order; ``(1, C, H, W)`` with ``add_batch=True``), or a dict of them by head name.

    Raises:
        InputError: not five outputs, or shapes that are not the model's (``spec``: channels and map size).
    """
    if isinstance(outputs, Mapping):
        missing = [n for n in HEAD_NAMES if n not in outputs]
        if missing:
            raise InputError(f"camera outputs lack {missing}")
        arrays = [outputs[n] for n in HEAD_NAMES]
    else:
        if outputs is None or len(outputs) != len(names):
            raise InputError(f"expected the network's {len(names)} output tensors ({', '.join(names)}) as "
                             f"IMX500.get_outputs() returns them, got {0 if outputs is None else len(outputs)}")
        by_name = dict(zip(names, outputs))
        arrays = [by_name[n] for n in HEAD_NAMES]
    n, nb, grid = spec.num_points, spec.num_nb, spec.input_size // spec.net_stride
    heads = {}
    for name, arr, ch in zip(HEAD_NAMES, arrays, (n, n, n, n * nb, n * nb)):
        a = np.asarray(arr, dtype=np.float32)
        if a.ndim == 4 and a.shape[0] == 1:
            a = a[0]
        if a.shape != (ch, grid, grid):
            raise InputError(f"camera output {name!r} must have shape {(ch, grid, grid)} (C, H, W) or "
                             f"{(1, ch, grid, grid)}, got {np.shape(arr)}")
        heads[name] = a.transpose(1, 2, 0)[None]  # (1, H, W, C)
    return heads


def roi_for_box(box, rule, bounds: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """The inference ROI ``(left, top, width, height)`` for a face box ``[x0, y0, x1, y1]`` under a crop rule (a
    detector's ``crop_rule``, or the model's ``spec.crop`` for a box around its points), in the box's frame: the
    rule's square, axis-aligned (the IMX500 cannot turn its ROI), clipped to ``bounds`` ``(width, height)``."""
    cx, cy, side, _ = box_regions(np.asarray(box, np.float64).reshape(1, 4), rule)[0]
    left, top, size = round(cx - side / 2 + 0.5), round(cy - side / 2 + 0.5), max(1, round(side))
    right, bottom = left + size, top + size
    if bounds is not None:
        left, top = max(0, left), max(0, top)
        right, bottom = min(int(bounds[0]), right), min(int(bounds[1]), bottom)
    return int(left), int(top), int(max(1, right - left)), int(max(1, bottom - top))


def roi_for_points(points: np.ndarray, spec, bounds: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """The next inference ROI for a face whose ``points`` are known (this frame's), in the same frame: the model's
    own crop rule (the 300W protocol it was trained on) around their box, as :func:`roi_for_box`."""
    return roi_for_box(geometry.box_from_points(np.asarray(points, np.float64)), spec.crop, bounds)


def frame_to_sensor(rect, scaler_crop, frame_size) -> tuple[int, int, int, int]:
    """A rectangle ``(left, top, width, height)`` of the main stream's pixels (``frame_size`` ``(width, height)``)
    in full-sensor pixels (what ``set_inference_roi_abs`` takes), through the frame's ``ScalerCrop``
    (``metadata["ScalerCrop"]``: ``(x, y, width, height)`` of the sensor that the main stream shows)."""
    sx, sy, sw, sh = (float(v) for v in scaler_crop)
    kx, ky = sw / float(frame_size[0]), sh / float(frame_size[1])
    x, y, w, h = (float(v) for v in rect)
    return round(sx + x * kx), round(sy + y * ky), max(1, round(w * kx)), max(1, round(h * ky))


def sensor_to_frame(rect, scaler_crop, frame_size) -> tuple[float, float, float, float]:
    """The inverse of :func:`frame_to_sensor`: full-sensor pixels to the main stream's (not rounded)."""
    sx, sy, sw, sh = (float(v) for v in scaler_crop)
    kx, ky = float(frame_size[0]) / sw, float(frame_size[1]) / sh
    x, y, w, h = (float(v) for v in rect)
    return (x - sx) * kx, (y - sy) * ky, w * kx, h * ky


class Imx500Landmarker:
    """68 points from the IMX500's output tensors, ``Landmarker``-shaped results.

    Args:
        metadata: the export's sidecar (see :func:`read_imx500_metadata`: the JSON, its folder, or the
            ``packerOut.zip`` / ``.rpk`` beside it), or an :class:`ArtifactInfo`.
        use_nrm: the decode's neighbour merge, as :class:`~pipnet_edge.runtime.Landmarker`'s option.
        min_face_presence: as the Landmarker's option (``"auto"``: the threshold chosen for the model's network;
            a number in [0, 1]; 0 / ``None``: off): a face whose score (mean heatmap peak) is below it is dropped,
            the sign that the face has left the ROI (then find it again, with a detector on the CPU).

    Example (on the Pi, after ``imx500-package -i packerOut.zip -o .``; the whole loop, with a CPU detector to find
    the face and the ROI following it, is in docs/npu.md)::

        imx500 = IMX500("network.rpk")             # Picamera2's; pipnet_edge.json lies beside the .rpk
        lm = Imx500Landmarker("network.rpk")
        ...
        result = lm.detect(imx500.get_outputs(metadata), imx500.get_roi_scaled(request))
        points = result.faces[0].points            # (68, 2), main-stream pixels
        imx500.set_inference_roi_abs(frame_to_sensor(roi_for_points(points, lm.spec), metadata["ScalerCrop"], size))
    """

    def __init__(self, metadata: str | Path | ArtifactInfo, *, use_nrm: bool = True, min_face_presence=AUTO) -> None:
        self.info = metadata if isinstance(metadata, ArtifactInfo) else read_imx500_metadata(metadata)
        self.spec = self.info.spec
        self.tables = DecodeTables.from_spec(self.spec)
        self.use_nrm = use_nrm
        self.min_face_presence = resolve_min_face_presence(min_face_presence, self.spec)
        names = self.info.export.get("outputs") or HEAD_NAMES
        if sorted(names) != sorted(HEAD_NAMES):
            raise ModelLoadError(f"the sidecar names outputs {names}; expected the five heads {HEAD_NAMES}")
        self.output_names = tuple(names)

    def detect(self, outputs, roi) -> LandmarkerResult:
        """The face in the inference ROI.

        Args:
            outputs: ``IMX500.get_outputs(metadata)`` (with or without ``add_batch``), or a dict by head name.
            roi: ``(left, top, width, height)`` of the input the network saw, in the pixels the points should come
                back in: ``IMX500.get_roi_scaled(request)`` for the main stream, or the full-sensor rectangle given
                to ``set_inference_roi_abs`` (as the sensor bounds it). Its aspect ratio may differ from the square
                input (the chip stretches it; the points are mapped back per axis).

        Returns:
            a :class:`LandmarkerResult` with one face (``box``: the ROI as ``[x0, y0, x1, y1]``), or none when its
            score is below ``min_face_presence``.

        Raises:
            InputError: outputs of the wrong number or shape, or an empty ROI.
        """
        left, top, width, height = (float(v) for v in tuple(roi)[:4])
        if not (width > 0 and height > 0):
            raise InputError(f"roi must be (left, top, width, height) with a positive size, got {tuple(roi)}")
        heads = camera_heads(outputs, self.spec, self.output_names)
        out = decode_heads(heads, self.tables, use_nrm=self.use_nrm)
        u = out.points[0].astype(np.float64)  # normalised input coordinates: the input square spans [0, 1]
        pts = np.stack([left - 0.5 + u[:, 0] * width, top - 0.5 + u[:, 1] * height], axis=-1).astype(np.float32)
        scores = out.scores[0].astype(np.float32)
        face = FaceLandmarks(pts, np.array([left, top, left + width, top + height], np.float32), float(scores.mean()),
                             scores)
        if self.min_face_presence is not None and face.score < self.min_face_presence:
            return LandmarkerResult([])
        return LandmarkerResult([face])

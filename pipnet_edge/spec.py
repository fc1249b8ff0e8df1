"""ModelSpec: the one description of a PIPNet model that travels inside every artifact.

A spec answers everything a runtime needs besides the weights: which landmarks, the input
size and net stride, the neighbour tables, pixel normalisation, the crop rule. It is
serialised as JSON into checkpoints (``spec`` entry), ONNX ``metadata_props``, OpenVINO
``rt_info`` and a TFLite metadata buffer, and validated whenever it is loaded.

The schema is versioned by :data:`SPEC_VERSION`; loading a newer major version fails with
a message asking to upgrade pipnet-edge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from .errors import SpecError
from .meanface import nearest_neighbors, reverse_index
from .schemes import LandmarkScheme, get_scheme

__all__ = ["SPEC_VERSION", "Normalization", "CropRule", "ModelSpec", "IMAGENET_NORMALIZATION"]

SPEC_VERSION = 1


@dataclass(frozen=True)
class Normalization:
    """Pixel normalisation applied to RGB pixels in ``[0, 255]``: ``(pixel - mean) / std``.

    ``channel_order`` is the order the network was trained on (``"RGB"``); runtimes convert.
    """

    mean: tuple[float, float, float] = (123.675, 116.28, 103.53)
    std: tuple[float, float, float] = (58.395, 57.12, 57.375)
    channel_order: str = "RGB"

    def __post_init__(self) -> None:
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3:
                raise SpecError(f"normalization.{name} must have 3 values, got {len(value)}")
            object.__setattr__(self, name, value)
        if any(s <= 0 for s in self.std):
            raise SpecError(f"normalization.std must be positive, got {self.std}")
        if self.channel_order not in ("RGB", "BGR"):
            raise SpecError(f"normalization.channel_order must be 'RGB' or 'BGR', got {self.channel_order!r}")


IMAGENET_NORMALIZATION = Normalization()


@dataclass(frozen=True)
class CropRule:
    """How a face box becomes the square network input.

    The crop is a square centred on the box centre shifted by ``(shift_x, shift_y)`` box
    sizes, with side ``scale * max(box_w, box_h)``. For 300W-style evaluation the box is
    the ground-truth landmark box and ``scale`` is 1.1; a face detector gets its own rule
    (calibrated so that its boxes give the same crops).
    """

    scale: float = 1.1
    shift_x: float = 0.0
    shift_y: float = 0.0

    def __post_init__(self) -> None:
        for name in ("scale", "shift_x", "shift_y"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not np.isfinite(v):
                raise SpecError(f"crop.{name} must be a finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if self.scale <= 0:
            raise SpecError(f"crop.scale must be positive, got {self.scale}")


@dataclass(frozen=True)
class ModelSpec:
    """Everything about a PIPNet model except its weights.

    Attributes:
        scheme: the landmark scheme.
        backbone: backbone name in :mod:`pipnet_edge.models` (e.g. ``"mobilenet_v2"``).
        input_size: side of the square input in pixels (e.g. 256).
        net_stride: stride of the feature map the heads run on (32 -> 8x8 map at 256).
        num_nb: neighbours each landmark regresses (NRM).
        mean_face: ``(N, 2)`` mean face in the unit square (x, y).
        neighbor_indices: ``(N, num_nb)`` neighbour table; the reverse index is derived.
        normalization: pixel normalisation the network expects.
        crop: crop rule from a ground-truth landmark box to the input square.
        point_bias: ``(N, 2)`` systematic error of the trained model's (NRM-merged) points in normalised
            crop coordinates, measured on labelled training faces after training
            (:func:`pipnet_edge.calibration.point_bias.measure_point_bias`); the decode subtracts it.
            ``None``: no correction. Flip augmentation leaves such a bias wherever the labels sit off the
            pixels they mark (300W: about half a crop pixel in x at 112 px, see the README).
        version: spec schema version.
        extra: free-form JSON-able details (training recipe, export settings, licence).
    """

    scheme: LandmarkScheme
    backbone: str
    input_size: int
    net_stride: int
    num_nb: int
    mean_face: tuple[tuple[float, float], ...]
    neighbor_indices: tuple[tuple[int, ...], ...]
    normalization: Normalization = IMAGENET_NORMALIZATION
    crop: CropRule = CropRule()
    point_bias: tuple[tuple[float, float], ...] | None = None
    version: int = SPEC_VERSION
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    # ----------------------------------------------------------------------------- checks
    def __post_init__(self) -> None:
        if not isinstance(self.scheme, LandmarkScheme):
            raise SpecError("scheme must be a LandmarkScheme")
        n = self.scheme.num_points
        for name in ("input_size", "net_stride", "num_nb", "version"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise SpecError(f"{name} must be a positive integer, got {v!r}")
            object.__setattr__(self, name, int(v))
        if self.version > SPEC_VERSION:
            raise SpecError(
                f"version {self.version} is newer than this pipnet-edge understands ({SPEC_VERSION}); "
                "upgrade pipnet-edge to load this model"
            )
        if self.input_size % self.net_stride:
            raise SpecError(f"input_size ({self.input_size}) must be a multiple of net_stride ({self.net_stride})")
        if not isinstance(self.backbone, str) or not self.backbone:
            raise SpecError(f"backbone must be a non-empty string, got {self.backbone!r}")
        mf = np.asarray(self.mean_face, dtype=np.float64)
        if mf.shape != (n, 2):
            raise SpecError(f"mean_face must have shape ({n}, 2) for scheme {self.scheme.name}, got {mf.shape}")
        if not np.isfinite(mf).all():
            raise SpecError("mean_face contains NaN or infinite values")
        object.__setattr__(self, "mean_face", tuple((float(x), float(y)) for x, y in mf))
        if not 1 <= self.num_nb < n:
            raise SpecError(f"num_nb must be between 1 and {n - 1} for {n} points, got {self.num_nb}")
        try:
            nb = np.asarray(self.neighbor_indices, dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"neighbor_indices must be a ({n}, {self.num_nb}) integer table: {exc}") from None
        if nb.shape != (n, self.num_nb):
            raise SpecError(f"neighbor_indices must have shape ({n}, {self.num_nb}), got {nb.shape}")
        if nb.min() < 0 or nb.max() >= n:
            raise SpecError(f"neighbor_indices must lie in 0..{n - 1}")
        if (nb == np.arange(n)[:, None]).any():
            raise SpecError("neighbor_indices lists a landmark as its own neighbour")
        object.__setattr__(self, "neighbor_indices", tuple(tuple(int(v) for v in row) for row in nb))
        if not isinstance(self.normalization, Normalization):
            raise SpecError("normalization must be a Normalization")
        if not isinstance(self.crop, CropRule):
            raise SpecError("crop must be a CropRule")
        if self.point_bias is not None:
            try:
                pb = np.asarray(self.point_bias, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise SpecError(f"point_bias must be a ({n}, 2) table of numbers: {exc}") from None
            if pb.shape != (n, 2):
                raise SpecError(f"point_bias must have shape ({n}, 2), got {pb.shape}")
            if not np.isfinite(pb).all() or np.abs(pb).max() >= 1.0:
                raise SpecError(f"point_bias must be finite and shorter than the crop side (largest {np.abs(pb).max():.3g})")
            object.__setattr__(self, "point_bias", tuple((float(x), float(y)) for x, y in pb))

    # ------------------------------------------------------------------------ factories
    @classmethod
    def create(
        cls,
        scheme: LandmarkScheme | str,
        mean_face: np.ndarray,
        *,
        backbone: str = "mobilenet_v2",
        input_size: int = 256,
        net_stride: int = 32,
        num_nb: int = 10,
        normalization: Normalization = IMAGENET_NORMALIZATION,
        crop: CropRule = CropRule(),
        extra: dict[str, Any] | None = None,
    ) -> "ModelSpec":
        """Build a spec, deriving the neighbour table from the mean face as the paper does."""
        if isinstance(scheme, str):
            scheme = get_scheme(scheme)
        mf = np.asarray(mean_face, dtype=np.float64)
        if mf.ndim != 2 or mf.shape[1] != 2:
            raise SpecError(f"mean_face must have shape (num_points, 2), got {mf.shape}")
        nb = nearest_neighbors(mf, num_nb)
        return cls(
            scheme=scheme,
            backbone=backbone,
            input_size=input_size,
            net_stride=net_stride,
            num_nb=num_nb,
            mean_face=tuple(map(tuple, mf)),
            neighbor_indices=tuple(map(tuple, nb)),
            normalization=normalization,
            crop=crop,
            extra=dict(extra or {}),
        )

    def replace(self, **changes: Any) -> "ModelSpec":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    # ------------------------------------------------------------------------- derived
    @property
    def num_points(self) -> int:
        return self.scheme.num_points

    @property
    def map_size(self) -> int:
        """Side of the score map (input_size / net_stride)."""
        return self.input_size // self.net_stride

    @cached_property
    def mean_face_array(self) -> np.ndarray:
        return np.asarray(self.mean_face, dtype=np.float32)

    @cached_property
    def point_bias_array(self) -> np.ndarray | None:
        """:attr:`point_bias` as ``(N, 2)`` float32, or ``None``."""
        return None if self.point_bias is None else np.asarray(self.point_bias, dtype=np.float32)

    @cached_property
    def neighbor_array(self) -> np.ndarray:
        return np.asarray(self.neighbor_indices, dtype=np.int64)

    @cached_property
    def reverse_index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(src_point, src_slot, valid)`` tables, see :func:`pipnet_edge.meanface.reverse_index`."""
        return reverse_index(self.neighbor_array, self.num_points)

    # ----------------------------------------------------------------------- JSON I/O
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "pipnet-edge/model-spec",
            "version": self.version,
            "scheme": self.scheme.to_dict(),
            "backbone": self.backbone,
            "input_size": self.input_size,
            "net_stride": self.net_stride,
            "num_nb": self.num_nb,
            "mean_face": [list(p) for p in self.mean_face],
            "neighbor_indices": [list(r) for r in self.neighbor_indices],
            "normalization": {
                "mean": list(self.normalization.mean),
                "std": list(self.normalization.std),
                "channel_order": self.normalization.channel_order,
            },
            "crop": {"scale": self.crop.scale, "shift_x": self.crop.shift_x, "shift_y": self.crop.shift_y},
            **({} if self.point_bias is None else {"point_bias": [list(p) for p in self.point_bias]}),
            "extra": self.extra,
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any) -> "ModelSpec":
        """Validate and load a spec dictionary; errors name the offending field."""
        if not isinstance(data, dict):
            raise SpecError(f"a model spec must be a JSON object, got {type(data).__name__}")
        if data.get("format", "pipnet-edge/model-spec") != "pipnet-edge/model-spec":
            raise SpecError(f"format must be 'pipnet-edge/model-spec', got {data.get('format')!r}")
        required = ("version", "scheme", "backbone", "input_size", "net_stride", "num_nb", "mean_face", "neighbor_indices")
        missing = [k for k in required if k not in data]
        if missing:
            raise SpecError(f"model spec is missing field(s): {', '.join(missing)}")
        version = data["version"]
        if isinstance(version, int) and version > SPEC_VERSION:
            raise SpecError(
                f"version {version} is newer than this pipnet-edge understands ({SPEC_VERSION}); "
                "upgrade pipnet-edge to load this model"
            )
        norm = data.get("normalization") or {}
        crop = data.get("crop") or {}
        if not isinstance(norm, dict):
            raise SpecError("normalization must be an object")
        if not isinstance(crop, dict):
            raise SpecError("crop must be an object")
        try:
            normalization = Normalization(
                mean=tuple(norm.get("mean", IMAGENET_NORMALIZATION.mean)),
                std=tuple(norm.get("std", IMAGENET_NORMALIZATION.std)),
                channel_order=norm.get("channel_order", "RGB"),
            )
        except TypeError as exc:
            raise SpecError(f"normalization is malformed: {exc}") from None
        unknown_crop = set(crop) - {"scale", "shift_x", "shift_y"}
        if unknown_crop:
            raise SpecError(f"crop has unknown field(s): {', '.join(sorted(unknown_crop))}")
        extra = data.get("extra") or {}
        if not isinstance(extra, dict):
            raise SpecError("extra must be an object")
        mean_face = data["mean_face"]
        if not isinstance(mean_face, list) or not all(isinstance(p, list) and len(p) == 2 for p in mean_face):
            raise SpecError("mean_face must be a list of [x, y] pairs")
        nbi = data["neighbor_indices"]
        if not isinstance(nbi, list) or not all(isinstance(r, list) for r in nbi):
            raise SpecError("neighbor_indices must be a list of integer lists")
        point_bias = data.get("point_bias")
        if point_bias is not None and (not isinstance(point_bias, list)
                                       or not all(isinstance(p, list) and len(p) == 2 for p in point_bias)):
            raise SpecError("point_bias must be a list of [x, y] pairs")
        return cls(
            scheme=LandmarkScheme.from_dict(data["scheme"]),
            backbone=data["backbone"],
            input_size=data["input_size"],
            net_stride=data["net_stride"],
            num_nb=data["num_nb"],
            mean_face=tuple(tuple(p) for p in mean_face),
            neighbor_indices=tuple(tuple(r) for r in nbi),
            normalization=normalization,
            crop=CropRule(**crop),
            point_bias=None if point_bias is None else tuple(tuple(p) for p in point_bias),
            version=version,
            extra=dict(extra),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelSpec":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"model spec is not valid JSON: {exc}") from None
        return cls.from_dict(data)

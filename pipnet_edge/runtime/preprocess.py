"""Image checks and crops: a photo + face boxes -> the network's input squares.

The crop maths is :mod:`pipnet_edge.runtime.geometry`, the same code training uses, so a
runtime crop of a ground-truth box equals the training crop of that face.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..spec import CropRule
from . import geometry

__all__ = ["as_rgb", "check_boxes", "crop_faces"]


def as_rgb(image, color_order: str = "RGB") -> np.ndarray:
    """Validate an image and return it as contiguous ``(H, W, 3)`` uint8 RGB.

    Accepts ``(H, W)`` grayscale, ``(H, W, 1)``, ``(H, W, 3)`` in ``color_order`` (``"RGB"``
    or ``"BGR"``, what ``cv2.imread`` returns) and ``(H, W, 4)`` RGBA / BGRA.
    """
    if color_order not in ("RGB", "BGR"):
        raise InputError(f"color_order must be 'RGB' or 'BGR', got {color_order!r}")
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"image must be uint8 (0-255 pixels), got dtype {image.dtype}; convert with np.clip(img, 0, 255).astype(np.uint8)")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise InputError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image is empty (shape {image.shape})")
    c = image.shape[2]
    if c == 1:
        return np.ascontiguousarray(np.repeat(image, 3, axis=2))
    if c == 4:
        image = image[:, :, :3]
    if color_order == "BGR":
        image = image[:, :, ::-1]
    return np.ascontiguousarray(image)


def check_boxes(boxes, width: int, height: int) -> np.ndarray:
    """Validate face boxes ``(K, 4)`` as ``[x0, y0, x1, y1]`` pixels; returns float64 array."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim == 1 and b.size == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4:
        raise InputError(f"boxes must have shape (K, 4) as [x0, y0, x1, y1], got {b.shape}")
    if not np.isfinite(b).all():
        raise InputError("boxes contain NaN or infinite values")
    bad = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    if bad.any():
        raise InputError(f"box {b[bad][0].tolist()} is empty: x1 must exceed x0 and y1 must exceed y0")
    outside = (b[:, 2] <= 0) | (b[:, 3] <= 0) | (b[:, 0] >= width) | (b[:, 1] >= height)
    if outside.any():
        raise InputError(f"box {b[outside][0].tolist()} lies entirely outside the {width}x{height} image")
    return b


def crop_faces(image_rgb: np.ndarray, boxes: np.ndarray, rule: CropRule, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Warp each box to the input square: ``(K, S, S, 3)`` uint8 crops and ``(K, 2, 3)`` matrices."""
    import cv2

    crops = np.empty((len(boxes), input_size, input_size, 3), np.uint8)
    mats = np.empty((len(boxes), 2, 3), np.float64)
    for k, box in enumerate(boxes):
        cx, cy, side = geometry.crop_square(box, rule.scale, rule.shift_x, rule.shift_y)
        m = geometry.crop_matrix(cx, cy, side, input_size)
        crops[k] = cv2.warpAffine(image_rgb, m, (input_size, input_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mats[k] = m
    return crops, mats

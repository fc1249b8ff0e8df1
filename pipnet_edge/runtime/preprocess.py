"""Image checks and crops: a photo + face boxes -> the network's input squares.

The crop maths is :mod:`pipnet_edge.runtime.geometry`, the same code training uses, so a
runtime crop of a ground-truth box equals the training crop of that face.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..spec import CropRule
from . import geometry

__all__ = ["as_image", "check_boxes", "crop_faces", "crop_regions", "box_regions", "roll_angles", "points_region"]


def as_image(image, color_order: str = "RGB") -> np.ndarray:
    """Validate an image and return it as contiguous ``(H, W, 3)`` uint8, still in ``color_order``.

    Accepts ``(H, W)`` grayscale, ``(H, W, 1)``, ``(H, W, 3)`` in ``color_order`` (``"RGB"`` or
    ``"BGR"``, what ``cv2.imread`` returns) and ``(H, W, 4)`` RGBA / BGRA (alpha dropped). A
    contiguous 3-channel image is returned as is (no copy): the channel order is left to the
    consumers, so a BGR photo is never converted whole.

    Raises:
        InputError: not a numpy array, not uint8, a shape that is not an image, or an empty image.
    """
    import cv2

    if color_order not in ("RGB", "BGR"):
        raise InputError(f"color_order must be 'RGB' or 'BGR', got {color_order!r}")
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(
            f"image must be uint8 (0-255 pixels), got dtype {image.dtype}; convert with np.clip(img, 0, 255).astype(np.uint8)"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise InputError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image is empty (shape {image.shape})")
    c = image.shape[2]
    if c == 1:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_GRAY2RGB)
    if c == 4:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2RGB)  # drops alpha, keeps the order
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


def box_regions(boxes: np.ndarray, rule: CropRule, angles: np.ndarray | None = None) -> np.ndarray:
    """Crop regions ``(K, 4)`` as ``[cx, cy, side, angle_deg]`` for face boxes under a crop rule.

    ``angles`` are the faces' roll (degrees, counter-clockwise on screen, see :func:`roll_angles`):
    the rule's shift then follows the face's own axes, and :func:`crop_regions` turns the face upright.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    regions = np.zeros((len(boxes), 4))
    for k, box in enumerate(boxes):
        cx, cy, side = geometry.crop_square(box, rule.scale)
        w, h = box[2] - box[0], box[3] - box[1]
        a = 0.0 if angles is None else float(angles[k])
        # the shift in the face's frame: screen axes turned by the roll (y points down on screen)
        r = np.radians(a)
        dx, dy = rule.shift_x * w, rule.shift_y * h
        regions[k] = cx + dx * np.cos(r) + dy * np.sin(r), cy - dx * np.sin(r) + dy * np.cos(r), side, a
    return regions


def roll_angles(left_eye: np.ndarray, right_eye: np.ndarray) -> np.ndarray:
    """Roll of each face, degrees counter-clockwise on screen, from its eye centres ``(K, 2)`` each
    (``left_eye``: the eye on the image's left). 0 for a level face."""
    d = np.asarray(right_eye, np.float64) - np.asarray(left_eye, np.float64)
    return -np.degrees(np.arctan2(d[:, 1], d[:, 0]))


def crop_regions(image_rgb: np.ndarray, regions: np.ndarray, input_size: int,
                 color_order: str = "RGB") -> tuple[np.ndarray, np.ndarray]:
    """Warp each ``[cx, cy, side, roll]`` region to the input square, the face turned upright:
    ``(K, S, S, 3)`` uint8 RGB crops and the ``(K, 2, 3)`` image-to-crop matrices. A ``"BGR"`` image
    is cropped as it is and only the small crops are reordered."""
    import cv2

    crops = np.empty((len(regions), input_size, input_size, 3), np.uint8)
    mats = np.empty((len(regions), 2, 3), np.float64)
    for k, (cx, cy, side, angle) in enumerate(np.asarray(regions, np.float64).reshape(-1, 4)):
        m = geometry.crop_matrix(cx, cy, side, input_size, -angle)
        crops[k] = cv2.warpAffine(image_rgb, m, (input_size, input_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        mats[k] = m
    if color_order == "BGR":
        crops = np.ascontiguousarray(crops[..., ::-1])
    return crops, mats


def crop_faces(image_rgb: np.ndarray, boxes: np.ndarray, rule: CropRule, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Warp each box to the input square: ``(K, S, S, 3)`` uint8 crops and ``(K, 2, 3)`` matrices."""
    return crop_regions(image_rgb, box_regions(boxes, rule), input_size)


def points_region(pts: np.ndarray, spec, align: bool = True) -> np.ndarray:
    """The crop region ``[cx, cy, side, roll]`` of a face whose landmarks ``pts`` are known (a track's last frame, or a
    first pass): their box under the model's own (300W) crop rule ``spec.crop``, measured and cut in the face's upright
    frame when ``align`` and the scheme's normalising eye points say it is rolled."""
    scheme = spec.scheme
    roll = 0.0
    if align and scheme.norm == "points" and scheme.norm_indices is not None:
        a, b = scheme.norm_indices
        roll = float(roll_angles(pts[a][None], pts[b][None])[0])
    if roll == 0.0:
        return box_regions(geometry.box_from_points(pts)[None], spec.crop)[0]
    centre = pts.mean(0)
    r = np.radians(roll)
    rot = np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])  # screen -> upright face frame
    box = geometry.box_from_points((pts - centre) @ rot.T)
    region = box_regions(box[None], spec.crop)[0]  # in the upright frame
    region[:2] = centre + rot.T @ region[:2]  # back to screen coordinates
    region[3] = roll
    return region

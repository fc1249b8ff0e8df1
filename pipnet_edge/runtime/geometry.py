"""Crop geometry shared by training and the runtime: face box -> affine warp -> input square.

Pixel convention: 0-based pixel coordinates with pixel centres at integers (what OpenCV's
``warpAffine`` uses). A crop of side ``s`` centred on ``c`` maps to the ``S x S`` input by

    p_crop = k * R(angle) @ (p_image - c) + (S / 2 - 0.5),    k = S / s

and normalised crop coordinates are ``u = (p_crop + 0.5) / S`` (the input spans [0, 1]).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError

__all__ = [
    "box_from_points",
    "crop_square",
    "crop_matrix",
    "flip_matrix",
    "compose",
    "invert",
    "apply",
    "to_normalized",
    "from_normalized",
]


def box_from_points(points: np.ndarray) -> np.ndarray:
    """Tight box ``[x0, y0, x1, y1]`` around ``(N, 2)`` points."""
    p = np.asarray(points, dtype=np.float64)
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])


def crop_square(box, scale: float, shift_x: float = 0.0, shift_y: float = 0.0) -> tuple[float, float, float]:
    """Centre and side ``(cx, cy, side)`` of the square crop for ``box`` under a crop rule."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InputError(f"box {list(box)} contains NaN or infinite values")
    if w <= 0 or h <= 0:
        raise InputError(f"box {list(box)} is empty: x1 must exceed x0 and y1 must exceed y0")
    cx = (x0 + x1) / 2.0 + shift_x * w
    cy = (y0 + y1) / 2.0 + shift_y * h
    return cx, cy, scale * max(w, h)


def crop_matrix(cx: float, cy: float, side: float, input_size: int, angle_deg: float = 0.0) -> np.ndarray:
    """2x3 affine from image pixels to input pixels (rotation in degrees, counter-clockwise)."""
    k = input_size / side
    a = math.radians(angle_deg)
    cos, sin = math.cos(a) * k, math.sin(a) * k
    half = input_size / 2.0 - 0.5
    # image y axis points down: a positive angle turns the face counter-clockwise on screen
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    m[:, 2] = np.array([half, half]) - m[:, :2] @ np.array([cx, cy])
    return m


def flip_matrix(input_size: int) -> np.ndarray:
    """Horizontal mirror inside the input square."""
    return np.array([[-1.0, 0.0, input_size - 1.0], [0.0, 1.0, 0.0]])


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Affine ``second o first`` (apply ``first``, then ``second``)."""
    a = np.vstack([second, [0.0, 0.0, 1.0]])
    b = np.vstack([first, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


def invert(m: np.ndarray) -> np.ndarray:
    full = np.vstack([np.asarray(m, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to ``(..., 2)`` points."""
    p = np.asarray(points, dtype=np.float64)
    return p @ np.asarray(m)[:, :2].T + np.asarray(m)[:, 2]


def to_normalized(points_px: np.ndarray, input_size: int) -> np.ndarray:
    return (np.asarray(points_px, dtype=np.float64) + 0.5) / input_size


def from_normalized(points_norm: np.ndarray, input_size: int) -> np.ndarray:
    return np.asarray(points_norm, dtype=np.float64) * input_size - 0.5

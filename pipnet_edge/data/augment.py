"""The paper's augmentations, as one affine warp plus a few photometric changes.

Geometric changes (shift, scale, rotation, mirror) are folded into the single crop affine,
so each training image is resampled once from the source photo (small faces are upscaled by
that warp); the optional yaw-like warp (:mod:`.yaw_warp`, off by default) bends that crop to turn
the face, in the same single resampling. Photometric changes (occlusion, blur, grayscale, and
optionally low resolution: shrinking the crop to a few dozen pixels and scaling it back, as a small
face in a photo looks) are applied to the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..runtime import geometry

__all__ = ["AugmentConfig", "photometric", "sample_affine", "sample_yaw"]


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation probabilities and ranges (defaults follow PIPNet's training code)."""

    flip_prob: float = 0.5
    rotate_prob: float = 0.5
    max_rotation: float = 30.0
    shift_prob: float = 0.5
    max_shift: float = 0.1  # fraction of the crop side
    scale_range: tuple[float, float] = (0.95, 1.05)
    occlusion_prob: float = 0.5
    max_occlusion: float = 0.4  # fraction of the input side
    blur_prob: float = 0.3
    gray_prob: float = 0.2
    lowres_prob: float = 0.0  # off by default; 0 draws no random numbers, so other augmentations are unchanged
    lowres_side: tuple[int, int] = (32, 72)  # pixels the crop is shrunk to (uniform), then scaled back up
    yaw_prob: float = 0.0  # off by default (no random numbers drawn); the 3D yaw-like warp of .yaw_warp, 68 points
    max_yaw: float = 35.0  # degrees, uniform in [-max_yaw, max_yaw] (30 degrees on the mean face is pose proxy 0.36)

    def __post_init__(self) -> None:
        for name in ("flip_prob", "rotate_prob", "shift_prob", "occlusion_prob", "blur_prob", "gray_prob",
                     "lowres_prob", "yaw_prob"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"augmentation {name} must be a probability in [0, 1], got {v}")
        if not 0.0 <= self.max_yaw < 90.0:
            raise ValueError(f"augmentation max_yaw must be in [0, 90) degrees, got {self.max_yaw}")


def sample_affine(
    cx: float, cy: float, side: float, input_size: int, cfg: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """A random crop affine around ``(cx, cy, side)``; returns ``(matrix, flipped)``."""
    if rng.random() < cfg.shift_prob:
        cx += rng.uniform(-cfg.max_shift, cfg.max_shift) * side
        cy += rng.uniform(-cfg.max_shift, cfg.max_shift) * side
    side *= rng.uniform(*cfg.scale_range)
    angle = rng.uniform(-cfg.max_rotation, cfg.max_rotation) if rng.random() < cfg.rotate_prob else 0.0
    m = geometry.crop_matrix(cx, cy, side, input_size, angle)
    flipped = bool(rng.random() < cfg.flip_prob)
    if flipped:
        m = geometry.compose(geometry.flip_matrix(input_size), m)
    return m, flipped


def sample_yaw(cfg: AugmentConfig, rng: np.random.Generator) -> float | None:
    """Degrees of the yaw-like warp (:mod:`.yaw_warp`) for one crop, or ``None`` (no warp); draws nothing when
    ``cfg.yaw_prob`` is 0."""
    if cfg.yaw_prob > 0 and rng.random() < cfg.yaw_prob:
        return float(rng.uniform(-cfg.max_yaw, cfg.max_yaw))
    return None


def photometric(image: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Occlusion, blur, grayscale and low resolution on an ``(S, S, 3)`` uint8 crop (returns a new array).

    Low resolution shrinks the crop to a side drawn from ``cfg.lowres_side`` (absolute pixels, so a
    teacher crop of another size keeps the same detail) with area averaging and scales it back
    bilinearly; sides at or above the crop's are skipped.
    """
    import cv2

    img = image
    s = img.shape[0]
    if rng.random() < cfg.occlusion_prob:
        ow, oh = (rng.uniform(0.05, cfg.max_occlusion, size=2) * s).astype(int)
        x0, y0 = rng.integers(0, s - ow + 1), rng.integers(0, s - oh + 1)
        img = img.copy()
        img[y0 : y0 + oh, x0 : x0 + ow] = rng.integers(0, 256, size=3, dtype=np.uint8)
    if rng.random() < cfg.blur_prob:
        sigma = rng.uniform(0.5, 2.0)
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < cfg.gray_prob:
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        img = np.repeat(g[:, :, None], 3, axis=2)
    if cfg.lowres_prob > 0 and rng.random() < cfg.lowres_prob:
        side = int(rng.integers(cfg.lowres_side[0], cfg.lowres_side[1] + 1))
        if side < s:
            small = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
            img = cv2.resize(small, (s, s), interpolation=cv2.INTER_LINEAR)
    return img

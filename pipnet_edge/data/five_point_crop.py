"""The crop of a face known by five points: estimate its 68-point landmark box, then crop as labelled faces are.

A labelled 300W face is cropped from its landmark box (the tight box of its 68 points) by the
model's :class:`~pipnet_edge.spec.CropRule`. A face with five points only (MTFL: eye centres,
nose tip, mouth corners) gets an *estimate* of that landmark box, so the same crop rule (and
the same augmentation) turns it into the crop a labelled face gets:

* scale ``s`` = eye-centre distance + distance from the eyes' midpoint to the mouth corners'
  midpoint (steadier under yaw and roll than the 5-point box's side);
* centre = centre of the 5 points' tight box + ``s * (shift_x + yaw_gain * yaw, shift_y)``, with
  ``yaw`` = horizontal offset of the nose tip from the mean of the eyes and mouth corners, in
  units of ``s`` (a turned face's jaw line moves its landmark box sideways);
* side = ``side * s``; the estimated box is square.

The constants are fitted on the 2,012 300W training faces (their 68 points -> 5 points ->
the landmark box), medians as for the detectors' crop rules, the yaw gain by least squares.
Reproduce them with::

    python -m pipnet_edge.data.five_point_crop --data ../shared/data/300w/train

Small faces (MTFL's are 80x80 photos, ~35-50 px wide) are upscaled by the crop's affine warp.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError

__all__ = ["FIVE_POINT_BOX_RULE", "FivePointBoxRule", "fit_five_point_box_rule", "landmark_box_from_five"]


@dataclass(frozen=True)
class FivePointBoxRule:
    """Five points -> estimated 68-point landmark box (see the module docstring for the formula)."""

    side: float
    shift_x: float
    shift_y: float
    yaw_gain: float


# fitted on the 2,012 faces of ../shared/data/300w/train
# (`python -m pipnet_edge.data.five_point_crop --data ../shared/data/300w/train`);
# there the estimated box's centre is off by 3.6 % of its side (median; 7.0 % at p90; a 7.5 % median without the
# yaw term) and its side by 4.6 % (median; 11 % at p90). Training augmentation shifts crops by up to 10 % of their side.
FIVE_POINT_BOX_RULE = FivePointBoxRule(side=1.1452, shift_x=0.0016, shift_y=0.0789, yaw_gain=-1.1868)


def _frame(points5: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Box-centre x, y, scale ``s`` and yaw cue of ``(F, 5, 2)`` points."""
    p = np.asarray(points5, dtype=np.float64)
    eye_mid = (p[:, 0] + p[:, 1]) / 2
    mouth_mid = (p[:, 3] + p[:, 4]) / 2
    s = np.linalg.norm(p[:, 1] - p[:, 0], axis=-1) + np.linalg.norm(mouth_mid - eye_mid, axis=-1)
    if not np.isfinite(p).all():
        raise InputError("five-point coordinates contain NaN or infinite values")
    if (s <= 0).any():
        raise InputError("a five-point face has coincident eyes and mouth (zero size); check its annotation")
    bx = (p[..., 0].min(1) + p[..., 0].max(1)) / 2
    by = (p[..., 1].min(1) + p[..., 1].max(1)) / 2
    yaw = (p[:, 2, 0] - p[:, [0, 1, 3, 4], 0].mean(1)) / s
    return bx, by, s, yaw


def landmark_box_from_five(points5: np.ndarray, rule: FivePointBoxRule = FIVE_POINT_BOX_RULE) -> np.ndarray:
    """Estimated landmark box ``[x0, y0, x1, y1]`` of ``(5, 2)`` points, or ``(F, 4)`` boxes of ``(F, 5, 2)``."""
    p = np.asarray(points5, dtype=np.float64)
    single = p.ndim == 2
    if single:
        p = p[None]
    if p.ndim != 3 or p.shape[1:] != (5, 2):
        raise InputError(f"five points must have shape (5, 2) or (faces, 5, 2), got {np.shape(points5)}")
    bx, by, s, yaw = _frame(p)
    cx = bx + s * (rule.shift_x + rule.yaw_gain * yaw)
    cy = by + s * rule.shift_y
    half = rule.side * s / 2
    boxes = np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)
    return boxes[0] if single else boxes


def fit_five_point_box_rule(points68: np.ndarray) -> tuple[FivePointBoxRule, dict]:
    """Fit the rule on ``(F, 68, 2)`` 300W faces; returns the rule and how well it fits (crop errors)."""
    from ..five_point import five_from_68

    p68 = np.asarray(points68, dtype=np.float64)
    if p68.ndim != 3 or p68.shape[1:] != (68, 2) or len(p68) < 10:
        raise InputError(f"fit the five-point box rule on at least 10 faces of 68 points, got shape {p68.shape}")
    bx, by, s, yaw = _frame(five_from_68(p68))
    gx0, gy0 = p68[..., 0].min(1), p68[..., 1].min(1)
    gx1, gy1 = p68[..., 0].max(1), p68[..., 1].max(1)
    gside = np.maximum(gx1 - gx0, gy1 - gy0)
    dx = ((gx0 + gx1) / 2 - bx) / s
    dy = ((gy0 + gy1) / 2 - by) / s
    gain = float(np.polyfit(yaw, dx, 1)[0])
    rule = FivePointBoxRule(
        side=round(float(np.median(gside / s)), 4),
        shift_x=round(float(np.median(dx - gain * yaw)), 4),
        shift_y=round(float(np.median(dy)), 4),
        yaw_gain=round(gain, 4),
    )
    est = landmark_box_from_five(five_from_68(p68), rule)
    centre_err = np.hypot((est[:, 0] + est[:, 2]) / 2 - (gx0 + gx1) / 2, (est[:, 1] + est[:, 3]) / 2 - (gy0 + gy1) / 2) / gside
    side_err = np.abs(np.log((est[:, 2] - est[:, 0]) / gside))
    stats = {
        "faces": len(p68),
        "centre_error_of_side_median": round(float(np.median(centre_err)), 4),
        "centre_error_of_side_p90": round(float(np.percentile(centre_err, 90)), 4),
        "side_abs_log_error_median": round(float(np.median(side_err)), 4),
        "side_abs_log_error_p90": round(float(np.percentile(side_err, 90)), 4),
    }
    return rule, stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.data.five_point_crop", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of 300W-68 training faces (image + .pts); never the test set")
    args = p.parse_args(argv)
    from ..data.annotations import load_faces, stack_points
    from ..errors import PipnetEdgeError

    try:
        rule, stats = fit_five_point_box_rule(stack_points(load_faces(args.data)))
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"five_point_box_rule": asdict(rule), **stats}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

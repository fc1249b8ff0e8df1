"""Fit a face detector's crop rule on labelled faces: ``python -m pipnet_edge.calibration.crop_rules``.

A detector's boxes sit on a face in their own way (YuNet's are taller than the landmark box,
Haar's are centred low), so each detector gets a :class:`~pipnet_edge.spec.CropRule` that maps
its boxes onto the crops the landmark model was trained on: the ground-truth landmark box
enlarged by the model's crop scale (300W protocol). The rule is fitted as medians over the
faces the detector finds. Run it on TRAINING faces, never the test set::

    python -m pipnet_edge.calibration.crop_rules --detector yunet --data ../shared/data/300w/train

With keypoints (YuNet, BlazeFace) and alignment on, the shift is measured in each face's own
frame (turned by the roll of its eye keypoints), exactly as the Landmarker applies it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import numpy as np

from ..errors import DataError
from ..runtime.detectors import FaceDetector, as_detections, box_iou
from ..runtime.preprocess import roll_angles
from ..spec import CropRule

__all__ = ["calibrate_crop_rule", "main"]


def calibrate_crop_rule(
    detector: FaceDetector,
    images: Sequence[np.ndarray],
    landmark_boxes: Sequence[np.ndarray],
    target: CropRule,
    *,
    align: bool = True,
    min_iou: float = 0.3,
) -> tuple[CropRule, dict]:
    """The crop rule that turns this detector's boxes into the crops ``target`` makes from
    ground-truth landmark boxes (medians over the faces the detector finds with IoU >= ``min_iou``).

    Raises:
        DataError: the detector found none of the faces.
    """
    sx, sy, sc = [], [], []
    for img, lb in zip(images, landmark_boxes):
        found = as_detections(detector.detect(img))
        if len(found) == 0:
            continue
        iou = box_iou(found.boxes, np.asarray(lb)[None])[:, 0]
        k = int(iou.argmax())
        if iou[k] < min_iou:
            continue
        d = found.boxes[k].astype(np.float64)
        dw, dh = d[2] - d[0], d[3] - d[1]
        gx0, gy0, gx1, gy1 = lb
        gw, gh = gx1 - gx0, gy1 - gy0
        # the target crop: centre of the landmark box + target shift, side target.scale * max(gw, gh)
        tcx = (gx0 + gx1) / 2 + target.shift_x * gw
        tcy = (gy0 + gy1) / 2 + target.shift_y * gh
        dx, dy = tcx - (d[0] + d[2]) / 2, tcy - (d[1] + d[3]) / 2
        roll = 0.0
        if align and found.keypoints is not None and found.keypoints.shape[1] >= 2:
            roll = float(roll_angles(found.keypoints[k : k + 1, 0], found.keypoints[k : k + 1, 1])[0])
        r = np.radians(roll)
        # screen offset -> the face's frame (inverse of the rotation preprocess.box_regions applies)
        fx, fy = dx * np.cos(r) - dy * np.sin(r), dx * np.sin(r) + dy * np.cos(r)
        sx.append(fx / dw)
        sy.append(fy / dh)
        sc.append(target.scale * max(gw, gh) / max(dw, dh))
    if not sc:
        raise DataError("the detector found none of the calibration faces")
    rule = CropRule(scale=float(np.median(sc)), shift_x=float(np.median(sx)), shift_y=float(np.median(sy)))
    stats = {"faces": len(images), "matched": len(sc), "detection_rate": len(sc) / len(images),
             "scale_iqr": [float(np.percentile(sc, 25)), float(np.percentile(sc, 75))],
             "shift_y_iqr": [float(np.percentile(sy, 25)), float(np.percentile(sy, 75))]}
    return rule, stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.calibration.crop_rules", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--detector", default="yunet", help="a bundled detector name (yunet, blazeface-short, blazeface-full, haar)")
    p.add_argument("--data", required=True, help="folder of image + .pts faces (TRAINING faces)")
    p.add_argument("--scale", type=float, default=1.1, help="the model's crop scale for landmark boxes")
    p.add_argument("--no-align", action="store_true", help="measure shifts on screen axes (for detectors run without alignment)")
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args(argv)
    import cv2

    from ..data.annotations import load_300w_folder
    from ..runtime import geometry
    from ..runtime.detectors import create_detector

    det = create_detector(args.detector)
    recs = load_300w_folder(args.data)
    if args.limit:
        recs = recs[: args.limit]
    images = [cv2.cvtColor(cv2.imread(str(r.image_path)), cv2.COLOR_BGR2RGB) for r in recs]
    boxes = [geometry.box_from_points(r.points) for r in recs]
    rule, stats = calibrate_crop_rule(det, images, boxes, CropRule(scale=args.scale), align=not args.no_align)
    out = {"detector": args.detector, "crop_rule": {"scale": round(rule.scale, 4), "shift_x": round(rule.shift_x, 4),
                                                    "shift_y": round(rule.shift_y, 4)}, **stats}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

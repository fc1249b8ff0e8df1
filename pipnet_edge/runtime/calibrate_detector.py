"""``python -m pipnet_edge.runtime.calibrate_detector``: fit a detector's crop rule on labelled faces.

The rule maps the detector's boxes to the crops the model was trained on (the ground-truth
landmark box enlarged by the model's crop scale). Run it on training faces, never the test set::

    python -m pipnet_edge.runtime.calibrate_detector --detector haar --data ../shared/data/300w/train
"""

from __future__ import annotations

import argparse
import json
import sys

from ..spec import CropRule


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.runtime.calibrate_detector", description=__doc__)
    p.add_argument("--detector", default="haar", help="haar, or a YuNet .onnx path")
    p.add_argument("--data", required=True, help="folder of image + .pts faces (training faces)")
    p.add_argument("--scale", type=float, default=1.1, help="the model's crop scale for landmark boxes")
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args(argv)
    import cv2

    from ..data.annotations import load_300w_folder
    from . import geometry
    from .detectors import HaarFaceDetector, YuNetFaceDetector, calibrate_crop_rule

    det = HaarFaceDetector() if args.detector == "haar" else YuNetFaceDetector(args.detector, calibrating=True)
    recs = load_300w_folder(args.data)
    if args.limit:
        recs = recs[: args.limit]
    images = [cv2.cvtColor(cv2.imread(str(r.image_path)), cv2.COLOR_BGR2RGB) for r in recs]
    boxes = [geometry.box_from_points(r.points) for r in recs]
    rule, stats = calibrate_crop_rule(det, images, boxes, CropRule(scale=args.scale))
    print(json.dumps({"crop_rule": {"scale": round(rule.scale, 4), "shift_x": round(rule.shift_x, 4), "shift_y": round(rule.shift_y, 4)}, **stats}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

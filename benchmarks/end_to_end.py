"""End to end on whole photos: face detector + landmarker, against ground-truth-box crops.

    python benchmarks/end_to_end.py --data ../shared/data/300w/test_full --out benchmarks/results

For each photo (one annotated face each) the default detector runs; the detected face that
overlaps the annotated one is scored. Reports the detection rate, NME with detector boxes and
with ground-truth boxes (same model, same photos), and the per-stage latency per face:
detect, preprocess (crop), inference, decode.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipnet_edge.data.annotations import load_300w_folder  # noqa: E402
from pipnet_edge.metrics import summarize  # noqa: E402
from pipnet_edge.runtime import Landmarker, geometry  # noqa: E402
from pipnet_edge.runtime.decode import decode_nhwc  # noqa: E402
from pipnet_edge.runtime.detectors import box_iou  # noqa: E402
from pipnet_edge.runtime.preprocess import crop_faces  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--model", default=None, help="artifact (default: the bundled model)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args(argv)
    import cv2

    recs = load_300w_folder(args.data)
    if args.limit:
        recs = recs[: args.limit]
    lm = Landmarker(args.model, num_threads=args.threads)
    det = lm.detector
    spec = lm.spec
    stages = {"detect": [], "preprocess": [], "inference": [], "decode": []}
    det_pts, det_truth, gt_pts, found, missed = [], [], [], [], 0
    for i, r in enumerate(recs):
        img = cv2.cvtColor(cv2.imread(str(r.image_path)), cv2.COLOR_BGR2RGB)
        gt_box = geometry.box_from_points(r.points)
        t0 = time.perf_counter()
        boxes = det.detect(img)
        stages["detect"].append(time.perf_counter() - t0)
        # ground-truth box crop (the 300W protocol) for the reference figure
        gt_pts.append(lm.detect(img, gt_box).points[0])
        if len(boxes) == 0 or box_iou(boxes[:, :4], gt_box[None]).max() < 0.3:
            missed += 1
            continue
        k = int(box_iou(boxes[:, :4], gt_box[None])[:, 0].argmax())
        t0 = time.perf_counter()
        crops, mats = crop_faces(img, boxes[k : k + 1, :4], det.crop_rule, spec.input_size)
        t1 = time.perf_counter()
        outs = lm.backend.run(crops)
        t2 = time.perf_counter()
        pts, _ = decode_nhwc(outs, lm.tables)
        img_pts = geometry.apply(geometry.invert(mats[0]), geometry.from_normalized(pts[0], spec.input_size))
        t3 = time.perf_counter()
        stages["preprocess"].append(t1 - t0)
        stages["inference"].append(t2 - t1)
        stages["decode"].append(t3 - t2)
        det_pts.append(img_pts)
        det_truth.append(r.points)
        found.append(i)
    truth = np.stack([r.points for r in recs])
    s_gt = summarize(np.stack(gt_pts), truth, spec.scheme)
    s_det = summarize(np.stack(det_pts), np.stack(det_truth), spec.scheme)
    # the same (detected) faces with ground-truth boxes, for a like-for-like comparison
    s_gt_found = summarize(np.stack([gt_pts[i] for i in found]), np.stack(det_truth), spec.scheme)
    result = {
        "model": str(lm.path.name),
        "photos": len(recs),
        "detection_rate": round(1 - missed / len(recs), 4),
        "nme_detector_boxes": round(s_det.nme, 3),
        "nme_gt_boxes_same_faces": round(s_gt_found.nme, 3),
        "nme_gt_boxes_all_faces": round(s_gt.nme, 3),
        "failure_rate_detector": round(s_det.failure_rate, 2),
        "stage_ms_median": {k: round(float(np.median(v)) * 1000, 3) for k, v in stages.items() if v},
        "threads": args.threads,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "end_to_end.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

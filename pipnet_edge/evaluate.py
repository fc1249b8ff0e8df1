"""``python -m pipnet_edge.evaluate``: accuracy of a model on labelled faces.

``--model`` is a checkpoint (float ``.safetensors``/``.pt``, QAT ``.safetensors``), an exported
artifact (``.tflite``/``.onnx``/``.xml``) or a bundled name; all go through the same crops
(ground-truth landmark boxes, the 300W protocol) and the runtime's decode.

Writes NME, failure rate and AUC at 0.10, per-landmark error (JSON), a per-landmark chart
and a grid of predicted (red) vs true (green) points on the worst faces (PNG).

Example::

    python -m pipnet_edge.evaluate --model runs/mbv2/final.safetensors --data ../shared/data/300w/test --out runs/eval

The in-the-wild check: ``--five-point LIST`` evaluates on an MTFL-style five-point list instead, by
default only its held-out faces (the 1,000 of ``pipnet_edge/data/splits/mtfl_held_out.txt``, never
trained on; ``--five-point-all`` takes every face of the list). Faces are cropped from the landmark
box their five points give (:mod:`pipnet_edge.data.five_point_crop`), the model's 68 points are
reduced to five (:func:`pipnet_edge.five_point.five_from_68`) and the NME is normalised by the
eye-centre distance::

    python -m pipnet_edge.evaluate --model lite --five-point ../shared/data/mtfl/train_5pt.txt
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from .errors import PipnetEdgeError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder of image + .pts faces, or a PIPNet list file")
    src.add_argument("--five-point", metavar="LIST",
                     help="MTFL-style five-point list (path x1..x5 y1..y5): the in-the-wild check")
    p.add_argument("--five-point-all", action="store_true",
                   help="with --five-point: every face of LIST, not only the held-out split")
    p.add_argument("--json", help="write the summary JSON here")
    p.add_argument("--out", help="folder for the JSON, the per-landmark chart and the overlay grid")
    p.add_argument("--limit", type=int, help="evaluate the first N faces only")
    p.add_argument("--backend", default="auto")
    p.add_argument("--threads", type=int)
    p.add_argument("--no-nrm", action="store_true", help="decode without the neighbour merge")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        from .data.annotations import load_faces
        from .evaluation import open_predictor, predict_faces
        from .metrics import summarize

        if args.five_point:
            from .data.mtfl import HELD_OUT_SPLIT, load_held_out_faces

            records = load_held_out_faces(args.five_point, None if args.five_point_all else HELD_OUT_SPLIT)
        else:
            records = load_faces(args.data)
        if args.limit:
            records = records[: args.limit]
        predictor = open_predictor(args.model, args.backend, args.threads, use_nrm=not args.no_nrm)
        if args.five_point and predictor.spec.scheme.name != "300w-68":
            raise PipnetEdgeError(f"--five-point maps 300W-68 points to five; the model predicts {predictor.spec.scheme.name}")
        if not args.five_point and predictor.spec.num_points != records[0].points.shape[0]:
            raise PipnetEdgeError(
                f"the model predicts {predictor.spec.num_points} points, the data has {records[0].points.shape[0]}")
        t0 = time.time()
        preds = predict_faces(predictor, records, progress=True)
        seconds = time.time() - t0
        by_pose = None
        if args.five_point:
            from .five_point import five_from_68, five_point_by_pose, five_point_summary

            s = five_point_summary(preds.points, preds.truth)
            by_pose = five_point_by_pose(preds.points, preds.truth)
            preds.points = five_from_68(preds.points).astype("float32")  # the overlay draws the five points
        else:
            s = summarize(preds.points, preds.truth, predictor.spec.scheme)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {"model": str(args.model), "predictor": predictor.name, "data": str(args.five_point or args.data),
               "seconds": round(seconds, 1)}
    if args.five_point:
        summary.update({"five_point": True, "split": "all" if args.five_point_all else "held-out",
                        "normalised_by": "eye centres"})
    summary.update(s.to_dict(with_faces=True))
    what = "5-point NME (eye centres)" if args.five_point else "NME"
    print(f"{predictor.name}: {what} {s.nme:.3f} %  FR@0.1 {s.failure_rate:.2f} %  AUC@0.1 {s.auc:.4f}  "
          f"({s.faces} faces, {seconds:.1f} s)")
    if by_pose is not None:
        summary["by_pose"] = [{"pose_proxy": label, "faces": b.faces if b else 0,
                               "nme_percent": round(b.nme, 4) if b else None,
                               "failure_rate_percent": round(b.failure_rate, 3) if b else None} for label, b in by_pose]
        print("by pose (|nose offset from the eyes' midpoint| / inter-ocular distance, of the labelled points):")
        print(f"  {'pose proxy':<11} {'faces':>6} {'NME %':>7} {'FR@0.1 %':>9}")
        for label, b in by_pose:
            print(f"  {label:<11} {b.faces if b else 0:>6} " + (f"{b.nme:>7.3f} {b.failure_rate:>9.2f}" if b else f"{'-':>7} {'-':>9}"))
    if args.out:
        from .evaluation.plots import overlay_grid, per_landmark_chart

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        per_landmark_chart({f"{predictor.name} NME {s.nme:.2f}%": s.per_landmark}, out / "per_landmark.png", "per-landmark error")
        worst = sorted(range(len(records)), key=lambda i: -s.per_face[i])
        overlay_grid(records, preds.points, out / "worst_faces.png", order=worst)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        print(f"wrote {out}/summary.json, per_landmark.png, worst_faces.png")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m pipnet_edge.evaluate``: accuracy of a model on labelled faces.

``--model`` is a checkpoint (float ``.safetensors``/``.pt``, QAT ``.safetensors``), an exported
artifact (``.tflite``/``.onnx``/``.xml``) or a bundled name; all go through the same crops
(ground-truth landmark boxes, the 300W protocol) and the runtime's decode.

Writes NME, failure rate and AUC at 0.10, per-landmark error (JSON), a per-landmark chart
and a grid of predicted (red) vs true (green) points on the worst faces (PNG).

Example::

    python -m pipnet_edge.evaluate --model runs/mbv2/final.safetensors --data ../shared/data/300w/test --out runs/eval
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
    p.add_argument("--data", required=True, help="folder of image + .pts faces, or a PIPNet list file")
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

        records = load_faces(args.data)
        if args.limit:
            records = records[: args.limit]
        predictor = open_predictor(args.model, args.backend, args.threads)
        if predictor.spec.num_points != records[0].points.shape[0]:
            raise PipnetEdgeError(f"the model predicts {predictor.spec.num_points} points, the data has {records[0].points.shape[0]}")
        t0 = time.time()
        preds = predict_faces(predictor, records, progress=True)
        seconds = time.time() - t0
        s = summarize(preds.points, preds.truth, predictor.spec.scheme)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {"model": str(args.model), "predictor": predictor.name, "data": str(args.data), "seconds": round(seconds, 1)}
    summary.update(s.to_dict(with_faces=True))
    print(f"{predictor.name}: NME {s.nme:.3f} %  FR@0.1 {s.failure_rate:.2f} %  AUC@0.1 {s.auc:.4f}  ({s.faces} faces, {seconds:.1f} s)")
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

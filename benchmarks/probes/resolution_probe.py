"""How much accuracy does a smaller input crop cost, before training a model for it?

    python -m benchmarks.probes.resolution_probe --model runs/mbv2/final.safetensors \\
        --data ../shared/data/300w/test --sizes 128 112 96 --out benchmarks/results/resolution_probe.json

Each face is cropped by the model's own rule at ``size`` pixels (as a ``size``-px model would
see it), then resized back up to the model's input size and run through the model. The NME
against the full-resolution crop shows how much landmark information the smaller crop
still holds for this (unchanged) model: an upper bound on what resolution alone costs. This
is why the lite model spends its budget on channels rather than pixels (README, "lite").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def upsampled_crops(records, spec, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops at ``size`` px resized to ``spec.input_size``; the matrices map image -> model input."""
    import cv2

    from pipnet_edge.evaluation.runner import read_face_crops
    from pipnet_edge.runtime import geometry

    crops, mats = read_face_crops(records, spec, input_size=size)
    n = spec.input_size
    if size == n:
        return crops, mats
    f = n / size
    # pixel centres: x_big = f * x_small + (f - 1) / 2, as cv2.resize places them
    up = np.array([[f, 0.0, (f - 1) / 2], [0.0, f, (f - 1) / 2]])
    big = np.stack([cv2.resize(c, (n, n), interpolation=cv2.INTER_LINEAR) for c in crops])
    return big, np.stack([geometry.compose(up, m) for m in mats])


def probe(model: str, data: str, sizes: list[int], batch: int = 32, limit: int = 0) -> list[dict]:
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.evaluation import open_predictor
    from pipnet_edge.evaluation.runner import to_image
    from pipnet_edge.metrics import summarize

    records = load_faces(data)
    if limit:
        records = records[:limit]
    predictor = open_predictor(model)
    spec = predictor.spec
    truth = np.stack([r.points for r in records])
    rows = []
    for size in [spec.input_size, *sizes]:
        crops, mats = upsampled_crops(records, spec, size)
        points = [to_image(predictor.predict_crops(crops[i : i + batch]).points, mats[i : i + batch], spec.input_size)
                  for i in range(0, len(crops), batch)]
        s = summarize(np.concatenate(points), truth, spec.scheme)
        rows.append({"crop_px": size, "model_input_px": spec.input_size, "nme": round(s.nme, 3),
                     "fr10": round(s.failure_rate, 2), "faces": s.faces})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a float checkpoint, QAT model or exported artifact")
    p.add_argument("--data", required=True, help="labelled faces (the 300W test folder)")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 112, 96])
    p.add_argument("--limit", type=int, default=0, help="first N faces only (a quick check)")
    p.add_argument("--out", help="write the rows here as JSON")
    args = p.parse_args(argv)
    rows = probe(args.model, args.data, args.sizes, limit=args.limit)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "model": args.model,
                                              "data": args.data, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How much accuracy does a smaller input crop cost, before training a model for it?

    python -m benchmarks.probes.resolution_probe --model runs/mbv2/final.safetensors \\
        --data ../shared/data/300w/test --sizes 128 112 96      # -> benchmarks/results/probes/resolution_probe.json, .md

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
from pathlib import Path

import numpy as np

from benchmarks.envelope import (
    command_line,
    make_envelope,
    markdown_table,
    model_hashes,
    portable,
    result_path,
    utc_now,
    write_result,
)


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


def render_markdown(envelope: dict) -> str:
    """The table of a resolution_probe result: NME at each crop size, resized back up to the model's input."""
    res = envelope["results"]
    return "\n".join([f"Model `{res['model']}` on `{res['data']}`:", ""] + markdown_table(res["rows"], [
        ("crop px", "crop_px", ""), ("model input px", "model_input_px", ""), ("NME %", "nme", ".3f"),
        ("FR@0.1 %", "fr10", ".2f"), ("faces", "faces", "")])) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.probes.resolution_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a float checkpoint, QAT model or exported artifact")
    p.add_argument("--data", required=True, help="labelled faces (the 300W test folder)")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 112, 96])
    p.add_argument("--limit", type=int, default=0, help="first N faces only (a quick check)")
    p.add_argument("--out", default=str(result_path("probes.resolution_probe")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    date = utc_now()
    rows = probe(args.model, args.data, args.sizes, limit=args.limit)
    models = model_hashes([args.model]) if Path(args.model).is_file() else None
    write_result(make_envelope("probes.resolution_probe", command_line("probes.resolution_probe", argv), models,
                               {"model": args.model, "data": portable(args.data), "rows": rows}, date=date,
                               **({} if models is not None else {"models_note": f"{args.model}: not a file, not hashed"})),
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

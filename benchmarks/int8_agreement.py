"""How far apart the INT8 artifacts of one model land: every INT8 runtime's points against the TFLite INT8 ones.

    python benchmarks/int8_agreement.py --artifacts exports/ --data ../shared/data/300w/test

All INT8 targets come from one quantized graph, so they should agree up to each runtime's integer arithmetic. For each
model stem in the folder: mean / max landmark displacement (pixels, in the photo) of ``*_onnx-int8.onnx`` and
``*_openvino-int8.xml`` (default and ``precision_hint="f32"``) from ``*_tflite-int8.tflite``, on ground-truth-box crops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation import open_predictor, predict_faces


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", default="exports")
    p.add_argument("--data", default="../shared/data/300w/test")
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args(argv)
    records = load_faces(args.data)[: args.limit or None]
    folder = Path(args.artifacts)
    for tfl in sorted(folder.glob("*_tflite-int8.tflite")):
        stem = tfl.name[: -len("_tflite-int8.tflite")]
        ref = predict_faces(open_predictor(tfl), records).points
        rows = []
        for label, path, opts in (("onnx-int8 (onnxruntime)", folder / f"{stem}_onnx-int8.onnx", {}),
                                  ("openvino-int8", folder / f"{stem}_openvino-int8.xml", {}),
                                  ("openvino-int8, precision_hint f32", folder / f"{stem}_openvino-int8.xml", {"precision_hint": "f32"})):
            if not path.exists():
                continue
            d = np.linalg.norm(predict_faces(open_predictor(path, **opts), records).points - ref, axis=-1)
            rows.append({"model": stem, "artifact": label, "faces": len(records), "mean_px": round(float(d.mean()), 3),
                         "max_px": round(float(d.max()), 2)})
        for r in rows:
            print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

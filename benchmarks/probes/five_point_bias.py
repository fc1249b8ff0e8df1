"""How much of a model's five-point (in-the-wild) error is a constant offset between MTFL's point definitions and ours.

    python -m benchmarks.probes.five_point_bias --models lite-float default-float --list runs/val665_5pt.txt --all

Prints, per model: the five-point NME (eye-centre normalised, as ``python -m pipnet_edge.evaluate --five-point``),
the mean signed error of each of the five points (% of the eye distance, x and y), and the NME left after removing
that mean: the part a model could still gain. MTFL marks eye centres, nose tip and mouth corners by its own
conventions, and 300W-trained models map their 68 points onto them (``pipnet_edge.five_point.five_from_68``), so a
constant offset remains whatever the model learns from 300W labels.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from pipnet_edge.data.mtfl import HELD_OUT_SPLIT, load_held_out_faces
from pipnet_edge.evaluation import open_predictor, predict_faces
from pipnet_edge.five_point import five_from_68


def bias_report(model: str, records) -> dict:
    pred = predict_faces(open_predictor(model), records)
    five = five_from_68(pred.points)
    truth = pred.truth
    eye = np.linalg.norm(truth[:, 0] - truth[:, 1], axis=-1)[:, None, None]
    err = (five - truth) / eye * 100  # (F, 5, 2) % of the eye distance
    bias = err.mean(0)
    return {"model": model, "faces": len(records), "nme_percent": round(float(np.linalg.norm(err, axis=-1).mean()), 3),
            "mean_signed_error_percent": np.round(bias, 2).tolist(),
            "nme_without_mean_offset_percent": round(float(np.linalg.norm(err - bias, axis=-1).mean()), 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.probes.five_point_bias", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["lite-float", "default-float"])
    p.add_argument("--list", default="../shared/data/mtfl/train_5pt.txt", help="MTFL-style five-point list")
    p.add_argument("--all", action="store_true", help="every face of --list (default: its held-out 1,000 only)")
    args = p.parse_args(argv)
    records = load_held_out_faces(args.list, None if args.all else HELD_OUT_SPLIT)
    for m in args.models:
        print(json.dumps(bias_report(m, records)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

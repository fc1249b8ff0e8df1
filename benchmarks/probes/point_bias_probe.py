"""How much a model's measured point bias helps on faces it was not measured on (README "The point bias").

For each split-trained checkpoint (float or QAT ``.safetensors`` trained with ``--val-fraction F --seed S``), the
bias is measured on the split's training faces and subtracted on its held-out faces and, optionally, on an MTFL-style
five-point list (the in-the-wild validation faces); ``--flip`` also reports test-time flip averaging (each crop's
landmarks averaged with its mirror's), with and without the bias. Never give it the test set: it is a recipe check.

    python -m benchmarks.probes.point_bias_probe runs/lite-polish/final.safetensors --data ../shared/data/300w/train \\
        --val-fraction 0.1 --seed 0 --five-point runs/val665_5pt.txt --flip
        # -> benchmarks/results/probes/point_bias_probe.json and .md
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings

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


def _load(path: str):
    """The float or QAT model of a ``.safetensors`` checkpoint."""
    from pipnet_edge.quantization import QATModel, is_qat_file

    if is_qat_file(path):
        return QATModel.load(path)
    from pipnet_edge.models.checkpoint import load_model

    return load_model(path)


def _with_bias(model, path: str, bias):
    """A detector-less predictor over ``model`` with ``bias`` in its spec (``None``: without one)."""
    from pipnet_edge.calibration.point_bias import with_point_bias
    from pipnet_edge.evaluation.predictors import torch_predictor

    model.spec = with_point_bias(model.spec, bias)
    return torch_predictor(model, path)


def _flip_averaged(predictor, records):
    """Landmarks ``(F, N, 2)`` in image pixels, each face's averaged with its mirrored crop's (mapped back)."""
    from pipnet_edge.evaluation.runner import read_face_crops, to_image

    spec = predictor.spec
    perm = np.asarray(spec.scheme.flip_permutation)
    out = []
    for i in range(0, len(records), 32):
        crops, mats = read_face_crops(records[i : i + 32], spec)
        a = predictor.predict_crops(crops).points
        b = predictor.predict_crops(np.ascontiguousarray(crops[:, :, ::-1])).points[:, perm]
        b[..., 0] = 1.0 - b[..., 0]
        out.append(to_image((a + b) / 2, mats, spec.input_size))
    return np.concatenate(out)


def render_markdown(envelope: dict) -> str:
    """The table of a point_bias_probe result: per checkpoint, held-out NME without and with its point bias (and
    five-point NME, test-time flips, where measured)."""
    rows = envelope["results"]["rows"]
    return "\n".join(markdown_table(rows, [
        ("model", "model", ""), ("bias mean px (x, y)", lambda r: ", ".join(f"{v:g}" for v in r["bias_mean_px"]), ""),
        ("train / val faces", lambda r: f"{r['train_faces']} / {r['val_faces']}", ""),
        ("val NME %", "val_nme_plain", ".4f"), ("val NME %, bias", "val_nme_bias", ".4f"),
        ("five-point NME %", "five_point_nme_plain", ".4f"), ("five-point NME %, bias", "five_point_nme_bias", ".4f"),
        ("val NME %, flip", "val_nme_plain_flip", ".4f"), ("val NME %, bias + flip", "val_nme_bias_flip", ".4f")])) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.probes.point_bias_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="split-trained float or QAT .safetensors checkpoints")
    p.add_argument("--data", required=True, help="the labelled faces the models were trained on (with the split)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--five-point", help="MTFL-style five-point list of validation faces (every face of it is used)")
    p.add_argument("--flip", action="store_true", help="also report test-time flip averaging")
    p.add_argument("--out", default=str(result_path("probes.point_bias_probe")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    date = utc_now()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from pipnet_edge.calibration.point_bias import measure_point_bias
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.evaluation import predict_faces
    from pipnet_edge.five_point import five_point_summary
    from pipnet_edge.metrics import summarize
    from pipnet_edge.training.trainer import split_validation

    train, val = split_validation(list(load_faces(args.data)), args.val_fraction, args.seed)
    wild = None
    if args.five_point:
        from pipnet_edge.data.mtfl import load_held_out_faces

        wild = load_held_out_faces(args.five_point, None)
    rows = []
    for path in args.models:
        model = _load(path)  # loaded once; each predictor keeps the spec (and decode tables) it was made with
        plain = _with_bias(model, path, None)
        bias = measure_point_bias(plain, train)
        fixed = _with_bias(model, path, bias)
        side = plain.spec.input_size
        row = {"model": path, "bias_mean_px": [round(float(v) * side, 3) for v in bias.mean(0)],
               "train_faces": len(train), "val_faces": len(val)}
        for name, pred in (("plain", plain), ("bias", fixed)):
            v = predict_faces(pred, val)
            row[f"val_nme_{name}"] = round(summarize(v.points, v.truth, pred.spec.scheme).nme, 4)
            if wild is not None:
                w = predict_faces(pred, wild)
                row[f"five_point_nme_{name}"] = round(five_point_summary(w.points, w.truth).nme, 4)
            if args.flip:
                truth = np.stack([r.points for r in val])
                row[f"val_nme_{name}_flip"] = round(summarize(_flip_averaged(pred, val), truth, pred.spec.scheme).nme, 4)
        print(json.dumps(row), flush=True)
        rows.append(row)
    write_result(make_envelope("probes.point_bias_probe", command_line("probes.point_bias_probe", argv), model_hashes(args.models),
                               {"data": portable(args.data), "val_fraction": args.val_fraction, "seed": args.seed,
                                "five_point": args.five_point, "rows": rows}, date=date), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

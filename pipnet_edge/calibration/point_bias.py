"""A trained model's systematic error per landmark, measured on labelled faces and stored in its spec.

Why a trained model has one: flip augmentation mirrors each crop and its labels about the crop's
centre line. Where the labels sit a constant distance from the pixels they mark (an annotation or
resampling convention: in our 300W crops on average 1.2 px right of the features in 416-px crops),
the mirrored labels sit that distance on the *other* side, so the model learns the average, zero, in
x, while it learns whatever offset there is in y; every face it sees then misses the labels' convention
by that distance in x (-0.38 to -0.54 crop px at 112 px on the 300W training faces; and per landmark,
wherever a landmark and its mirror partner are annotated differently). The error is the same on
faces the model never saw (on the 201 held-out 300W training faces: -0.49 to -0.65 px), so it can be
measured on the training faces after training and subtracted: :func:`measure_point_bias` measures it
and :attr:`ModelSpec.point_bias <pipnet_edge.spec.ModelSpec.point_bias>` carries it into every
artifact, where the decode subtracts it.

``python -m pipnet_edge.calibration.point_bias --model M --data DIR --out OUT`` measures it for an
existing float or QAT checkpoint (training does it itself at its end, on its training faces).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.annotations import FaceRecord
from ..errors import DataError, PipnetEdgeError

__all__ = ["measure_point_bias", "with_point_bias", "remeasure_point_bias", "calibrate_checkpoint"]

log = logging.getLogger("pipnet_edge.calibration")


def measure_point_bias(predictor, records: Sequence[FaceRecord], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Mean signed error ``(N, 2)`` of ``predictor``'s NRM-merged points on labelled faces, in normalised crop units.

    ``predictor`` is a detector-less :class:`~pipnet_edge.runtime.Landmarker` (see
    :func:`~pipnet_edge.evaluation.open_predictor`); faces are cropped by the spec's rule from their
    ground-truth boxes, as evaluation does. The result is the model's own bias: a correction the
    predictor already applies (its spec's ``point_bias``) is added back.

    Raises:
        DataError: no faces, or faces with another number of points than the model's.
    """
    from ..evaluation.runner import predict_batches
    from ..runtime import geometry

    spec = predictor.spec
    if not records:
        raise DataError("measuring a model's point bias needs labelled faces; got none")
    if any(r.points.shape != (spec.num_points, 2) for r in records):
        raise DataError(f"measuring the point bias needs faces labelled with the model's {spec.num_points} points")
    total = np.zeros((spec.num_points, 2))
    for chunk, out, mats in predict_batches(predictor, records, batch_size, progress, desc="point bias"):
        truth = np.stack([geometry.to_normalized(geometry.apply(m, r.points), spec.input_size) for m, r in zip(mats, chunk)])
        total += (out.points.astype(np.float64) - truth).sum(0)
    bias = total / len(records)
    if spec.point_bias is not None:
        bias += spec.point_bias_array
    return bias.astype(np.float32)


def with_point_bias(spec, bias: np.ndarray | None, faces: int = 0, data: str = ""):
    """``spec`` with ``point_bias`` set (``None`` clears it), noting where it was measured in ``extra``."""
    extra = {k: v for k, v in spec.extra.items() if k != "point_bias_from"}
    if bias is not None:
        extra["point_bias_from"] = {"faces": int(faces), "data": str(data)}
    return spec.replace(point_bias=None if bias is None else tuple(map(tuple, np.asarray(bias, np.float64))), extra=extra)


def remeasure_point_bias(model, records: Sequence[FaceRecord], data: str = "", progress: bool = True) -> np.ndarray:
    """Measure the point bias of an in-memory float or QAT ``model`` (torch) on ``records`` afresh (any bias it carries
    is cleared first) and set it in ``model.spec``; returns the bias."""
    from ..evaluation.predictors import torch_predictor

    model.spec = model.spec.replace(point_bias=None)
    bias = measure_point_bias(torch_predictor(model, "point bias"), records, progress=progress)
    model.spec = with_point_bias(model.spec, bias, len(records), data)
    return bias


def calibrate_checkpoint(model: str | Path, records: Sequence[FaceRecord], out: str | Path, data: str = "",
                         threads: int | None = None) -> np.ndarray:
    """Measure the point bias of a float or QAT ``.safetensors`` checkpoint and write a copy carrying it to ``out``."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from ..evaluation import open_predictor
    from ..models.checkpoint import SPEC_KEY, read_spec

    model = Path(model)
    if model.suffix != ".safetensors":
        raise DataError(f"{model}: the point bias is written into .safetensors checkpoints; export artifacts from the result")
    bias = measure_point_bias(open_predictor(model, num_threads=threads), records, progress=True)
    spec = with_point_bias(read_spec(model), bias, len(records), data)
    with safe_open(str(model), framework="pt") as f:
        meta = dict(f.metadata() or {})
    meta[SPEC_KEY] = spec.to_json()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(load_file(str(model)), str(out), metadata=meta)
    return bias


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.calibration.point_bias", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="float or QAT .safetensors checkpoint")
    p.add_argument("--data", required=True, help="labelled faces (training faces: never the test set)")
    p.add_argument("--out", required=True, help="the checkpoint copy with the measured point_bias in its spec")
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        from ..data.annotations import load_faces

        records = load_faces(args.data)
        bias = calibrate_checkpoint(args.model, records, args.out, args.data, args.threads)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"point bias of {args.model} on {len(records)} faces: mean x {bias[:, 0].mean():+.5f}, y {bias[:, 1].mean():+.5f}, "
          f"largest {np.abs(bias).max():.5f} (crop side units); written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

A quantized model has the float model's bias plus a shift of its own: rounding the weights and activations moves the
outputs, and by how much depends on the photos (the default model's QAT file of 2026-12-06: -0.46 crop px in x on
the 300W training faces, -0.80 px on 2,012 small blurred MTFL faces). Measured on labelled 300W faces alone, the
correction fits that domain and leaves the other shift in place. :func:`quantized_point_bias` takes the float model's
bias on the labelled faces and the quantized model's mean shift from its float model on those *and* on unlabelled
faces (the shift needs no labels): ``--float FLOAT --five-point LIST --five-point-count N`` with a QAT ``--model``.
It did not help the bundled default model on its MTFL validation faces (docs/training.md, "Quantized models and the
photos they will meet"): the bundled files keep the bias measured on 300W faces.
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

__all__ = ["calibrate_checkpoint", "measure_point_bias", "quantized_point_bias", "remeasure_point_bias", "with_point_bias"]

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


def _raw_points(predictor, crops: np.ndarray) -> np.ndarray:
    """NRM-merged points of ``crops`` in normalised crop units with the predictor's own point-bias correction added
    back (the model's raw output)."""
    pts = predictor.predict_crops(crops).points.astype(np.float64)
    bias = predictor.spec.point_bias_array
    return pts + bias if bias is not None else pts


def quantized_point_bias(quantized, reference, labelled: Sequence[FaceRecord], unlabelled: Sequence[FaceRecord] = (),
                         batch_size: int = 32, progress: bool = False) -> tuple[np.ndarray, dict]:
    """The point bias ``(N, 2)`` of a quantized model: its float ``reference``'s bias on the ``labelled`` faces plus
    the mean of ``quantized - reference`` (raw outputs) over the ``labelled`` and ``unlabelled`` faces (any faces with
    a box: the shift needs no labels). Both are detector-less predictors of the same spec's points.

    With no unlabelled faces this is the quantized model's own bias on the labelled faces (what
    :func:`measure_point_bias` gives it). Returns the bias and ``{"shift_labelled", "shift_unlabelled"}``, the mean
    shift ``(2,)`` over each set's points (normalised crop units; ``None`` for an empty set).

    Raises:
        DataError: no labelled faces, faces labelled with another number of points, or two models of different points.
    """
    from ..evaluation.runner import read_face_crops
    from ..runtime import geometry

    spec = reference.spec
    if quantized.spec.num_points != spec.num_points or quantized.spec.input_size != spec.input_size:
        raise DataError(f"the quantized model ({quantized.spec.num_points} points, {quantized.spec.input_size} px) and "
                        f"its float model ({spec.num_points} points, {spec.input_size} px) differ")
    if not labelled:
        raise DataError("a quantized model's point bias needs labelled faces for its float model's bias; got none")
    if any(r.points.shape != (spec.num_points, 2) for r in labelled):
        raise DataError(f"measuring the point bias needs faces labelled with the model's {spec.num_points} points")
    err, shift = np.zeros((spec.num_points, 2)), {}
    total = np.zeros((spec.num_points, 2))
    for name, records in (("labelled", labelled), ("unlabelled", unlabelled)):
        part = np.zeros((spec.num_points, 2))
        starts = range(0, len(records), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc=f"{name} faces: float and quantized", unit="batch", leave=False,
                          dynamic_ncols=True, mininterval=2.0)
        for i in starts:  # each batch's crops read once, run through both models
            chunk = records[i : i + batch_size]
            crops, mats = read_face_crops(chunk, spec)
            ref = _raw_points(reference, crops)
            part += (_raw_points(quantized, crops) - ref).sum(0)
            if name == "labelled":
                truth = np.stack([geometry.to_normalized(geometry.apply(m, r.points), spec.input_size)
                                  for m, r in zip(mats, chunk)])
                err += (ref - truth).sum(0)
        total += part
        shift[f"shift_{name}"] = part.mean(0) / len(records) if records else None
    bias = err / len(labelled) + total / (len(labelled) + len(unlabelled))
    return bias.astype(np.float32), shift


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
                         threads: int | None = None, float_model: str | Path | None = None,
                         unlabelled: Sequence[FaceRecord] = ()) -> np.ndarray:
    """Measure the point bias of a float or QAT ``.safetensors`` checkpoint and write a copy carrying it to ``out``.

    With ``float_model`` (the QAT model's float checkpoint), the bias is :func:`quantized_point_bias`'s: the float
    model's on ``records`` plus the QAT model's shift from it on ``records`` and ``unlabelled``."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from ..evaluation import open_predictor
    from ..models.checkpoint import SPEC_KEY, read_spec

    model = Path(model)
    if model.suffix != ".safetensors":
        raise DataError(f"{model}: the point bias is written into .safetensors checkpoints; export artifacts from the result")
    if unlabelled and float_model is None:
        raise DataError("unlabelled faces only enter a quantized model's point bias, through its float model (--float)")
    quantized = open_predictor(model, num_threads=threads)
    if float_model is None:
        bias = measure_point_bias(quantized, records, progress=True)
    else:
        bias, shift = quantized_point_bias(quantized, open_predictor(float_model, num_threads=threads), records,
                                           unlabelled, progress=True)
        size = quantized.spec.input_size
        log.info("quantization shift from %s, crop px at %d: labelled %s, unlabelled %s", float_model, size,
                 *(None if v is None else np.round(v * size, 3).tolist() for v in shift.values()))
    spec = with_point_bias(read_spec(model), bias, len(records) + len(unlabelled), data)
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
    p.add_argument("--float", dest="float_model", metavar="FLOAT",
                   help="with a QAT --model: its float checkpoint; the bias becomes the float model's on --data plus "
                        "the QAT model's shift from it on --data and the --five-point faces")
    p.add_argument("--five-point", metavar="LIST",
                   help="with --float: MTFL-style five-point list of unlabelled faces for the shift (its held-out faces "
                        "are never read)")
    p.add_argument("--five-point-count", type=int, default=2000,
                   help="faces of --five-point LIST drawn for the shift (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="the draw of --five-point faces")
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        from ..data.annotations import load_faces

        if args.five_point and not args.float_model:
            raise DataError("--five-point faces enter a QAT model's point bias through its float model: pass --float")
        if args.five_point_count < 1:
            raise DataError(f"--five-point-count must be at least 1, got {args.five_point_count}")
        records = load_faces(args.data)
        unlabelled: list[FaceRecord] = []
        if args.five_point:
            from ..data.mtfl import load_unlabelled_faces
            from .dataset import draw_faces

            pool = load_unlabelled_faces(args.five_point)
            unlabelled = draw_faces(pool, args.five_point_count, np.random.default_rng(args.seed))
        data = args.data + (f" and {len(unlabelled)} faces of {args.five_point} (shift)" if unlabelled else "")
        bias = calibrate_checkpoint(args.model, records, args.out, data, args.threads, args.float_model, unlabelled)
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    faces = f"{len(records)} faces" + (f" (shift also on {len(unlabelled)} unlabelled)" if unlabelled else "")
    print(f"point bias of {args.model} on {faces}: mean x {bias[:, 0].mean():+.5f}, y {bias[:, 1].mean():+.5f}, "
          f"largest {np.abs(bias).max():.5f} (crop side units); written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

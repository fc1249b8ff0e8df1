"""``python -m pipnet_edge.export``: PIPNet to ONNX, OpenVINO IR and TFLite, float and INT8.

Examples::

    python -m pipnet_edge.export --target tflite-int8                 # the bundled default model
    python -m pipnet_edge.export --target all --out exports/
    python -m pipnet_edge.export --target all --model lite            # the bundled lite model
    python -m pipnet_edge.export --target onnx-int8 --weights runs/mbv2/final.safetensors \\
        --calib ../shared/data/300w/train                              # post-training quantization
    python -m pipnet_edge.export --target tflite-int8 --weights runs/mbv2-qat/qat.safetensors \\
        --io-dtype uint8                                               # QAT model, raw uint8 pixels in

INT8 targets are made from one quantized graph: the QAT model's own (learned scales) when
the weights are a QAT model, otherwise post-training quantization calibrated on ``--calib``.
Every artifact carries the ModelSpec and its export settings as metadata, and each export
ends with an accuracy summary against the float model on ``--data`` (labelled faces).

Targets:

{targets}
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from .converters.targets import TARGETS, targets_markdown
from .errors import ExportError, PipnetEdgeError

__doc__ = __doc__.format(targets=targets_markdown())

log = logging.getLogger("pipnet_edge.export")

DEFAULT_SHARED = Path("../shared/data/300w")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, nargs="+", help=f"one or more of: {', '.join(TARGETS)}, or all")
    p.add_argument("--model", default="default", help="bundled model to export when no --weights are given: default or lite")
    p.add_argument("--weights", help="float model (.safetensors/.pt) or QAT model (.safetensors); default: the bundled --model")
    p.add_argument("--qat-weights", help="QAT model for the INT8 targets, when --weights is the float model")
    p.add_argument("--calib", help="calibration faces for post-training INT8 (300W folder, list file or image folder)")
    p.add_argument("--calib-count", type=int, default=300, help="faces sampled for calibration (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="exports", help="output folder (default exports/)")
    p.add_argument("--name", help="file name stem (default from the weights)")
    p.add_argument("--imgsz", type=int, help="input size (a multiple of the net stride); default: the model's")
    p.add_argument("--io-dtype", choices=["float32", "int8", "uint8"], help="I/O tensor type of full-INT8 TFLite (default int8)")
    p.add_argument("--data", help="labelled faces for the accuracy summary (default: ../shared/data/300w/test if present; 'none' skips)")
    p.add_argument("--data-limit", type=int, default=100, help="faces used for the summary (0 = all; default 100)")
    p.add_argument("--json", help="write the export records (and summaries) to this JSON file")
    return p


def _resolve_targets(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        if n == "all":
            out += list(TARGETS)
        elif n not in TARGETS:
            raise ExportError(f"unknown target {n!r}; choose from: {', '.join(TARGETS)} or 'all'")
        else:
            out.append(n)
    return list(dict.fromkeys(out))


def _load_sources(args, targets):
    """(float model, int8 source, source info) per the arguments, loading only what is needed."""
    from .models.checkpoint import load_model
    from .training.qat import QATModel, is_qat_file

    need_float = any(not TARGETS[t].int8 for t in targets)
    need_int8 = any(TARGETS[t].int8 for t in targets)
    float_model = qat = None
    info: dict = {}
    if args.weights is None and args.qat_weights is None:
        from .assets import BUNDLED, bundled_model_path

        if args.model not in BUNDLED:
            raise ExportError(f"unknown bundled --model {args.model!r}; choose from: {', '.join(BUNDLED)}")
        info["weights"] = f"bundled {args.model}"
        info["stem"] = BUNDLED[args.model].stem
        if need_float:
            float_model = load_model(bundled_model_path(f"{args.model}-float"))
        if need_int8:
            qat = QATModel.load(bundled_model_path(f"{args.model}-qat"))
    else:
        for path in filter(None, (args.weights, args.qat_weights)):
            if not Path(path).is_file():
                raise ExportError(f"weights file {path} does not exist")
        if args.weights and is_qat_file(args.weights):
            if args.qat_weights:
                raise ExportError("--weights is already a QAT model; pass the float model as --weights and the QAT one as --qat-weights")
            args.qat_weights, args.weights = args.weights, None
        if need_float:
            if not args.weights:
                raise ExportError("float targets need the float model: pass --weights FLOAT.safetensors (a QAT model only makes INT8 targets)")
            float_model = load_model(args.weights)
        if need_int8 and args.qat_weights:
            qat = QATModel.load(args.qat_weights)
        elif need_int8:
            float_model = float_model or load_model(args.weights)
        info["weights"] = str(args.weights or "")
        if args.qat_weights:
            info["qat_weights"] = str(args.qat_weights)
    return float_model, qat, info


def _resize(model, imgsz: int):
    spec = model.spec
    if imgsz % spec.net_stride:
        raise ExportError(f"--imgsz {imgsz} must be a multiple of the net stride {spec.net_stride}")
    model.spec = spec.replace(input_size=imgsz)
    return model


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # our progress at INFO; the converters' own chatter (litert-torch logs every lowered op at
    # INFO on the root logger) only from WARNING up
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipnet_edge").setLevel(logging.INFO)
    try:
        targets = _resolve_targets(args.target)
        if args.io_dtype and args.io_dtype not in ("float32", "int8", "uint8"):
            raise ExportError(f"unknown --io-dtype {args.io_dtype}")
        data = args.data
        if data is None and (DEFAULT_SHARED / "test").is_dir():
            data = str(DEFAULT_SHARED / "test")
        if data and data != "none" and not Path(data).exists():
            raise ExportError(f"--data {data} does not exist")
        float_model, qat, info = _load_sources(args, targets)
        if args.imgsz:
            if qat is not None:
                raise ExportError("--imgsz cannot change a QAT model's input size; export the float model with --calib instead")
            float_model = _resize(float_model, args.imgsz)
        int8_source = qat if qat is not None else float_model
        calib = None
        if any(TARGETS[t].int8 for t in targets) and qat is None:
            from .calibration import load_calibration_set

            if not args.calib:
                raise ExportError("INT8 targets from a float model need --calib DIR (faces to calibrate on, never the test set)")
            calib = load_calibration_set(args.calib, float_model.spec, args.calib_count, args.seed)
        from .converters.targets import ExportContext, export_one

        stem = args.name or info.pop("stem", None) or Path(args.weights or args.qat_weights).stem
        ctx = ExportContext(float_model, int8_source, calib, Path(args.out), stem, info)
        records = []
        t_all = time.time()
        for t in targets:
            io = args.io_dtype if TARGETS[t].int8 and TARGETS[t].format == "tflite" else None
            if args.io_dtype and io is None and args.io_dtype != "float32":
                log.warning("--io-dtype %s applies to tflite-int8 only; %s keeps float32 I/O", args.io_dtype, t)
            records.append(export_one(ctx, t, io))
        total = time.time() - t_all
        log.info("exported %d target(s) in %.1f s", len(records), total)
        if data and data != "none":
            _accuracy_summary(records, float_model, qat, data, args.data_limit, Path(args.out))
        else:
            log.info("no labelled data for the accuracy summary (pass --data DIR)")
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n| target | file | size MB | seconds | NME % | vs reference |\n|---|---|---|---|---|---|")
    for r in records:
        s = r.get("summary", {})
        nme = f"{s['nme_candidate']:.3f}" if s else "-"
        delta = f"{s['nme_delta']:+.3f}" if s else "-"
        print(f"| {r['target']} | {Path(r['path']).name} | {r['size_bytes'] / 1e6:.2f} | {r['seconds']:.1f} | {nme} | {delta} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"records": records, "total_seconds": round(total, 1)}, indent=2, default=str))
    return 0


def _accuracy_summary(records, float_model, qat, data, limit, out: Path) -> None:
    from .calibration.report import compare
    from .data.annotations import load_faces
    from .evaluation import open_predictor, predict_faces
    from .evaluation.predictors import TorchPredictor

    faces = load_faces(data)
    if limit:
        faces = faces[:limit]
    ref = TorchPredictor(float_model, "float model [torch]") if float_model is not None else TorchPredictor(qat, "QAT model [torch]")
    ref_pred = predict_faces(ref, faces)
    log.info("accuracy summary on %d faces of %s (reference: %s)", len(faces), data, ref.name)
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    for r in records:
        cand = open_predictor(r["path"])
        stem = Path(r["path"]).stem
        rep = compare(ref, cand, faces, data, chart_path=reports / f"{stem}.png", reference_predictions=ref_pred)
        rep.write(reports, stem)
        r["summary"] = {k: v for k, v in rep.to_dict().items() if not k.startswith("per_landmark")}
        log.info(
            "%-14s NME %.3f %% (reference %.3f, %+.3f), displacement mean %.3f px max %.2f px, argmax agreement %.1f %%",
            r["target"], rep.nme_candidate, rep.nme_reference, rep.nme_delta, rep.displacement_mean_px,
            rep.displacement_max_px, rep.argmax_agreement * 100,
        )


if __name__ == "__main__":
    sys.exit(main())

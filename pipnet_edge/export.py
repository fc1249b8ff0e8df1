"""``python -m pipnet_edge.export``: PIPNet to ONNX, OpenVINO IR and TFLite, float and INT8.

Examples::

    python -m pipnet_edge.export --target tflite-int8                 # the bundled default model
    python -m pipnet_edge.export --target all --out exports/
    python -m pipnet_edge.export --target all --model lite            # the bundled lite model
    python -m pipnet_edge.export --target onnx-int8 --weights runs/mbv2/final.safetensors \\
        --calib ../shared/data/300w/train                              # post-training quantization
    python -m pipnet_edge.export --target tflite-int8 --weights runs/mbv2-qat/qat.safetensors \\
        --io-dtype uint8                                               # QAT model, raw uint8 pixels in
    python -m pipnet_edge.export --target ethos-u --model lite          # Arm Ethos-U55/65/85 (Vela), all six configurations
    python -m pipnet_edge.export --target imx500 --model lite --calib ../shared/data/300w/train   # Raspberry Pi AI Camera

From Python: ``from pipnet_edge.export import export; records = export("lite", ["onnx", "tflite-int8"], "exports")``.

INT8 targets are made from one quantized graph: the QAT model's own (learned scales) when
the weights are a QAT model, otherwise post-training quantization calibrated on ``--calib``.
Every INT8 graph is full-integer (every operator, the residual Adds included, on int8 tensors; no
quantize / dequantize inside): each INT8 export is checked, and refused when it is not. NPU targets
(``ethos-u*``) compile the INT8 TFLite with the NPU's own compiler and keep its report (operators on
the NPU and the CPU, estimated time and memory) in the artifact and the export record. ``imx500`` (Sony's IMX500,
the Raspberry Pi AI Camera) is quantized by Sony's own toolkit (MCT) from the float model on the calibration faces
and converted by ``imxconv-pt``, both in their own virtual environments (``scripts/setup_imx500.sh``); its accuracy
check runs MCT's simulation of the quantized network.
Every artifact carries the ModelSpec and its export settings as metadata, and each export
ends with an accuracy check against the float model: on ``--data`` (labelled faces: NME, NME delta), or by
default, with no labels, on the bundled check set (crops of the public-domain portraits in ``docs/``): point
displacement from the float model in pixels of the model input, heatmap argmax agreement, and NME taken
against the float model's points.
Third-party warnings and converter chatter are hidden unless ``--verbose``.

Targets:

{targets}
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .converters.quiet import import_quietly, quiet
from .converters.targets import (
    INT8_TOOLCHAIN,
    IO_DTYPES,
    TARGET_GROUPS,
    TARGETS,
    ExportContext,
    ExportRecord,
    build_target,
    check_toolchains,
    resolve_targets,
    targets_markdown,
)
from .errors import ExportError, PipnetEdgeError

if TYPE_CHECKING:
    from .calibration import CalibrationSet
    from .models.pipnet import PIPNet
    from .quantization import QATModel

__doc__ = __doc__.format(targets=targets_markdown())
__all__ = ["ExportRecord", "build_parser", "export", "main", "records_markdown"]

log = logging.getLogger("pipnet_edge.export")

_IN_MEMORY = "(in memory)"
NO_CHECK = "none"  # data=NO_CHECK (--data none): no accuracy check at all
# The no-label check flags an artifact whose NME against the reference's points (mean of the check set's crops, %)
# exceeds this for its precision: float artifacts should repeat the reference, INT8 ones stay well under 1 % (the
# bundled models' INT8 files: 0.46-0.49 %, docs/export.md). A warning and a mark in the table, not an error.
CHECK_TOLERANCE = {"fp32": 0.05, "fp16": 0.25, "int8": 1.5}


def export(
    model: str | Path | PIPNet | QATModel | None,
    targets: str | Sequence[str],
    out: str | Path = "exports",
    *,
    qat: str | Path | QATModel | None = None,
    calib: str | Path | CalibrationSet | None = None,
    data: str | Path | None = None,
    data_limit: int = 100,
    name: str | None = None,
    imgsz: int | None = None,
    io_dtype: str | None = None,
    calib_count: int = 300,
    seed: int = 0,
    qnn_soc: str | int = "SM8650",
    source_info: dict[str, Any] | None = None,
    json_path: str | Path | None = None,
    verbose: bool = False,
) -> list[ExportRecord]:
    """Export a PIPNet to one or more deployment targets (the Python form of ``python -m pipnet_edge.export``).

    Every argument is checked, and every model and calibration face loaded, before anything is
    written. What several targets share is built once per call: the quantized graph, the float
    ONNX graph and the INT8 QDQ ONNX graph (the OpenVINO targets are converted from the latter two).

    Args:
        model: what to export: a bundled model name (``"default"``, ``"lite"``: its float weights
            for float targets, its QAT model for INT8 ones), a float checkpoint (``.safetensors`` /
            ``.pt``), a QAT checkpoint (INT8 targets only), an in-memory ``PIPNet`` or ``QATModel``;
            ``None`` when ``qat`` alone is given (INT8 targets only). CLI: ``--model`` / ``--weights``.
        targets: a target name, a list of them, or a group: ``"all"`` (the eight core targets), ``"ethos-u"`` (see
            :data:`~pipnet_edge.converters.targets.TARGETS` and :data:`~pipnet_edge.converters.targets.TARGET_GROUPS`).
        out: output folder, created when the first target is written.
        qat: a QAT model (file or ``QATModel``) for the INT8 targets when ``model`` is the float one
            (CLI ``--qat-weights``); INT8 then uses its learned quantization, without calibration.
        calib: calibration faces for post-training INT8 from a float model (a 300W folder, list
            file or image folder, or a ``CalibrationSet``); never the test set. Unused with a QAT model, except by
            ``imx500``, which always quantizes the float model with MCT on them (a bundled model without ``calib``:
            its training faces, ``$PIPNET_EDGE_SHARED/data/300w/train``, when that folder exists).
        data: labelled faces for an accuracy summary of every artifact against the float model
            (or, for INT8 targets from a QAT model alone, the QAT model, fake-quantized in torch): NME of both.
            ``None`` (the default): the no-label check on the bundled check set
            (:mod:`pipnet_edge.calibration.check_set`): each artifact's point displacement from the reference's
            points (pixels of the model input), heatmap argmax agreement and NME against the reference's points.
            ``"none"``: no check. Reports go to ``out/reports``.
        data_limit: faces of ``data`` used for the summary (0 = all; the check set is always used whole).
        name: file name stem (default: the bundled model's stem or the checkpoint's file stem).
        imgsz: input size to export a float model at (a multiple of its net stride); default: the model's.
        io_dtype: I/O tensor type of ``tflite-int8`` (``int8`` by default, ``uint8`` for raw pixels
            in, or ``float32``); other targets keep float32 I/O (with a warning when asked otherwise).
        calib_count: faces sampled from ``calib`` (seeded by ``seed``).
        seed: calibration sampling seed.
        qnn_soc: the Snapdragon SoC the ``qnn-context`` target compiles for: a name of
            :data:`~pipnet_edge.runtime.backends.qnn.QNN_SOCS` (``"SM8650"``, Snapdragon 8 Gen 3) or a ``soc_model`` id.
        source_info: what the artifacts' metadata records as their source (default: the weights files,
            or the bundled model's name).
        json_path: also write ``{"records": [...], "total_seconds": ...}`` to this file.
        verbose: show third-party warnings and converter output (hidden by default; ``pipnet_edge``
            log lines always come through the ``pipnet_edge.export`` logger).

    Returns:
        One :class:`ExportRecord` per target, in the order asked for (``summary``: the accuracy check, unless
        ``data="none"``; NPU targets have none: their graph is the ``tflite-int8`` one).

    Raises:
        ExportError: unknown target or bundled model name; ``io_dtype`` not one of float32 / int8 / uint8;
            a weights, calibration or data path that does not exist; INT8 from a float model without
            ``calib``; float targets from a QAT model only; ``imgsz`` with a QAT model or not a multiple of
            the net stride; a converter that is not installed or fails.
        ModelLoadError: a checkpoint cannot be read.
        DataError: ``calib`` or ``data`` holds no usable faces.
    """
    names = resolve_targets(targets)
    if io_dtype is not None and io_dtype not in IO_DTYPES:
        raise ExportError(f"unknown io_dtype {io_dtype!r}; choose from: {', '.join(IO_DTYPES)}")
    io_dtypes = {}
    for t in names:
        target = TARGETS[t]
        io_dtypes[t] = io_dtype if io_dtype in target.io_dtypes else None
        if io_dtype is not None and io_dtypes[t] is None:
            log.warning("io_dtype %s is not available for %s; it keeps %s I/O", io_dtype, t, target.io_dtypes[0])
    if data is not None and str(data) != NO_CHECK and not Path(data).exists():
        raise ExportError(f"labelled data (--data) {data} does not exist")
    if imgsz is not None and imgsz <= 0:
        raise ExportError(f"imgsz must be a positive multiple of the net stride, not {imgsz}")
    check_toolchains(names)
    if any(TARGETS[t].group == "qnn" for t in names):
        from .runtime.backends.qnn import soc_model_id

        try:
            soc_model_id(qnn_soc)
        except PipnetEdgeError as exc:
            raise ExportError(f"qnn_soc (--qnn-soc): {exc}") from None
    # float targets and vendor-quantized NPU targets (imx500) start from the float model; the other INT8 targets
    # from the one PT2E quantized graph (a QAT model's, or post-training on the calibration faces)
    need_float = any(not TARGETS[t].pt2e for t in names)
    need_int8 = any(TARGETS[t].pt2e for t in names)
    need_vendor = any(TARGETS[t].vendor_quantized for t in names)

    with quiet(verbose):
        float_model, qat_model, info, stem = _load_sources(model, qat, need_float, need_int8, verbose)
        if imgsz:
            if qat_model is not None:
                raise ExportError("imgsz (--imgsz) cannot change a QAT model's input size; "
                                  "export the float model with calib (--calib) instead")
            float_model = _resize(float_model, imgsz)
        calib_set = None
        if (need_int8 and qat_model is None) or need_vendor:
            if calib is None and need_vendor and info.get("weights", "").startswith("bundled "):
                calib = _bundled_training_faces()
            if calib is None and need_vendor:
                raise ExportError("target imx500 quantizes the float model with MCT on calibration faces: pass --calib "
                                  "DIR (calib= in Python): training faces (a 300W folder, a list file, or a folder of "
                                  "face photos), never the test set")
            calib_set = _calibration(calib, float_model, calib_count, seed)
        int8_source = (qat_model if qat_model is not None else float_model) if need_int8 else None
        ctx = ExportContext(float_model, int8_source, calib_set, Path(out), name or stem,
                            info if source_info is None else dict(source_info), verbose, qnn_soc=qnn_soc,
                            check_data=None if data is None else str(data), data_limit=data_limit)
        t_all = time.time()
        records = [build_target(ctx, t, io_dtypes[t]) for t in names]
        total = time.time() - t_all
        log.info("exported %d target(s) in %.1f s", len(records), total)
        if data is None:
            records = _check_set_summary(records, float_model, qat_model, Path(out), ctx.simulated)
        elif str(data) != NO_CHECK:
            records = _accuracy_summary(records, float_model, qat_model, str(data), data_limit, Path(out), ctx.simulated)
    if json_path:
        doc = {"records": [r.to_dict() for r in records], "total_seconds": round(total, 1)}
        Path(json_path).write_text(json.dumps(doc, indent=2, default=str))
    return records


def _is_bundled_name(model: str | Path) -> bool:
    """A bare word that is not a file here (``"lite"``), as opposed to a path (``runs/x.safetensors``)."""
    text = str(model)
    return isinstance(model, str) and not Path(text).suffix and "/" not in text and "\\" not in text and not Path(text).exists()


def _load_sources(model, qat, need_float: bool, need_int8: bool, verbose: bool = False):
    """(float model, QAT model, source info, file stem), loading only what the targets need."""
    from .models.checkpoint import load_model
    from .models.pipnet import PIPNet
    from .quantization import QATModel, is_qat_file

    float_model = qat_model = None
    float_file = qat_file = None  # as given (the metadata records them as written)
    bundled = None
    if model is None:
        if qat is None:
            raise ExportError("nothing to export: pass a model (a bundled name, a weights file, a PIPNet or a QATModel)")
    elif isinstance(model, (str, Path)) and _is_bundled_name(model):
        from .assets.registry import CARDS

        if model not in CARDS:
            raise ExportError(f"unknown bundled model {model!r} (--model); choose from: {', '.join(CARDS)}, "
                              "or pass a weights file")
        bundled = CARDS[model]
    elif isinstance(model, (str, Path)):
        float_file = model
    elif isinstance(model, QATModel):
        qat_model = model
    elif isinstance(model, PIPNet):
        float_model = model
    else:
        raise ExportError(f"model must be a bundled name, a weights file, a PIPNet or a QATModel, not {type(model).__name__}")
    if isinstance(qat, (str, Path)):
        qat_file = qat
    elif qat is not None and not isinstance(qat, QATModel):
        raise ExportError(f"qat must be a QAT weights file or a QATModel, not {type(qat).__name__}")
    for path in filter(None, (float_file, qat_file)):
        if not Path(path).is_file():
            raise ExportError(f"weights file {path} does not exist")
    if float_file is not None and is_qat_file(float_file):
        if qat is not None:
            raise ExportError(f"{float_file} is already a QAT model; pass the float model as model (--weights) "
                              "and the QAT one as qat (--qat-weights)")
        float_file, qat_file = None, float_file
    if qat_model is not None and qat is not None:
        raise ExportError("model is already a QAT model; pass the float model as model and the QAT one as qat")
    if isinstance(qat, QATModel):
        qat_model = qat

    has_float = bundled is not None or float_file is not None or float_model is not None
    has_qat = bundled is not None or qat_file is not None or qat_model is not None
    if need_float and not has_float:
        raise ExportError("float targets (and imx500, which MCT quantizes from the float model) need the float model: "
                          "pass --weights FLOAT.safetensors (a QAT model only makes the other INT8 targets)")
    if float_model is None and (need_float or (need_int8 and not has_qat)):
        float_model = load_model(bundled.path("fp16") if bundled is not None else float_file)
    elif float_model is not None and not need_float and has_qat:
        float_model = None  # INT8 targets only, from the QAT model: the float model takes no part
    if qat_model is None and need_int8 and has_qat:
        import_quietly(INT8_TOOLCHAIN, verbose)  # loading a QAT model imports its quantizer
        qat_model = QATModel.load(bundled.path("qat") if qat_file is None else qat_file)
    elif qat_model is not None and not need_int8:
        qat_model = None

    if bundled is not None:
        info: dict[str, Any] = {"weights": f"bundled {bundled.name}"}
    else:
        info = {"weights": str(float_file) if float_file else (_IN_MEMORY if isinstance(model, PIPNet) else "")}
    if qat_file is not None:
        info["qat_weights"] = str(qat_file)
    elif qat_model is not None and bundled is None:
        info["qat_weights"] = _IN_MEMORY
    stem = bundled.stem if bundled is not None else Path(float_file or qat_file or "pipnet").stem
    return float_model, qat_model, info, stem


def _resize(model, imgsz: int):
    spec = model.spec
    if imgsz % spec.net_stride:
        raise ExportError(f"imgsz (--imgsz) {imgsz} must be a multiple of the net stride {spec.net_stride}")
    if imgsz == spec.input_size:
        return model
    model = copy.deepcopy(model)  # never change the caller's model
    model.spec = spec.replace(input_size=imgsz)
    return model


def _bundled_training_faces() -> Path | None:
    """The bundled models' calibration faces when none are given: their 300W training faces in the shared data folder
    (``$PIPNET_EDGE_SHARED/data/300w/train``, by default ``../shared`` beside the checkout), when that exists."""
    import os

    root = Path(__file__).resolve().parents[1]
    path = Path(os.environ.get("PIPNET_EDGE_SHARED", root.parent / "shared")) / "data" / "300w" / "train"
    if not path.is_dir():
        return None
    log.info("calibrating on the bundled model's training faces, %s (--calib DIR chooses others)", path)
    return path


def _calibration(calib, float_model, count: int, seed: int):
    if calib is None:
        raise ExportError("INT8 targets from a float model need --calib DIR (calib= in Python): faces to calibrate on, "
                          "never the test set; or export a QAT model")
    if not isinstance(calib, (str, Path)):
        return calib  # a CalibrationSet
    if not Path(calib).exists():
        raise ExportError(f"calibration faces (--calib) {calib} do not exist")
    from .calibration import load_calibration_set

    return load_calibration_set(calib, float_model.spec, count, seed)


def _accuracy_summary(records: list[ExportRecord], float_model, qat, data: str, limit: int, out: Path,
                      simulated: dict | None = None) -> list[ExportRecord]:
    from .data.annotations import load_faces
    from .evaluation import open_predictor, predict_faces
    from .evaluation.predictors import torch_predictor
    from .evaluation.report import compare

    faces = load_faces(data)
    if limit:
        faces = faces[:limit]
    ref = torch_predictor(float_model, "float model") if float_model is not None else torch_predictor(qat, "QAT model")
    ref_pred = predict_faces(ref, faces)
    log.info("accuracy summary on %d faces of %s (reference: %s)", len(faces), data, ref.name)
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    done = []
    simulated = simulated or {}
    for r in records:
        if r.target in simulated:  # runs only on its NPU; the vendor's simulation of its quantized network ran here
            cand = simulated[r.target]()
        elif r.compiler_report is not None:
            # an NPU's compiled file runs only on that NPU; its graph is the INT8 TFLite's, checked above when exported
            log.info("%-14s runs only on its NPU: no accuracy summary here (its graph is the tflite-int8 one)", r.target)
            done.append(r)
            continue
        else:
            cand = open_predictor(str(r.path))
        stem = _report_stem(r)
        rep = compare(ref, cand, faces, data, chart_path=reports / f"{stem}.png", reference_predictions=ref_pred)
        rep.write(reports, stem)
        done.append(replace(r, summary={k: v for k, v in rep.to_dict().items() if not k.startswith("per_landmark")}))
        log.info(
            "%-14s NME %.3f %% (reference %.3f, %+.3f), displacement mean %.3f px max %.2f px, argmax agreement %.1f %%",
            r.target, rep.nme_candidate, rep.nme_reference, rep.nme_delta, rep.displacement_mean_px,
            rep.displacement_max_px, rep.argmax_agreement * 100,
        )
    return done


def _report_stem(r: ExportRecord) -> str:
    """The name of an artifact's reports: its file stem, or for a file named by its NPU's tools (``packerOut.zip``)
    the artifact's folder."""
    return r.path.parent.name if r.path.name == "packerOut.zip" else r.path.stem


def _check_set_summary(records: list[ExportRecord], float_model, qat, out: Path,
                       simulated: dict | None = None) -> list[ExportRecord]:
    """The accuracy check without labels: every artifact against the reference model (the float model; the QAT
    model, fake-quantized in torch, when INT8 targets are made from it alone) on the bundled check set; an NPU
    target whose vendor simulates its quantized network (``simulated``) through that simulation."""
    from .calibration.check_set import load_check_set
    from .evaluation import open_predictor
    from .evaluation.predictors import torch_predictor
    from .evaluation.report import compare_crops, predict_crops

    simulated = simulated or {}
    if all(r.compiler_report is not None and r.target not in simulated for r in records):
        log.info("NPU targets run only on their NPU: no accuracy check here (export tflite-int8 beside them for one)")
        return records
    check = load_check_set()
    cache: dict[int, Any] = {}

    def crops(size: int):
        if size not in cache:
            cache[size] = check.crops(size)
        return cache[size]

    reference = "float model" if float_model is not None else "QAT model (fake-quantized, torch)"
    ref = torch_predictor(float_model if float_model is not None else qat, reference)
    size = ref.spec.input_size
    ref_pred = predict_crops(ref, crops(size))
    log.info("accuracy check without labels: %d crops of the bundled check set at %d px, against the %s",
             len(check), size, reference)
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    done = []
    for r in records:
        if r.compiler_report is not None and r.target not in simulated:
            log.info("%-14s runs only on its NPU: no accuracy check here (its graph is the tflite-int8 one)", r.target)
            done.append(r)
            continue
        head = {"check": "no labels: the bundled check set", "reference": reference}
        try:
            cand = simulated[r.target]() if r.target in simulated else open_predictor(str(r.path))
        except PipnetEdgeError as exc:
            log.warning("%-14s not checked: %s", r.target, exc)
            done.append(replace(r, summary={**head, "error": str(exc)}))
            continue
        try:
            rep = compare_crops(ref, cand, crops, check.describe(), chart_path=reports / f"{_report_stem(r)}.png",
                                reference_predictions=ref_pred)
        except PipnetEdgeError as exc:  # e.g. a reference whose eye corners coincide (an untrained model)
            log.warning("%-14s not checked: %s", r.target, exc)
            done.append(replace(r, summary={**head, "error": str(exc)}))
            continue
        finally:
            cand.close()
        rep.write(reports, _report_stem(r))
        body = {k: v for k, v in rep.to_dict().items() if not k.startswith("per_landmark") and k != "reference"}
        body["worst_landmarks"] = [list(w) for w in rep.worst_landmarks]  # as the JSON record reads back
        tolerance = CHECK_TOLERANCE.get(TARGETS[r.target].precision, CHECK_TOLERANCE["int8"])
        ok = bool(rep.nme_vs_reference <= tolerance)
        done.append(replace(r, summary={**head, **body, "tolerance_nme_vs_reference": tolerance, "within_tolerance": ok}))
        if not ok:
            log.warning("%-14s is %.3f %% (NME) from the %s's points on the check set, more than the %.2f %% a %s "
                        "artifact should be: a conversion problem? (report: %s)", r.target, rep.nme_vs_reference,
                        reference, tolerance, TARGETS[r.target].precision, reports / f"{_report_stem(r)}.md")
        log.info("%-14s vs the %s: displacement mean %.3f px max %.2f px (of the %d-px input), argmax agreement "
                 "%.1f %%, NME vs its points %.3f %%", r.target, reference, rep.displacement_mean_px,
                 rep.displacement_max_px, rep.input_size, rep.argmax_agreement * 100, rep.nme_vs_reference)
    return done


def records_markdown(records: Sequence[ExportRecord]) -> str:
    """The Markdown table the CLI prints: target, file, size, seconds, the accuracy summary and, for INT8 and NPU
    targets, the full-integer check and the NPU compiler's report."""
    if any((r.summary or {}).get("check") for r in records):
        return _check_markdown(records)
    rows = ["| target | file | size MB | seconds | NME % | vs reference | integer / NPU |", "|---|---|---|---|---|---|---|"]
    for r in records:
        s = r.summary or {}
        nme = f"{s['nme_candidate']:.3f}" if s else "-"
        delta = f"{s['nme_delta']:+.3f}" if s else "-"
        rows.append(f"| {r.target} | {r.path.name} | {r.size_bytes / 1e6:.2f} | {r.seconds:.1f} | {nme} | {delta} | "
                    f"{_integer_npu_cell(r)} |")
    return "\n".join(rows)


def _check_markdown(records: Sequence[ExportRecord]) -> str:
    """The table of the no-label check: a caption saying what was measured against what, then one row per target."""
    first = next(r.summary for r in records if (r.summary or {}).get("check"))
    ref = "float" if first["reference"].startswith("float") else "QAT"
    done = next((r.summary for r in records if r.summary and "input_size" in r.summary), None)
    where = (f"{done['faces']} crops of the bundled check set (public-domain portraits from docs/, no labels), "
             f"displacement in pixels of the {done['input_size']}-px model input" if done else "the bundled check set")
    caption = (f"Accuracy check against the {first['reference']}: {where}; argmax agreement: share of points whose "
               f"heatmap argmax cell is the {ref} model's; NME taken against the {ref} model's points (normalised as "
               "the labelled NME: outer eye corners for 300W-68).")
    header = (f"| target | file | size MB | seconds | displacement mean px | displacement max px | argmax agreement % | "
              f"NME vs {ref} % | integer / NPU |")
    rows = [caption, "", header, "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        s = r.summary or {}
        if "input_size" in s:
            flag = "" if s.get("within_tolerance", True) else f" (over {s['tolerance_nme_vs_reference']}: CHECK)"
            cells = [f"{s['displacement_mean_px']:.3f}", f"{s['displacement_max_px']:.2f}",
                     f"{s['argmax_agreement'] * 100:.1f}", f"{s['nme_vs_reference']:.3f}{flag}"]
        else:
            cells = ["not checked" if "error" in s else "-"] + ["-"] * 3
        rows.append(f"| {r.target} | {r.path.name} | {r.size_bytes / 1e6:.2f} | {r.seconds:.1f} | {' | '.join(cells)} | "
                    f"{_integer_npu_cell(r)} |")
    return "\n".join(rows)


def _integer_npu_cell(r: ExportRecord) -> str:
    parts = []
    if r.integer_check is not None:
        c = r.integer_check
        edge = f" + {c['edge_operators']} I/O (de)quantize" if c["edge_operators"] else ""
        parts.append(f"full-integer, {c['integer_operators']} ops{edge}" if c["full_integer"] else "NOT integer")
    c = r.compiler_report
    if c is not None and "fits_in_chip" in c:  # Sony IMX500 (imxconv-pt's memory report)
        fits = {True: "fits in chip", False: "DOES NOT FIT in chip", None: "fit unknown"}[c["fits_in_chip"]]
        used = (f", {c['memory_bytes'] / 2**20:.2f} of {c['chip_memory_bytes'] / 2**20:.2f} MiB"
                if c.get("memory_bytes") and c.get("chip_memory_bytes") else "")
        parts.append(f"IMX500: {fits}{used}")
    elif c is not None and "npu_operators" in c:  # Vela
        parts.append(f"NPU {c['npu_operators']} ops, CPU {c['cpu_operators']}; est. {c['inference_time_ms']} ms, "
                     f"SRAM {c['sram_kib']} KiB")
    elif c is not None:  # QNN: the whole graph compiled (a partial placement is refused)
        parts.append(f"QNN context for {c.get('soc') or c.get('soc_model')}, all on HTP")
    return "; ".join(parts) or "-"


# --------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipnet_edge.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, nargs="+",
                   help=f"one or more of: {', '.join(TARGETS)}, or a group: {', '.join(TARGET_GROUPS)}")
    p.add_argument("--model", default="default", help="bundled model to export when no --weights are given: default or lite")
    p.add_argument("--weights", help="float model (.safetensors/.pt) or QAT model (.safetensors); default: the bundled --model")
    p.add_argument("--qat-weights", help="QAT model for the INT8 targets, when --weights is the float model")
    p.add_argument("--calib", help="calibration faces for post-training INT8 and imx500 (300W folder, list file or image "
                   "folder; never test faces)")
    p.add_argument("--calib-count", type=int, default=300, help="faces sampled for calibration (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="exports", help="output folder (default exports/)")
    p.add_argument("--name", help="file name stem (default from the weights)")
    p.add_argument("--imgsz", type=int, help="input size (a multiple of the net stride); default: the model's")
    p.add_argument("--io-dtype", choices=list(IO_DTYPES), help="I/O tensor type of full-INT8 TFLite (default int8)")
    p.add_argument("--qnn-soc", default="SM8650",
                   help="Snapdragon SoC of the qnn-context target: a name (SM8650, SM8750, SC8380XP ...) or a soc_model id")
    p.add_argument("--data", help="labelled faces for the accuracy summary (NME); default: the check without labels on the "
                   "bundled check set (displacement from the float model, argmax agreement, NME vs its points); "
                   "'none' skips the check")
    p.add_argument("--data-limit", type=int, default=100, help="faces of --data used for the summary (0 = all; default 100)")
    p.add_argument("--json", help="write the export records (and summaries) to this JSON file")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="show third-party warnings and converter output (hidden by default)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # our progress at INFO; the converters' own chatter (litert-torch logs every lowered op at
    # INFO on the root logger) only from WARNING up, and only with --verbose
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pipnet_edge").setLevel(logging.INFO)
    # --weights wins over --model; --qat-weights alone exports INT8 targets from that QAT model
    model = args.weights or (None if args.qat_weights else args.model)
    try:
        records = export(
            model, args.target, args.out, qat=args.qat_weights, calib=args.calib, calib_count=args.calib_count, seed=args.seed,
            data=args.data, data_limit=args.data_limit, name=args.name, imgsz=args.imgsz,
            io_dtype=args.io_dtype, qnn_soc=args.qnn_soc, json_path=args.json, verbose=args.verbose,
        )
    except PipnetEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n" + records_markdown(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())

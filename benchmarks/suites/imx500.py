"""Sony IMX500 (Raspberry Pi AI Camera): what MCT's quantization for the chip costs in accuracy, beside our INT8 TFLite.

    python -m benchmarks imx500            # -> benchmarks/results/imx500.json and .md (both bundled models)

Needs Sony's tools: ``scripts/setup_imx500.sh`` (``.venv-mct``: model-compression-toolkit 2.6.1 on CPU torch;
``.venv-imxconv``: imx500-converter[pt] 3.19.2; a Java 17 runtime on PATH). Without them the suite says what is
missing and how to install it, and exits 0 without writing a result.

Per bundled model, each split is one run of the export's own command (its ``export()``), which quantizes the float
model with MCT post-training quantization for the IMX500 (calibrated on ``--calib-count`` of the 300W *training*
faces, seed 0), converts it with ``imxconv-pt`` and runs MCT's quantized network in simulation (torch, in
``.venv-mct``) on the split's faces, cropped from their ground-truth boxes:

    python -m pipnet_edge.export --target imx500 --model M --calib ../shared/data/300w/train \\
        --data SPLIT --data-limit 0 --out DIR

Beside it, on the same faces: the float model (the export's reference) and the bundled INT8 TFLite
(``python -m pipnet_edge.evaluate --model M --data SPLIT``), both through ``open_predictor`` / ``predict_faces``.
Splits: ``test`` (the 554 faces of the 300W common test set: reported, never chosen on) and ``val`` (the validation
split of the training faces, ``--val-fraction 0.1 --seed 0`` as training holds it out: where a choice between
quantization recipes would be made). The memory report (``Fit In Chip``, memory use of the chip's 8 MiB) comes from
the test split's conversion.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import SHARED
from benchmarks.envelope import (
    command_line,
    make_envelope,
    model_hashes,
    portable,
    result_path,
    sha256_file,
    utc_now,
    write_result,
)

TOLERANCE = 0.10  # issue 28: the IMX500-quantized model's test NME within 0.10 of the bundled INT8 TFLite's


def _val_folder(train: Path, dest: Path) -> Path:
    """The validation split of the training faces as a folder of links (what ``--data`` reads)."""
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.training.trainer import split_validation

    _, val = split_validation(load_faces(train), 0.1, 0)
    dest.mkdir(parents=True, exist_ok=True)
    for r in val:
        img = Path(r.image_path)
        for src in (img, img.with_suffix(".pts")):
            if not (dest / src.name).exists():
                (dest / src.name).symlink_to(src.resolve())
    return dest


def _nme(model: str, faces: list) -> float:
    from pipnet_edge.evaluation import open_predictor, predict_faces
    from pipnet_edge.metrics import summarize

    lm = open_predictor(model)
    pred = predict_faces(lm, faces)
    return summarize(pred.points, pred.truth, lm.spec.scheme).nme


def run_split(model: str, split: str, data: Path, shown: str, train: Path, calib_count: int, out: Path) -> dict:
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.export import export

    faces = load_faces(data)
    t0 = time.time()
    (rec,) = export(model, "imx500", out, calib=train, calib_count=calib_count, data=data, data_limit=0)
    seconds = time.time() - t0
    s = rec.summary
    tflite = _nme(model, faces)
    row = {
        "model": model, "split": split, "faces": s["faces"], "data": shown,
        "nme_float": round(s["nme_reference"], 4), "nme_imx500": round(s["nme_candidate"], 4),
        "nme_tflite_int8": round(tflite, 4), "imx500_minus_tflite": round(s["nme_candidate"] - tflite, 4),
        "imx500_minus_float": round(s["nme_delta"], 4),
        "displacement_mean_px": round(s["displacement_mean_px"], 3), "displacement_max_px": round(s["displacement_max_px"], 2),
        "argmax_agreement": round(s["argmax_agreement"], 4),
        "export_seconds": round(seconds, 1),
        "command": (f"python -m pipnet_edge.export --target imx500 --model {model} --calib {portable(train)} "
                    f"--calib-count {calib_count} --data {shown} --data-limit 0 --out DIR"),
        "tflite_command": f"python -m pipnet_edge.evaluate --model {model} --data {shown}",
        "packer_out_sha256": sha256_file(rec.path), "quantization": _portable_quantization(rec.quantization),
    }
    c = rec.compiler_report
    row["chip"] = {k: c.get(k) for k in ("compiler", "fits_in_chip", "memory_bytes", "model_memory_bytes",
                                         "runtime_memory_bytes", "chip_memory_bytes", "memory_utilization_percent")}
    row["chip"]["mct"] = c.get("mct")
    if split == "test":
        row["within_tolerance"] = bool(row["imx500_minus_tflite"] <= TOLERANCE)
    print(f"{model} {split}: float {row['nme_float']:.3f}, IMX500 (MCT sim) {row['nme_imx500']:.3f}, "
          f"INT8 TFLite {row['nme_tflite_int8']:.3f} ({row['imx500_minus_tflite']:+.3f}); fits in chip "
          f"{row['chip']['fits_in_chip']}, {row['chip']['memory_bytes']} B; {seconds:.0f} s", flush=True)
    return row


def _portable_quantization(q: dict | None) -> dict | None:
    """The record's quantization details with the calibration source as a repository-relative path."""
    if not q or not isinstance(q.get("calibration"), dict) or "source" not in q["calibration"]:
        return q
    return {**q, "calibration": {**q["calibration"], "source": portable(q["calibration"]["source"])}}


def render_markdown(envelope: dict) -> str:
    res = envelope["results"]
    md = [(f"NME % (outer-eye normalised) on ground-truth-box crops. IMX500: MCT {res['versions'].get('mct')} "
          f"post-training quantization (IMX500 TPC, SDSP {res['sdsp_version']}), calibrated on {res['calib_count']} "
          f"300W training faces, run in MCT's simulation; then `imxconv-pt` {res['versions'].get('imxconv')}. "
          f"Tolerance on the test faces: within {res['tolerance']} of the bundled INT8 TFLite."), "",
          ("| model | split | faces | float | IMX500 (MCT simulation) | INT8 TFLite (bundled) | IMX500 - TFLite | "
          "IMX500 - float | displacement vs float mean / max px | argmax agreement % | within tolerance |"),
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        ok = {True: "yes", False: "NO"}.get(r.get("within_tolerance"), "-")
        md.append(f"| {r['model']} | {r['split']} | {r['faces']} | {r['nme_float']:.3f} | {r['nme_imx500']:.3f} | "
                  f"{r['nme_tflite_int8']:.3f} | {r['imx500_minus_tflite']:+.3f} | {r['imx500_minus_float']:+.3f} | "
                  f"{r['displacement_mean_px']:.3f} / {r['displacement_max_px']:.2f} | "
                  f"{r['argmax_agreement'] * 100:.1f} | {ok} |")
    md += ["", ("| model | fits in chip | memory used (of the chip's) | model / runtime memory | MCT quantize / export s | "
           "export s (test split) |"), "|---|---|---|---|---|---|"]
    for r in res["rows"]:
        if r["split"] != "test":
            continue
        c = r["chip"]
        mct = c.get("mct") or {}
        md.append(f"| {r['model']} | {c['fits_in_chip']} | {c['memory_bytes'] / 2**20:.2f} MiB of "
                  f"{c['chip_memory_bytes'] / 2**20:.2f} MiB ({c['memory_utilization_percent']:.0f} %) | "
                  f"{c['model_memory_bytes'] / 2**20:.2f} / {c['runtime_memory_bytes'] / 2**20:.2f} MiB | "
                  f"{mct.get('quantize_seconds')} / {mct.get('export_seconds')} | {r['export_seconds']} |")
    md += ["", "Commands:", ""]
    md += [f"- {r['model']} {r['split']}: `{r['command']}`; TFLite: `{r['tflite_command']}`" for r in res["rows"]]
    if any(r["split"] == "val" for r in res["rows"]):
        md += ["", f"{res['val_dir']}."]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks imx500", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["lite", "default"], help="bundled models (default: lite default)")
    p.add_argument("--splits", nargs="+", default=["test", "val"], choices=["test", "val"])
    p.add_argument("--data", default=str(SHARED / "data" / "300w" / "test"), help="the 300W test faces (evaluated only)")
    p.add_argument("--train", default=str(SHARED / "data" / "300w" / "train"),
                   help="the 300W training faces: calibration, and the validation split")
    p.add_argument("--calib-count", type=int, default=300)
    p.add_argument("--keep", help="keep the exports in this folder (default: a temporary one)")
    p.add_argument("--out", default=str(result_path("imx500")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)

    from pipnet_edge.converters.imx500 import IMXCONV_VERSION, SDSP_VERSION, missing_imx500_tools

    missing, tools = missing_imx500_tools()
    if tools is None:
        print("imx500 suite skipped: Sony's IMX500 tools are missing:\n  " + "\n  ".join(missing)
              + "\ninstall them with scripts/setup_imx500.sh", file=sys.stderr)
        return 0
    date = utc_now()
    train, test = Path(args.train), Path(args.data)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="imx500-bench-"))
    result = {"calib_count": args.calib_count, "sdsp_version": SDSP_VERSION, "tolerance": TOLERANCE,
              "versions": {"mct": tools.versions.get("mct", {}).get("model-compression-toolkit"),
                           "imxconv": IMXCONV_VERSION, "torch (MCT venv)": tools.versions.get("mct", {}).get("torch"),
                           "java": tools.versions.get("java")},
              "train": portable(train),
              "val_dir": (f"VAL_DIR: a folder of links to the faces of {portable(train)} that training's --val-fraction 0.1 "
                          "--seed 0 holds out (split_validation), made by the suite"),
              "rows": []}
    splits = {"test": (test, portable(test))}
    if "val" in args.splits:
        splits["val"] = (_val_folder(train, work / "val_faces"), "VAL_DIR")
    for model in args.models:
        for split in args.splits:
            data, shown = splits[split]
            result["rows"].append(run_split(model, split, data, shown, train, args.calib_count, work / f"{model}_{split}"))
    from pipnet_edge.assets.registry import CARDS

    sources = [CARDS[m].path(role) for m in args.models for role in ("fp16", "int8")]
    env = make_envelope("imx500", command_line("imx500", argv), model_hashes(sources), result, date=date,
                        models_note="each row's packerOut.zip (the IMX500 network its export made): packer_out_sha256")
    write_result(env, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The INT8 ONNX on a Qualcomm Hexagon NPU (onnxruntime-qnn's HTP backend) vs onnxruntime CPU, on 300W test faces.

    python -m benchmarks qnn_agreement          # -> benchmarks/results/qnn_agreement.json and .md

(``--artifacts DIR``: the ``*_onnx-int8.onnx`` files in DIR instead; by default both bundled models are exported to
``onnx-int8`` first, into a temporary folder, with ``python -m pipnet_edge.export``'s ``export()``.)

For each INT8 ONNX, on ground-truth-box crops (300W protocol, the evaluation's own
``open_predictor`` / ``predict_faces`` / ``summarize``): the NME of onnxruntime CPU and of the HTP
(``device=["QNNExecutionProvider"]``: whole model on the HTP, CPU fallback disabled, batch fixed to 1, no
``soc_model``), their difference, the landmark displacement between the two (mean / median / max px in the photo),
the share of heatmap cells that agree, and milliseconds per face. On x86-64 Linux the HTP is Qualcomm's simulator
(one CPU thread, hundreds of ms per face): its time says nothing about a phone's, only what this run costs.

The simulator is slow, so each model runs on an evenly spaced subset of the test faces: ``--faces PATTERN=N``
(the first pattern contained in the model's file stem wins; the default runs all 554 faces for the lite model, about
0.26 s each, and 300 for the others, about 1.1 s each: under 9 minutes on a 2-core EPYC). ``faces`` and ``subset``
in the output say which.

Then, per model and per SoC in ``QNN_SOCS``: ``compile_qnn_context`` (ahead-of-time context binary) succeeds or not,
with the context size and compile time, or the nodes QNN refused for that SoC. These run last: onnxruntime-qnn 2.7.0
keeps the SoC of a process's last session that named one for every later session that names none.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

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
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation import open_predictor, predict_faces
from pipnet_edge.metrics import summarize

QNN = "QNNExecutionProvider"


def faces_for(stem: str, rules: list[str]) -> int:
    for rule in rules:
        pattern, _, n = rule.rpartition("=")
        if pattern in stem:
            return int(n)
    return 0


def subset(records: list, n: int) -> tuple[list, str]:
    if not n or n >= len(records):
        return records, "all"
    idx = np.unique(np.linspace(0, len(records) - 1, n).round().astype(int))
    return [records[i] for i in idx], f"{len(idx)} evenly spaced of {len(records)} (indices linspace(0, {len(records) - 1}, {n}))"


def agreement(path: Path, records: list) -> dict:
    cpu = open_predictor(path, "onnxruntime")
    htp = open_predictor(path, "onnxruntime", providers=[QNN])
    scheme = cpu.spec.scheme
    t0 = time.perf_counter()
    ref = predict_faces(cpu, records)
    t1 = time.perf_counter()
    out = predict_faces(htp, records, progress=True)
    t2 = time.perf_counter()
    d = np.linalg.norm(out.points - ref.points, axis=-1)
    nme_cpu = summarize(ref.points, ref.truth, scheme).nme
    nme_htp = summarize(out.points, out.truth, scheme).nme
    return {
        "htp": htp.backend.describe(),
        "nme_cpu": round(nme_cpu, 4),
        "nme_htp": round(nme_htp, 4),
        "nme_delta": round(nme_htp - nme_cpu, 4),
        "displacement_mean_px": round(float(d.mean()), 3),
        "displacement_median_px": round(float(np.median(d)), 3),
        "displacement_max_px": round(float(d.max()), 2),
        "cells_agree": round(float((out.cells == ref.cells).mean()), 4),
        "ms_per_face_htp_simulated": round((t2 - t1) * 1000 / len(records), 1),
        "ms_per_face_cpu": round((t1 - t0) * 1000 / len(records), 2),
    }


def compile_table(path: Path) -> list[dict]:
    from pipnet_edge.converters.qnn import QNN_SOCS, compile_qnn_context
    from pipnet_edge.errors import ExportError

    rows = []
    with tempfile.TemporaryDirectory(prefix="qnn-ctx-") as tmp:
        for soc in QNN_SOCS:  # not soc_model 0: it would compile for the previous SoC of this process
            row = {"soc": soc}
            try:
                r = compile_qnn_context(path, Path(tmp) / f"{soc}_ctx.onnx", soc)
                row |= {"ok": True, "soc_model": r["soc_model"], "context_bytes": r["context_bytes"], "compile_s": r["compile_s"]}
            except ExportError as exc:
                row |= {"ok": False, "error": str(exc)[:300]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def render_markdown(envelope: dict) -> str:
    """The tables of a qnn_agreement result: the HTP against onnxruntime CPU per model, then which SoCs compile it."""
    res = envelope["results"]
    versions = ", ".join(f"{k} {v}" for k, v in res["versions"].items())
    md = [f"On `{res['data']}`, ground-truth-box crops. HTP: {res['htp']}; versions: {versions}.", "",
          ("| model | faces | NME CPU % | NME HTP % | delta | displacement mean / median / max px | heatmap cells agree | "
           "ms / face CPU | ms / face HTP (simulated) |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        md.append(f"| {r['artifact']} | {r['faces']} ({r['subset']}) | {r['nme_cpu']:.4f} | {r['nme_htp']:.4f} | "
                  f"{r['nme_delta']:+.4f} | {r['displacement_mean_px']:.3f} / {r['displacement_median_px']:.3f} / "
                  f"{r['displacement_max_px']:.2f} | {r['cells_agree']:.4f} | {r['ms_per_face_cpu']:.2f} | "
                  f"{r['ms_per_face_htp_simulated']:.1f} |")
    for r in res["rows"]:
        ctx = r.get("context_compile")
        if not ctx:
            continue
        ok = [c for c in ctx if c["ok"]]
        md += ["", f"{r['artifact']}: a QNN context binary compiles for {len(ok)} of {len(ctx)} SoCs.", "",
               "| SoC | compiles | soc_model | context bytes | compile s | error |", "|---|---|---|---|---|---|"]
        md += [f"| {c['soc']} | {'yes' if c['ok'] else 'no'} | {c.get('soc_model', '-')} | {c.get('context_bytes', '-')} | "
               f"{c.get('compile_s', '-')} | {c.get('error', '')} |" for c in ctx]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks qnn_agreement", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", default=None,
                   help="folder with *_onnx-int8.onnx exports (default: export both bundled models into a temporary folder)")
    p.add_argument("--data", default="../shared/data/300w/test")
    p.add_argument("--faces", action="append", default=None, metavar="PATTERN=N",
                   help="faces per model whose stem contains PATTERN (0: all); default: lite=0 and =300")
    p.add_argument("--no-compile", action="store_true", help="skip the per-SoC context compile table")
    p.add_argument("--out", default=str(result_path("qnn_agreement")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    date = utc_now()
    import onnxruntime
    import onnxruntime_qnn

    rules = args.faces or ["lite=0", "=300"]
    records = load_faces(args.data)
    result = {
        "data": portable(args.data),
        "versions": {"onnxruntime": onnxruntime.__version__, "onnxruntime_qnn": onnxruntime_qnn.__version__,
                     "qnn_sdk": getattr(onnxruntime_qnn.build_and_package_info, "qnn_version", "?")},
        "htp": "QNN HTP backend (libQnnHtp.so) of the onnxruntime-qnn wheel; on x86-64 Linux a simulator",
        "rows": [],
    }
    if args.artifacts is None:
        from pipnet_edge.assets import bundled_model_path
        from pipnet_edge.export import export

        args.artifacts = tempfile.mkdtemp(prefix="qnn-agreement-")
        for model in ("lite", "default"):
            export(model, "onnx-int8", args.artifacts)
        sources = [bundled_model_path(f"{model}-qat") for model in ("lite", "default")]
        result["artifacts"] = "onnx-int8 exports of the bundled lite and default models (made by this run)"
    else:
        sources = []
    paths = sorted(Path(args.artifacts).glob("*_onnx-int8.onnx"))
    if not paths:
        print(f"no *_onnx-int8.onnx in {args.artifacts}", file=sys.stderr)
        return 1
    for path in paths:
        stem = path.name[: -len("_onnx-int8.onnx")]
        recs, how = subset(records, faces_for(stem, rules))
        print(f"{stem}: {len(recs)} faces ({how})", flush=True)
        row = {"model": stem, "artifact": path.name, "bytes": path.stat().st_size,
               "sha256": sha256_file(path), "faces": len(recs), "subset": how}
        t0 = time.perf_counter()
        row |= agreement(path, recs)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)
        result["rows"].append(row)
    # after every agreement run: a session without soc_model compiles for the SoC of the process's last session that
    # named one (onnxruntime-qnn 2.7.0), so the SoC compiles come last
    for path, row in zip(paths, result["rows"]):
        if not args.no_compile:
            row["context_compile"] = compile_table(path)
    env = make_envelope("qnn_agreement", command_line("qnn_agreement", argv), model_hashes([*sources, *paths]), result,
                        date=date)
    write_result(env, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

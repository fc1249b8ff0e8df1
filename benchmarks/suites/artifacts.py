"""Accuracy and speed of exported artifacts and of peer landmarkers, measured in one run on this machine.

    bash benchmarks/peers/get_peers.sh       # once: dlib + face-recognition-models, MediaPipe's face_landmark.tflite
    python -m benchmarks artifacts --artifacts exports/ --data ../shared/data/300w/test

For every artifact: model size, latency per face (median / p90 of batch-1 inference, 1 and 2
threads, timed by the runtime's own stage timing), the runtime's own overhead (crop, decode,
points back to the photo) and NME on the labelled faces with
ground-truth-box crops (the 300W protocol). The peers (``benchmarks/peers/landmarkers.py``: dlib's 68-point
ERT, MediaPipe FaceMesh mapped to 68 points) get the same faces and boxes, and their model call
is timed the same way. Writes ``benchmarks/results/artifacts.json`` (the result envelope,
``benchmarks.envelope``; ``--out`` another path), the tables rendered from it (``artifacts.md``) and an
accuracy-vs-latency plot (``artifacts.png``). Peers that are not installed are skipped with the command that
installs them (``--peers`` with no names skips them all).

``--references CALIB`` adds, in the same run, what each runtime's own quantizer makes of our float
model (``benchmarks/reference_int8.py``: onnxruntime ``quantize_static`` on every float ``*_onnx.onnx``
given, NNCF on every float ``*_openvino.xml``, calibrated on 64 faces of CALIB, training data) and
prints each of our ``onnx-int8`` / ``openvino-int8`` artifacts' latency as a ratio of its runtime's reference.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.envelope import command_line, make_envelope, model_hashes, portable, read_result, result_path, write_result
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation import open_predictor, predict_faces
from pipnet_edge.evaluation.runner import read_face_crops
from pipnet_edge.evaluation.timing import time_calls
from pipnet_edge.metrics import summarize
from pipnet_edge.runtime import geometry
from pipnet_edge.runtime.artifact import ARTIFACT_SUFFIXES, artifact_size
from pipnet_edge.schemes import get_scheme


def bench_artifact(path: Path, records, runs: int, overhead: dict[str, dict], backend: str = "auto") -> dict:
    """An artifact's row: the model call timed on the first face's crop at 1 and 2 threads, NME on all faces.

    The model and decode times come from the runtime's own stage timing
    (``Landmarker.predict_crops(crops, timing=...)``); the first time an input size is seen, the runtime's
    overhead per face at that size (crop, decode, warp back: ``Landmarker.detect(image, boxes, timing=...)``
    at 1 thread) goes into ``overhead``.
    """
    row: dict = {"artifact": path.name, "size_mb": round(artifact_size(path) / 1e6, 2)}
    for threads in (1, 2):
        pred = open_predictor(path, backend, num_threads=threads)
        crops, _ = read_face_crops(records[:1], pred.spec)
        t = time_calls(lambda timing, pred=pred, crops=crops: pred.predict_crops(crops, timing=timing), runs, stages=True)
        row[f"ms_{threads}t"] = round(t.stages["model_ms"].median_ms, 3)
        row[f"p90_{threads}t"] = round(t.stages["model_ms"].p90_ms, 3)
        key = f"{pred.spec.input_size}px"
        if threads == 1 and key not in overhead:
            overhead[key] = runtime_overhead(pred, records[0], runs)
        backend, info = pred.backend.name, pred.info
        del pred
        gc.collect()
    row["backend"] = backend
    row["precision"] = info.precision
    pred = open_predictor(path, backend, num_threads=1)
    t0 = time.time()
    p = predict_faces(pred, records)
    s = summarize(p.points, p.truth, pred.spec.scheme)
    row.update(nme=round(s.nme, 3), fr10=round(s.failure_rate, 2), auc10=round(s.auc, 4), eval_s=round(time.time() - t0, 1))
    return row


def bench_peer(name: str, records, runs: int, files: list | None = None) -> dict:
    """A peer's row: its model call timed on the first face, NME on all faces (GT boxes); its model file is
    appended to ``files``."""
    import cv2

    from benchmarks.peers.landmarkers import gt_box, load_peers, predict_records

    row: dict = {"kind": "peer"}
    img = cv2.imread(str(records[0].image_path))
    for threads in (1, 2):
        peer = load_peers([name], num_threads=threads)[0]
        state = peer.prepare(img, gt_box(records[0].points))
        t = time_calls(lambda peer=peer, state=state: peer.run(state), runs)
        row[f"ms_{threads}t"], row[f"p90_{threads}t"] = round(t.median_ms, 3), round(t.p90_ms, 3)
    row.update(artifact=peer.label, backend=name, precision="float32" if name == "mediapipe" else "ERT (float)",
               size_mb=round(peer.size_bytes / 1e6, 2))
    if peer.max_threads == 1:
        row["note"] = "single-threaded: the 2-thread figure is the 1-thread call"
    peer = load_peers([name], num_threads=1)[0]
    if files is not None:
        files.append(peer.model_path)
    t0 = time.time()
    pred = predict_records(peer, records)
    s = summarize(pred, np.stack([r.points for r in records]), get_scheme("300w-68"))
    row.update(nme=round(s.nme, 3), fr10=round(s.failure_rate, 2), auc10=round(s.auc, 4), eval_s=round(time.time() - t0, 1))
    return row


def runtime_overhead(pred, record, runs: int) -> dict:
    """Per-face cost of the runtime's own work around the model: crop (affine warp), numpy decode, points back
    to the photo; medians of the stages of ``Landmarker.detect(image, boxes=[box], timing=...)``."""
    import cv2

    img = cv2.cvtColor(cv2.imread(str(record.image_path)), cv2.COLOR_BGR2RGB)
    box = geometry.box_from_points(record.points)[None]
    t = time_calls(lambda timing: pred.detect(img, boxes=box, timing=timing), runs, stages=True)
    return {k: round(t.stages[k].median_ms, 4) for k in ("crop_ms", "decode_ms", "warp_ms")} | {"runs": runs}


def reference_ratios(rows: list[dict]) -> list[str]:
    """Lines comparing each of our onnx-int8 / openvino-int8 artifacts with its runtime's own quantizer's (same model)."""
    refs = {r["artifact"]: r for r in rows if r.get("kind") == "reference"}
    pairs = {"onnx-int8": "onnx-int8-ort.onnx", "openvino-int8": "openvino-int8-nncf.xml"}
    lines = []
    for r in rows:
        if r.get("kind") != "ours" or r["backend"] not in ("onnxruntime", "openvino"):  # the runtime of the pair
            continue
        stem, target = r["artifact"].rsplit(".", 1)[0].rsplit("_", 1)
        ref = refs.get(f"{stem}_{pairs.get(target, '')}")
        if ref is None:
            continue
        if not lines:
            lines = ["", "| ours | reference (the runtime's own quantizer) | latency ratio 1 thread (2 threads) | NME ours / reference |",
                     "|---|---|---|---|"]
        lines.append(f"| {r['artifact']} | {ref['artifact']} | {r['ms_1t'] / ref['ms_1t']:.2f}x ({r['ms_2t'] / ref['ms_2t']:.2f}x) | "
                     f"{r['nme']:.3f} / {ref['nme']:.3f} |")
    return lines


def plot(rows: list[dict], path: Path) -> None:
    """Accuracy vs 1-thread latency: colour = model, marker = backend, peers as crosses; legend outside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"tflite": "o", "onnxruntime": "s", "openvino": "^", "opencv": "D"}
    ours = sorted({r["artifact"].rsplit("_", 1)[0] for r in rows if r.get("kind", "ours") in ("ours", "reference")})
    colours = dict(zip(ours, plt.get_cmap("tab10").colors))
    peer_colours = iter(["black", "dimgray", "darkred", "purple"])
    fig, ax = plt.subplots(figsize=(11, 5), dpi=120)
    for r in rows:
        if r.get("kind", "ours") in ("ours", "reference"):
            model, target = r["artifact"].rsplit("_", 1)
            style = {"marker": markers.get(r["backend"], "o"), "color": colours[model], "s": 45}
            name = f"{model} {target.rsplit('.', 1)[0]}"
        else:
            style, name = {"marker": "X", "color": next(peer_colours), "s": 90}, f"peer: {r['artifact'].split(' (')[0]}"
        ax.scatter(r["ms_1t"], r["nme"], label=f"{name}: {r['ms_1t']:.2f} ms, {r['nme']:.3f} %", **style)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title="o tflite, s onnxruntime, ^ openvino, D opencv, X peers", title_fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("latency per face, 1 thread (ms, log scale)")
    ax.set_ylabel("NME % (300W common, inter-ocular)")
    ax.set_title("accuracy vs latency (lower-left is better)")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def render_markdown(envelope: dict) -> str:
    """The tables of an artifacts result: one row per artifact / reference / peer, the runtime's overhead per
    input size, and our INT8 artifacts against each runtime's own quantizer's."""
    res = envelope["results"]
    rows, overhead = res["rows"], res["runtime_overhead"]
    md = [
        f"{res['faces']} faces of `{res['data']}`, ground-truth-box crops, batch 1, median of {res['runs']} runs.",
        "",
        "| model | backend | precision | size MB | ms 1 thread (p90) | ms 2 threads (p90) | NME % | FR@0.1 % | AUC@0.1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = {"ours": r["artifact"], "reference": f"reference: {r['artifact']}"}.get(r.get("kind"), f"peer: {r['artifact']}")
        md.append(
            f"| {name} | {r['backend']} | {r['precision']} | {r['size_mb']} | {r['ms_1t']:.2f} ({r['p90_1t']:.2f}) | "
            f"{r['ms_2t']:.2f} ({r['p90_2t']:.2f}) | {r['nme']:.3f} | {r['fr10']:.2f} | {r['auc10']:.4f} |"
        )
    md += [""] + [f"Runtime overhead per face at {k}: crop {v['crop_ms']:.3f} ms, numpy decode {v['decode_ms']:.3f} ms, "
                  f"points back to the photo {v['warp_ms']:.3f} ms." for k, v in overhead.items()]
    md += ["Latency is the model call alone on a prepared input, for ours and for the peers (dlib's predictor is single-threaded)."]
    md += reference_ratios(rows)
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks artifacts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", nargs="+", required=True, help="artifact files or folders of them")
    p.add_argument("--data", required=True, help="labelled faces (the 300W test folder)")
    p.add_argument("--out", default=str(result_path("artifacts")),
                   help="the result file (default: %(default)s); the .md and .png go beside it")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--replot", action="store_true", help="only redraw the plot from the result file --out")
    p.add_argument("--references", metavar="CALIB", help="also build and time the runtimes' own INT8 quantization of "
                   "our float ONNX / OpenVINO artifacts, calibrated on these training faces (benchmarks.reference_int8)")
    p.add_argument("--opencv", action="store_true", help="also run every .onnx artifact on OpenCV's DNN (backend='opencv')")
    p.add_argument("--peers", nargs="*", default=["dlib", "mediapipe"],
                   help="peer landmarkers to measure beside ours (default: dlib mediapipe; none: --peers)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.replot:
        plot(read_result(out)["results"]["rows"], out.with_suffix(".png"))
        return 0
    paths: list[Path] = []
    for a in args.artifacts:
        a = Path(a)
        paths += sorted(x for x in a.iterdir() if x.suffix in ARTIFACT_SUFFIXES) if a.is_dir() else [a]
    records = load_faces(args.data)
    if args.limit:
        records = records[: args.limit]
    kinds = {(path, "auto"): "ours" for path in paths}
    if args.opencv:  # every .onnx artifact once more on OpenCV's DNN
        kinds.update({(path, "opencv"): "ours" for path in paths if path.suffix == ".onnx"})
    if args.references:
        from benchmarks.reference_int8 import build_references

        print(f"building the runtimes' own INT8 references (calibration: {args.references}) ...", flush=True)
        import atexit
        import shutil
        import tempfile

        ref_dir = Path(tempfile.mkdtemp(prefix="pipnet-edge-int8-references-"))  # model files, not results: not kept
        atexit.register(shutil.rmtree, ref_dir, ignore_errors=True)
        for ref in build_references(paths, args.references, 64, ref_dir):
            kinds[(ref, "auto")] = "reference"
    rows = []
    overhead: dict[str, dict] = {}  # per input size: the crop, decode and warp costs depend on the model
    for (path, backend), kind in kinds.items():
        print(f"benchmarking {path.name} [{backend}] ...", flush=True)
        rows.append(bench_artifact(path, records, args.runs, overhead, backend))
        rows[-1]["kind"] = kind
        gc.collect()  # close this artifact's runtime before timing the next
        print("  ", json.dumps(rows[-1]), flush=True)
    from benchmarks.peers.landmarkers import PeerUnavailable

    peer_files: list[Path] = []
    for name in args.peers:
        print(f"benchmarking peer {name} ...", flush=True)
        try:
            rows.append(bench_peer(name, records, args.runs, peer_files))
        except PeerUnavailable as exc:
            print(f"   skipped: {exc}", flush=True)
            continue
        gc.collect()
        print("  ", json.dumps(rows[-1]), flush=True)
    results = {"data": portable(args.data), "faces": len(records), "runs": args.runs, "runtime_overhead": overhead, "rows": rows}
    env = make_envelope("artifacts", command_line("artifacts", argv), model_hashes([path for path, _ in kinds] + peer_files),
                        results)
    write_result(env, out)
    plot(rows, out.with_suffix(".png"))
    print(render_markdown(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())

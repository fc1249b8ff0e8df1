"""How far apart the INT8 artifacts of one model land, and why.

    python benchmarks/int8_agreement.py --artifacts exports/ --data ../shared/data/300w/test [--json OUT]

All INT8 targets come from one quantized graph, so they differ only by how each runtime executes it. For each model
stem in the folder, on ground-truth-box crops, the mean / max landmark displacement (pixels, in the photo) of every INT8
runtime (TFLite, onnxruntime, OpenVINO with its default and with ``precision_hint="f32"``) from three references:

* ``tflite``: the TFLite INT8 points (the issue's reference);
* ``exact``: the graph's own semantics, i.e. the INT8 ONNX run by onnxruntime with every graph optimisation off, so
  each DequantizeLinear -> float op -> QuantizeLinear runs as written (no integer kernels, no fusion);
* ``sum-fused``: the same, with the requantization of each convolution that feeds a residual Add removed (the
  convolution's float output goes straight into the Add), which is what OpenVINO's CPU plugin executes when it fuses
  the convolution with the Add (oneDNN "sum" post-op): it then rounds once, after the Add.

The probe row shows that mechanism on the first residual Add: the graph cut after it, OpenVINO's integer values (and
onnxruntime's) vs the exact and the sum-fused semantics (share of elements that differ; f32 hint, so that the cut output is not
rounded through bf16).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation import open_predictor, predict_faces


def _producer(graph, name):
    return next((n for n in graph.node if name in n.output), None)


def _consumers(graph, name):
    return sum(name in n.input for n in graph.node) + sum(o.name == name for o in graph.output)


def fuse_conv_sum(model):
    """Copy of an INT8 ONNX model in which every Conv -> QuantizeLinear -> DequantizeLinear -> Add path (nothing else reading it) feeds the
    Conv's float output to the Add (the requantization OpenVINO drops when it fuses the Add into the convolution).
    Returns ``(model, number of paths rewired)``."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g, n = m.graph, 0
    for add in [nd for nd in g.node if nd.op_type == "Add"]:
        for i, name in enumerate(add.input):
            dq = _producer(g, name)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            q = _producer(g, dq.input[0])
            if q is None or q.op_type != "QuantizeLinear":
                continue
            conv = _producer(g, q.input[0])
            # only a convolution whose quantized output feeds nothing but this Add (the residual branch's last
            # convolution; the skip input is quantized anyway, for the next block)
            if conv is not None and conv.op_type == "Conv" and _consumers(g, q.output[0]) == _consumers(g, dq.output[0]) == 1:
                add.input[i] = q.input[0]
                n += 1
    onnx.checker.check_model(m)
    return m, n


def probe_first_add(onnx_path: Path, crops: np.ndarray) -> dict:
    """Cut the INT8 ONNX after the quantizer of its first residual Add's output and compare, element by element in
    quantization steps, OpenVINO's values with the graph's exact semantics and with the sum-fused graph."""
    import onnx
    import onnxruntime as ort
    import openvino as ov

    model = onnx.load(onnx_path)
    g = model.graph
    add = next(n for n in g.node if n.op_type == "Add")
    q = next(n for n in g.node if n.op_type == "QuantizeLinear" and n.input[0] == add.output[0])
    # the residual branch's last convolution: its quantizer, the tensor just before the Add
    before = next(_producer(g, _producer(g, name).input[0]) for name in add.input
                  if _producer(g, name).op_type == "DequantizeLinear"
                  and _producer(g, _producer(g, _producer(g, name).input[0]).input[0]).op_type == "Conv"
                  and _consumers(g, name) == 1)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    x = crops.astype(np.float32)
    core = ov.Core()
    hint = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"}

    def run_ov(path):
        compiled = core.compile_model(core.read_model(str(path)), "CPU", hint)
        return np.concatenate([compiled(x[i : i + 1])[0] for i in range(len(x))]).astype(np.int32)

    with tempfile.TemporaryDirectory() as tmp:
        cut = Path(tmp) / "cut.onnx"
        onnx.utils.extract_model(str(onnx_path), str(cut), [g.input[0].name], [q.output[0]])
        fused = Path(tmp) / "cut_fused.onnx"
        onnx.save(fuse_conv_sum(onnx.load(cut))[0], fused)
        exact = ort.InferenceSession(str(cut), so).run(None, {g.input[0].name: x})[0].astype(np.int32)
        summed = ort.InferenceSession(str(fused), so).run(None, {g.input[0].name: x})[0].astype(np.int32)
        so1 = ort.SessionOptions()
        so1.intra_op_num_threads = 1
        ort_out = ort.InferenceSession(str(cut), so1).run(None, {g.input[0].name: x})[0].astype(np.int32)
        ov_out = run_ov(cut)
        cut_before = Path(tmp) / "cut_before.onnx"
        onnx.utils.extract_model(str(onnx_path), str(cut_before), [g.input[0].name], [before.output[0]])
        exact_before = ort.InferenceSession(str(cut_before), so).run(None, {g.input[0].name: x})[0].astype(np.int32)
        ov_before = run_ov(cut_before)
    return {"tensor": q.output[0], "elements": int(exact.size),
            "openvino_vs_exact_differ_before_add": round(float((ov_before != exact_before).mean()), 4),
            "openvino_vs_exact_differ": round(float((ov_out != exact).mean()), 4),
            "openvino_vs_sum_fused_differ": round(float((ov_out != summed).mean()), 4),
            "sum_fused_vs_exact_differ": round(float((summed != exact).mean()), 4),
            "onnxruntime_vs_exact_differ": round(float((ort_out != exact).mean()), 4)}


def _unoptimized(path: Path):
    """A Landmarker over ``path`` (an INT8 ONNX) with onnxruntime's graph optimisations off: the QDQ semantics."""
    return open_predictor(path, "onnxruntime", num_threads=1, optimize=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", default="exports")
    p.add_argument("--data", default="../shared/data/300w/test")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--json", help="write the rows here")
    p.add_argument("--probe-faces", type=int, default=4, help="faces for the first-Add probe (0: skip it)")
    args = p.parse_args(argv)
    import onnx

    records = load_faces(args.data)[: args.limit or None]
    folder = Path(args.artifacts)
    rows = []
    for tfl in sorted(folder.glob("*_tflite-int8.tflite")):
        stem = tfl.name[: -len("_tflite-int8.tflite")]
        onnx_path = folder / f"{stem}_onnx-int8.onnx"
        refs = {"tflite": predict_faces(open_predictor(tfl), records).points}
        if onnx_path.exists():
            refs["exact"] = predict_faces(_unoptimized(onnx_path), records).points
            fused, n = fuse_conv_sum(onnx.load(onnx_path))
            with tempfile.TemporaryDirectory() as tmp:
                fused_path = Path(tmp) / onnx_path.name
                onnx.save(fused, fused_path)
                refs["sum-fused"] = predict_faces(_unoptimized(fused_path), records).points
            print(f"{stem}: {n} convolution -> Add requantizations removed for the sum-fused reference")
            if args.probe_faces:
                from pipnet_edge.evaluation.runner import read_face_crops

                crops, _ = read_face_crops(records[: args.probe_faces], open_predictor(tfl).spec)
                probe = {"model": stem, "probe": "first residual Add", **probe_first_add(onnx_path, crops)}
                rows.append(probe)
                print(json.dumps(probe))
        runs = {"tflite-int8": refs["tflite"]}
        for label, path, opts in (("onnx-int8 (onnxruntime)", onnx_path, {}),
                                  ("openvino-int8", folder / f"{stem}_openvino-int8.xml", {}),
                                  ("openvino-int8, precision_hint f32", folder / f"{stem}_openvino-int8.xml",
                                   {"precision_hint": "f32"})):
            if path.exists():
                runs[label] = predict_faces(open_predictor(path, **opts), records).points
        for label, pts in runs.items():
            row = {"model": stem, "artifact": label, "faces": len(records)}
            for ref_name, ref in refs.items():
                d = np.linalg.norm(pts - ref, axis=-1)
                row[f"vs_{ref_name}_mean_px"] = round(float(d.mean()), 3)
                row[f"vs_{ref_name}_max_px"] = round(float(d.max()), 2)
            rows.append(row)
            print(json.dumps(row))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

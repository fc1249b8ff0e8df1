"""How far apart the INT8 artifacts of one model land, and why.

    python -m benchmarks int8_agreement --artifacts exports/ --data ../shared/data/300w/test

Writes ``benchmarks/results/int8_agreement.json`` (``--out``: another path) and the tables rendered from it.

All INT8 targets come from one quantized graph, so they differ only by how each runtime executes it. For each model
stem in the folder, on ground-truth-box crops, the mean / max landmark displacement (pixels, in the photo) of every INT8
runtime (TFLite, onnxruntime, OpenVINO with its default and with ``precision_hint="f32"``) from three references
(against TFLite also the median, the share of landmarks more than 3 px away and the mean over the others):

* ``tflite``: the TFLite INT8 points (the issue's reference);
* ``exact``: the graph's own semantics, i.e. the INT8 ONNX run by onnxruntime with every graph optimisation off, so
  each DequantizeLinear -> float op -> QuantizeLinear runs as written (no integer kernels, no fusion);
* ``sum-fused``: the same, with the requantization of each convolution that feeds a residual Add removed (the
  convolution's float output goes straight into the Add), which is what OpenVINO's CPU plugin executes when it fuses
  the convolution with the Add (oneDNN "sum" post-op): it then rounds once, after the Add.

A last OpenVINO row keeps that rounding (:func:`openvino_keeping_residual_rounding`) and runs in f32 (no bf16
anywhere): OpenVINO as close to the graph as it can be made to run. It shows how much of the distance to TFLite the
dropped rounding and bf16 explain.

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

from benchmarks.envelope import command_line, make_envelope, model_hashes, portable, result_path, utc_now, write_result
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation import open_predictor, predict_faces


def residual_requantizations(graph) -> list[tuple]:
    """``(add, input index, quantize node)`` of every ``Conv -> QuantizeLinear -> DequantizeLinear -> Add`` path whose
    quantized tensor nothing else reads: the requantization of a residual branch's last convolution (the skip input
    is quantized anyway, for the next block), which OpenVINO drops when it fuses the Add into the convolution."""
    producer = {out: node for node in graph.node for out in node.output}
    readers: dict[str, int] = {}
    for name in [i for node in graph.node for i in node.input] + [o.name for o in graph.output]:
        readers[name] = readers.get(name, 0) + 1
    found = []
    for add in (n for n in graph.node if n.op_type == "Add"):
        for i, name in enumerate(add.input):
            dq = producer.get(name)
            q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            conv = producer.get(q.input[0]) if q is not None and q.op_type == "QuantizeLinear" else None
            if conv is not None and conv.op_type == "Conv" and readers[q.output[0]] == readers[dq.output[0]] == 1:
                found.append((add, i, q))
    return found


def fuse_conv_sum(model):
    """Copy of an INT8 ONNX model in which each path of :func:`residual_requantizations` feeds the Conv's float output
    straight to the Add. Returns ``(model, number of paths rewired)``."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    paths = residual_requantizations(m.graph)
    for add, i, q in paths:
        add.input[i] = q.input[0]
    onnx.checker.check_model(m)
    return m, len(paths)


def openvino_keeping_residual_rounding(xml_path: Path, out_dir: Path) -> tuple[Path, int]:
    """Copy of an INT8 IR in which every requantization of a convolution's output that an Add reads (each residual
    branch's last one, and the skip input where it comes straight from a convolution) is also a model output, so that OpenVINO's CPU plugin cannot fuse the Add into the convolution and
    drop that rounding (it fuses only a convolution with one consumer). The landmarks ignore the extra outputs.
    Returns ``(path, number of outputs added)``."""
    import openvino as ov

    model = ov.Core().read_model(str(xml_path))
    kept = []
    for add in (op for op in model.get_ordered_ops() if op.get_type_name() == "Add"):
        for port in add.inputs():
            node = port.get_source_output().get_node()
            while node.get_type_name() in ("Convert", "Multiply", "Subtract"):  # dequantization
                node = node.input_value(0).get_node()
            if node.get_type_name() != "FakeQuantize":
                continue
            src = node.input_value(0).get_node()
            while src.get_type_name() in ("Add", "Convert", "Multiply"):  # bias, dequantization
                src = src.input_value(0).get_node()
            if src.get_type_name() == "Convolution":
                kept.append(node.output(0))
    model.add_outputs(kept)
    path = out_dir / xml_path.name
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path, len(kept)


def probe_first_add(onnx_path: Path, crops: np.ndarray) -> dict:
    """Cut the INT8 ONNX just before and just after its first residual Add and compare, element by element (share of
    quantized values that differ), OpenVINO's and onnxruntime's values with the graph's exact semantics (onnxruntime,
    optimisations off) and with the sum-fused graph."""
    import onnx
    import onnxruntime as ort
    import openvino as ov

    g = onnx.load(onnx_path).graph
    add, _, before = residual_requantizations(g)[0]  # the first residual Add; ``before``: its branch's quantizer
    after = next(n for n in g.node if n.op_type == "QuantizeLinear" and n.input[0] == add.output[0])
    feed = {g.input[0].name: crops.astype(np.float32)}
    core = ov.Core()

    def run_ort(path, optimize):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        if not optimize:
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return ort.InferenceSession(str(path), so).run(None, feed)[0].astype(np.int32)

    def run_ov(path):
        compiled = core.compile_model(core.read_model(str(path)), "CPU",
                                      {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"})
        x = feed[g.input[0].name]
        return np.concatenate([compiled(x[i : i + 1])[0] for i in range(len(x))]).astype(np.int32)

    def cut(tmp, name, tensor):
        path = Path(tmp) / name
        onnx.utils.extract_model(str(onnx_path), str(path), [g.input[0].name], [tensor])
        return path

    with tempfile.TemporaryDirectory() as tmp:
        cut_after, cut_before = cut(tmp, "after.onnx", after.output[0]), cut(tmp, "before.onnx", before.output[0])
        fused = Path(tmp) / "after_fused.onnx"
        onnx.save(fuse_conv_sum(onnx.load(cut_after))[0], fused)
        exact, summed = run_ort(cut_after, False), run_ort(fused, False)
        ort_out, ov_out = run_ort(cut_after, True), run_ov(cut_after)
        exact_before, ov_before = run_ort(cut_before, False), run_ov(cut_before)

    def differ(a, b):
        return round(float((a != b).mean()), 4)

    return {"tensor": after.output[0], "elements": int(exact.size),
            "openvino_vs_exact_differ_before_add": differ(ov_before, exact_before),
            "openvino_vs_exact_differ": differ(ov_out, exact),
            "openvino_vs_sum_fused_differ": differ(ov_out, summed),
            "sum_fused_vs_exact_differ": differ(summed, exact),
            "onnxruntime_vs_exact_differ": differ(ort_out, exact)}


FAR_PX = 3.0  # px; farther than a one-step difference in the heads' outputs moves a point


def _unoptimized(path: Path):
    """A Landmarker over ``path`` (an INT8 ONNX) with onnxruntime's graph optimisations off: the QDQ semantics."""
    return open_predictor(path, "onnxruntime", num_threads=1, optimize=False)


def _cell(r: dict, key: str, digits: int = 3) -> str:
    v = r.get(key)
    return "-" if v is None else f"{v:.{digits}f}"


def render_markdown(envelope: dict) -> str:
    """The tables of an int8_agreement result: each INT8 runtime's landmark displacement from TFLite, from the graph's
    exact semantics and from the sum-fused graph; then the first-residual-Add probe."""
    res = envelope["results"]
    rows = [r for r in res["rows"] if "probe" not in r]
    probes = [r for r in res["rows"] if "probe" in r]
    md = [(f"Landmark displacement in photo pixels on {rows[0]['faces'] if rows else '?'} faces of `{res['data']}` "
           f"(ground-truth-box crops): mean (max); against TFLite also the median, the share of points more than "
           f"{FAR_PX:g} px away and the mean over the others."), "",
          (f"| model | runtime | vs TFLite mean (max) | median | share > {FAR_PX:g} px | mean within {FAR_PX:g} px | "
           "vs exact graph mean (max) | vs sum-fused graph mean (max) |"), "|---|---|---|---|---|---|---|---|"]

    def mm(r: dict, ref: str) -> str:
        return "-" if f"vs_{ref}_mean_px" not in r else f"{r[f'vs_{ref}_mean_px']:.3f} ({r[f'vs_{ref}_max_px']:.2f})"

    for r in rows:
        md.append(f"| {r['model']} | {r['artifact']} | {mm(r, 'tflite')} | {_cell(r, 'vs_tflite_median_px')} | "
                  f"{_cell(r, f'vs_tflite_share_over_{FAR_PX:g}px', 4)} | {_cell(r, f'vs_tflite_mean_px_within_{FAR_PX:g}px')} | "
                  f"{mm(r, 'exact')} | {mm(r, 'sum-fused')} |")
    if probes:
        md += ["", ("The graph cut after its first residual Add (share of the quantized values that differ; OpenVINO with the "
                    "f32 hint):"), "",
               ("| model | tensor | elements | OpenVINO vs exact, before the Add | OpenVINO vs exact | OpenVINO vs sum-fused | "
                "sum-fused vs exact | onnxruntime vs exact |"), "|---|---|---|---|---|---|---|---|"]
        md += [f"| {r['model']} | {r['tensor']} | {r['elements']} | {_cell(r, 'openvino_vs_exact_differ_before_add', 4)} | "
               f"{_cell(r, 'openvino_vs_exact_differ', 4)} | {_cell(r, 'openvino_vs_sum_fused_differ', 4)} | "
               f"{_cell(r, 'sum_fused_vs_exact_differ', 4)} | {_cell(r, 'onnxruntime_vs_exact_differ', 4)} |" for r in probes]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks int8_agreement", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--artifacts", default="exports")
    p.add_argument("--data", default="../shared/data/300w/test")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", default=str(result_path("int8_agreement")), help="the result file (default: %(default)s)")
    p.add_argument("--probe-faces", type=int, default=4, help="faces for the first-Add probe (0: skip it)")
    args = p.parse_args(argv)
    import onnx

    records = load_faces(args.data)[: args.limit or None]
    folder = Path(args.artifacts)
    rows, used, date = [], [], utc_now()
    for tfl in sorted(folder.glob("*_tflite-int8.tflite")):
        stem = tfl.name[: -len("_tflite-int8.tflite")]
        onnx_path = folder / f"{stem}_onnx-int8.onnx"
        tflite = open_predictor(tfl)
        used += [tfl, onnx_path, folder / f"{stem}_openvino-int8.xml"]  # the ones that exist are hashed
        refs = {"tflite": predict_faces(tflite, records).points}
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

                crops, _ = read_face_crops(records[: args.probe_faces], tflite.spec)
                probe = {"model": stem, "probe": "first residual Add", **probe_first_add(onnx_path, crops)}
                rows.append(probe)
                print(json.dumps(probe))
        runs = {"tflite-int8": refs["tflite"]}
        xml = folder / f"{stem}_openvino-int8.xml"
        for label, path, opts in (("onnx-int8 (onnxruntime)", onnx_path, {}), ("openvino-int8", xml, {}),
                                  ("openvino-int8, precision_hint f32", xml, {"precision_hint": "f32"})):
            if path.exists():
                runs[label] = predict_faces(open_predictor(path, **opts), records).points
        if xml.exists():
            with tempfile.TemporaryDirectory() as tmp:
                kept, n = openvino_keeping_residual_rounding(xml, Path(tmp))
                runs["openvino-int8, precision_hint f32, residual rounding kept"] = predict_faces(
                    open_predictor(kept, precision_hint="f32"), records).points
            print(f"{stem}: {n} requantizations before residual Adds made outputs, so OpenVINO keeps their rounding")
        for label, pts in runs.items():
            row = {"model": stem, "artifact": label, "faces": len(records)}
            for ref_name, ref in refs.items():
                d = np.linalg.norm(pts - ref, axis=-1)
                row[f"vs_{ref_name}_mean_px"] = round(float(d.mean()), 3)
                row[f"vs_{ref_name}_max_px"] = round(float(d.max()), 2)
                if ref_name == "tflite" and label != "tflite-int8":
                    # is the distance spread over every point, or carried by a few far ones?
                    far = d > FAR_PX
                    row["vs_tflite_median_px"] = round(float(np.median(d)), 3)
                    row[f"vs_tflite_share_over_{FAR_PX:g}px"] = round(float(far.mean()), 4)
                    row[f"vs_tflite_mean_px_within_{FAR_PX:g}px"] = round(float(d[~far].mean()), 3)
            rows.append(row)
            print(json.dumps(row))
    results = {"data": portable(args.data), "artifacts": portable(args.artifacts), "rows": rows}
    write_result(make_envelope("int8_agreement", command_line("int8_agreement", argv), model_hashes(used), results, date=date),
                 args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

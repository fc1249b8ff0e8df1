"""The full-integer INT8 BlazeFace short range against the float one it was made from, in one run.

    python -m benchmarks int8_detector          # -> benchmarks/results/int8_detector.json and .md

Detectors, ``num_threads=1``, weighted NMS at IoU 0.3:

* ``float``: ``BlazeFaceDetector("short")`` (MediaPipe's file, float16 weights), its default score threshold 0.5;
* ``int8``: ``BlazeFaceDetector("short-int8")`` (``face_detection_short_range_int8.tflite``, made by
  ``scripts/quantize_blazeface.py`` from TRAINING photos only), its default threshold 0.4 (chosen on training
  canvases so that it finds the faces the float model finds at 0.5: the script's step 6);
* ``int8@0.5``: the same INT8 model at the float model's 0.5, for comparison.

Measured (test photos are only measured here, never used to make or tune the INT8 file):

* ``test_full``: the 554 whole 300W test photos (``../shared/data/300w/test_full``, one annotated face each). A face
  is found when a detection's centre lies inside its 68-point landmark box and the detection's longer side is
  0.5-2x the landmark box's (``../shared/models/README.md``). Also: how far the INT8 boxes are from the float ones
  (largest corner difference / float box side, for the faces both find).
* ``group``: the benchmark's 30 multi-face canvases (``benchmarks/multiface.py``, ``SETS["group"]``, built from
  ``test_full`` into the git-ignored ``benchmarks/.multiface/``): the same rule, one detection per face; which
  faces each finds, false detections, and whether INT8 finds every face float finds.
* speed: end to end per photo (``detect()`` on the decoded RGB photo: letterbox, inference, decoding, NMS), 1 thread,
  the two detectors taking turns photo by photo; ``pipnet_edge.evaluation.timing.time_calls`` (``--repeat`` timed
  calls per photo after one warm-up, the per-photo median kept), median and p90 over the photos.
* model facts: float32 tensors, input/output types, op counts.
* Arm Vela's report for every Ethos-U configuration (``pipnet_edge.converters.vela.compile_vela``, as the export
  targets), when ``ethos-u-vela`` is installed (``pip install 'pipnet-edge[ethos-u]'``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks import ROOT, SHARED
from benchmarks.envelope import command_line, make_envelope, model_hashes, portable, result_path, utc_now, write_result
from benchmarks.multiface import ensure_set, load_set
from pipnet_edge.data.annotations import load_300w_folder
from pipnet_edge.evaluation.timing import time_calls
from pipnet_edge.runtime.detectors.blazeface import BlazeFaceDetector, blazeface_model_path

DETECTORS = {"float": ("short", None), "int8": ("short-int8", None), "int8@0.5": ("short-int8", 0.5)}


def face_found(boxes: np.ndarray, points: np.ndarray, used: np.ndarray | None = None) -> int:
    """Index of the first detection that finds this face (centre in its landmark box, longer side 0.5-2x), or -1."""
    if len(boxes) == 0:
        return -1
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    side = max(x1 - x0, y1 - y0)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    long = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    ok = (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1) & (long >= 0.5 * side) & (long <= 2.0 * side)
    if used is not None:
        ok &= ~used
    hit = np.flatnonzero(ok)
    return int(hit[0]) if len(hit) else -1


def box_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest corner difference of box ``b`` from box ``a``, over ``a``'s longer side."""
    return float(np.abs(a - b).max() / max(a[2] - a[0], a[3] - a[1]))


def model_facts(path: Path) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    tensors = it.get_tensor_details()
    return {
        "file": str(path.relative_to(ROOT)),
        "bytes": path.stat().st_size,
        "float32_tensors": sum(np.dtype(t["dtype"]) == np.float32 for t in tensors),
        "tensor_dtypes": dict(Counter(np.dtype(t["dtype"]).name for t in tensors)),
        "inputs": [[d["name"], np.dtype(d["dtype"]).name, list(map(int, d["shape"]))] for d in it.get_input_details()],
        "outputs": [[d["name"], np.dtype(d["dtype"]).name, list(map(int, d["shape"]))] for d in it.get_output_details()],
        "ops": dict(Counter(o["op_name"] for o in it._get_ops_details())),
    }


def vela_figures() -> dict | None:
    """Vela's report for the INT8 file on every Ethos-U configuration (``pipnet_edge.converters.vela``), or ``None``
    when Vela is not installed (``pip install 'pipnet-edge[ethos-u]'``)."""
    import importlib.util

    if importlib.util.find_spec("ethosu") is None:
        return None
    from pipnet_edge.converters.vela import ETHOS_U_CONFIGS, compile_vela, vela_version

    model = blazeface_model_path("short-int8")
    with tempfile.TemporaryDirectory() as d:
        reports = {name: compile_vela(model, Path(d) / f"{name}.tflite", cfg) for name, cfg in ETHOS_U_CONFIGS.items()}
    return {"vela_version": vela_version(), "targets": reports}


def render_markdown(envelope: dict) -> str:
    """The tables of an int8_detector result: recall, box agreement and time on ``test_full``, faces found on
    ``group``, and Vela's report when it was run."""
    res = envelope["results"]
    tf, gr, keys = res["test_full"], res["group"], list(res["settings"]["min_confidence"])
    conf = res["settings"]["min_confidence"]
    md = [(f"BlazeFace short range, 1 thread, NMS IoU {res['settings']['nms_threshold']}; `float`: MediaPipe's file, "
           "`int8`: the bundled full-integer file, `int8@0.5`: the same at the float model's threshold."), "",
          (f"test_full ({tf['photos']} photos, one annotated face each; found: a detection's centre in the landmark box, "
           "its longer side 0.5-2x the box's):"), "",
          "| detector | threshold | found | recall % | box error vs float: median / p95 / max | ms / photo median (p90) |",
          "|---|---|---|---|---|---|"]
    for k in keys:
        e = tf["box_error_vs_float"].get(k)
        err = f"{e['median']:.4f} / {e['p95']:.4f} / {e['max']:.4f}" if e else "-"
        t = tf["ms_per_photo_1_thread"][k]
        md.append(f"| {k} | {conf[k]} | {tf[f'found_{k}']} / {tf['faces']} | {tf[f'recall_{k}_pct']:.2f} | {err} | "
                  f"{t['median']:.2f} ({t['p90']:.2f}) |")
    e2e = tf.get("end_to_end_lite_ms_per_photo_1_thread", {})
    if e2e:
        md += ["", "Whole photo, `Landmarker('lite', detector=...)`, 1 thread, ms / photo median (p90): "
               + ", ".join(f"{k} {v['median']:.2f} ({v['p90']:.2f})" for k, v in e2e.items()) + "."]
    md += ["", f"group ({gr['canvases']} canvases, {gr['faces']} faces; every face annotated):", "",
           ("| detector | found | false detections | found by both with float | finds every face float finds | "
            "float only | it only | ms / photo median (p90) |"), "|---|---|---|---|---|---|---|---|"]
    for k in keys:
        q = gr.get(k, {})
        t = gr["ms_per_photo_1_thread"][k]
        md.append(f"| {k} | {gr[f'found_{k}']} / {gr['faces']} | {gr['false_detections'][k]} | {q.get('found_by_both', '-')} | "
                  f"{q.get('finds_every_face_float_finds', '-')} | {', '.join(q.get('found_by_float_only', [])) or '-'} | "
                  f"{', '.join(q.get('found_by_it_only', [])) or '-'} | {t['median']:.2f} ({t['p90']:.2f}) |")
    vela = res.get("vela")
    if vela:
        md += ["", f"Arm Vela {vela['vela_version']}, the INT8 file:", "",
               "| config | CPU ops | NPU ops | est. ms | SRAM KiB | flash KiB | DRAM KiB | MMAC |", "|---|---|---|---|---|---|---|---|"]
        md += [f"| {name} | {r['cpu_operators']} | {r['npu_operators']} | {r['inference_time_ms']:.2f} | {r['sram_kib']:.0f} | "
               f"{r['off_chip_flash_kib']:.0f} | {r['dram_kib']:.0f} | {r['nn_macs'] / 1e6:.0f} |" for name, r in vela["targets"].items()]
    else:
        md += ["", "Vela: not run (`pip install 'pipnet-edge[ethos-u]'`)."]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks int8_detector", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--test-full", default=str(SHARED / "data" / "300w" / "test_full"))
    p.add_argument("--out", default=str(result_path("int8_detector")), help="the result file (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=5, help="timed calls per photo (median kept)")
    p.add_argument("--limit", type=int, default=0, help="only the first N test_full photos (a quick look)")
    args = p.parse_args(argv)
    import cv2

    out_path, date = Path(args.out), utc_now()
    dets = {k: BlazeFaceDetector(v, min_confidence=t, num_threads=1) for k, (v, t) in DETECTORS.items()}
    keys = list(dets)
    # the whole photo pipeline: the bundled lite model behind each detector (INT8 detector + INT8 lite: all integer)
    from pipnet_edge.runtime import Landmarker

    pipes = {k: Landmarker("lite", detector=f"blazeface-{v}", num_threads=1) for k, (v, _) in DETECTORS.items() if k in ("float", "int8")}
    pipe_times: dict[str, list[float]] = {k: [] for k in pipes}

    # ---------------------------------------------------------------------------------------- test_full
    records = sorted(load_300w_folder(args.test_full), key=lambda r: str(r.image_path))
    if args.limit:
        records = records[: args.limit]
    found = {k: 0 for k in dets}
    missed = {k: [] for k in dets}
    errors, times = {"int8": [], "int8@0.5": []}, {k: [] for k in dets}
    for i, r in enumerate(records):
        img = np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(r.image_path)), cv2.COLOR_BGR2RGB))
        got = {}
        order = keys[i % len(keys):] + keys[: i % len(keys)]  # take turns going first
        for k in order:
            st = time_calls(lambda d=dets[k], im=img: d.detect(im), runs=args.repeat, warmup=1)
            times[k].append(st.median_ms)
            got[k] = st.result
        for k in [k for k in order if k in pipes]:
            pipe_times[k].append(time_calls(lambda lm=pipes[k], im=img: lm.detect(im), runs=args.repeat, warmup=1).median_ms)
        hits = {}
        for k, d in got.items():
            hits[k] = face_found(d.boxes, r.points)
            if hits[k] >= 0:
                found[k] += 1
            else:
                missed[k].append(r.name)
        for k, errs in errors.items():
            if hits["float"] >= 0 and hits[k] >= 0:
                errs.append(box_error(got["float"].boxes[hits["float"]], got[k].boxes[hits[k]]))
    n = len(records)
    test_full = {
        "photos": n,
        "faces": n,
        **{f"found_{k}": found[k] for k in dets},
        **{f"recall_{k}_pct": round(100.0 * found[k] / n, 2) for k in dets},
        **{f"missed_{k}": missed[k] for k in dets},
        "box_error_vs_float": {k: {"faces": len(e), "median": round(float(np.median(e)), 4),
                                   "p95": round(float(np.percentile(e, 95)), 4), "max": round(float(np.max(e)), 4)}
                               for k, e in errors.items()},
        "box_error_what": "largest corner difference from the float model's box / its longer side, faces both find",
        "ms_per_photo_1_thread": {k: {"median": round(float(np.median(t)), 3), "p90": round(float(np.percentile(t, 90)), 3)}
                                  for k, t in times.items()},
        "end_to_end_lite_ms_per_photo_1_thread": {
            k: {"median": round(float(np.median(t)), 3), "p90": round(float(np.percentile(t, 90)), 3)} for k, t in pipe_times.items()},
        "end_to_end_what": "Landmarker('lite', detector='blazeface-short' or 'blazeface-short-int8').detect(photo), RGB in",
    }
    print("test_full", json.dumps({k: v for k, v in test_full.items() if not k.startswith("missed")}))

    # ---------------------------------------------------------------------------------------- group canvases
    folder = ensure_set("group", args.test_full, progress=False)
    canvases = load_set(folder)
    per_face = {k: [] for k in dets}
    false = {k: 0 for k in dets}
    gtimes = {k: [] for k in dets}
    for i, c in enumerate(canvases):
        img = np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(c.image_path)), cv2.COLOR_BGR2RGB))
        order = keys[i % len(keys):] + keys[: i % len(keys)]
        for k in order:
            st = time_calls(lambda d=dets[k], im=img: d.detect(im), runs=args.repeat, warmup=1)
            gtimes[k].append(st.median_ms)
            boxes = st.result.boxes
            used = np.zeros(len(boxes), bool)
            for pts in c.faces:
                j = face_found(boxes, pts, used)
                if j >= 0:
                    used[j] = True
                per_face[k].append(j >= 0)
            false[k] += int((~used).sum())
    f = np.asarray(per_face["float"])
    faces = [f"{c.name}#{j}" for c in canvases for j in range(len(c.faces))]
    group = {"canvases": len(canvases), "faces": len(f), **{f"found_{k}": int(np.sum(v)) for k, v in per_face.items()}}
    for k in ("int8", "int8@0.5"):
        q = np.asarray(per_face[k])
        group[k] = {
            "found_by_both": int((f & q).sum()),
            "finds_every_face_float_finds": bool((q | ~f).all()),
            "found_by_float_only": [faces[i] for i in np.flatnonzero(f & ~q)],
            "found_by_it_only": [faces[i] for i in np.flatnonzero(q & ~f)],
        }
    group |= {
        "false_detections": false,
        "ms_per_photo_1_thread": {k: {"median": round(float(np.median(t)), 3), "p90": round(float(np.percentile(t, 90)), 3)}
                                  for k, t in gtimes.items()},
    }
    print("group", json.dumps(group))

    result = {
        "what": "BlazeFace short range: MediaPipe's float model vs the bundled full-integer INT8 one (same run)",
        "settings": {"num_threads": 1, "min_confidence": {k: float(d.min_confidence) for k, d in dets.items()},
                     "nms_threshold": 0.3, "repeat": args.repeat, "limit": args.limit, "test_full": portable(args.test_full)},
        "model_facts": {k: model_facts(blazeface_model_path(v)) for k, (v, _) in DETECTORS.items() if k in ("float", "int8")},
        "test_full": test_full,
        "group": group,
        "vela": vela_figures(),
    }
    files = [blazeface_model_path(v) for v, _ in DETECTORS.values()] + [lm.path for lm in pipes.values()]
    write_result(make_envelope("int8_detector", command_line("int8_detector", argv), model_hashes(files), result, date=date),
                 out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

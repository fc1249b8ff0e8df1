"""How YuNet's working size, score threshold and smallest face were chosen, and its two engines compared.

    python -m benchmarks detectors          # -> benchmarks/results/detectors.json and .md

Only TRAINING faces choose settings: two sets of multi-face photos are built from
``../shared/data/300w/train`` with ``benchmarks/multiface.py`` (git-ignored cache ``benchmarks/.multiface-train``):

* ``edge``: 100 photos, 3-8 faces of 7.5-13 % of the longer side (the faces the default must still find);
* ``small``: the benchmark's ``small`` recipe (15 photos of 40-100 px faces) from training faces.

A face is found when a detection's centre lies in its landmark box (one detection per face); a
detection on no face is false. Reported: found / faces and false detections for YuNet at several working
sizes (longer side) and thresholds on ``edge``, and on ``small`` for the face height (px at YuNet's input) that
``min_face_size=40`` maps a 40-px face to. Then the onnxruntime and OpenCV engines on the same photos: do they
find the same faces, how far apart are their boxes, and how long does each take (1 thread).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from benchmarks import HERE, SHARED
from benchmarks.envelope import command_line, make_envelope, model_hashes, portable, result_path, utc_now, write_result
from benchmarks.multiface import SETS, SetSpec, build_set, load_set, sources_from_folder
from pipnet_edge.evaluation.timing import time_calls
from pipnet_edge.runtime.detectors import YuNetFaceDetector

EDGE = SetSpec(count=100, faces=(3, 8), height_frac=(0.075, 0.13), seed=7)


def found_and_false(detector, canvases, images) -> tuple[int, int, int]:
    """(faces found, faces, false detections) of ``detector`` on the canvases."""
    found = total = false = 0
    for canvas, img in zip(canvases, images):
        d = detector.detect(img)
        cx, cy = (d.boxes[:, 0] + d.boxes[:, 2]) / 2, (d.boxes[:, 1] + d.boxes[:, 3]) / 2
        used = np.zeros(len(d), bool)
        for pts in canvas.faces:
            x0, y0 = pts.min(0)
            x1, y1 = pts.max(0)
            total += 1
            hit = np.flatnonzero((cx > x0) & (cx < x1) & (cy > y0) & (cy < y1) & ~used)
            if len(hit):
                used[hit[0]] = True
                found += 1
        false += int((~used).sum())
    return found, total, false


def render_markdown(envelope: dict) -> str:
    """The tables of a detectors result: YuNet's working sizes and thresholds on ``edge``, the face height at its
    input on ``small``, and its two engines."""
    res = envelope["results"]
    rows = res["rows"]
    md = [(f"Training faces of `{res['train']}` on synthetic multi-face photos; a face is found when a detection's centre "
           "lies in its landmark box (one detection per face); a detection on no face is false."), "",
          "| set | YuNet input (longer side) | min confidence | found / faces | false detections |", "|---|---|---|---|---|"]
    md += [f"| {r['set']} | {r['input_size']} | {r['min_confidence']} | {r['found']} / {r['faces']} | {r['false']} |"
           for r in rows if "input_size" in r]
    md += ["", "| set | a 40-px face at YuNet's input (px) | found / faces | false detections |", "|---|---|---|---|"]
    md += [f"| {r['set']} | {r['face_px_at_input']} | {r['found']} / {r['faces']} | {r['false']} |"
           for r in rows if "face_px_at_input" in r]
    for r in (r for r in rows if "engines" in r):
        ms = ", ".join(f"{e} {v} ms" for e, v in r["ms_median_1_thread"].items())
        md += ["", (f"Engines ({r['engines']}, {r['set']}, {r['photos']} photos): the same number of faces on "
                    f"{r['same_face_count']} photos, boxes at most {r['max_box_diff_px']:.2f} px apart; median per photo, "
                    f"1 thread: {ms}.")]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks detectors", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", default=str(SHARED / "data" / "300w" / "train"), help="the 300W TRAINING faces")
    p.add_argument("--cache-dir", default=str(HERE / ".multiface-train"))
    p.add_argument("--out", default=str(result_path("detectors")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    import cv2

    from pipnet_edge.runtime.detectors.yunet import yunet_model_path

    date = utc_now()

    sources = sources_from_folder(args.train)
    sets = {}
    for name, spec in (("edge", EDGE), ("small", SETS["small"])):
        folder = Path(args.cache_dir) / name
        if not (folder / "manifest.json").is_file():
            build_set(name, sources, args.cache_dir, spec)
        canvases = load_set(folder)
        sets[name] = (canvases, [cv2.cvtColor(cv2.imread(str(c.image_path)), cv2.COLOR_BGR2RGB) for c in canvases])
    rows = []

    edge_c, edge_i = sets["edge"]
    for size in (416, 512, 640):
        for conf in (0.5, 0.6):
            f, n, false = found_and_false(YuNetFaceDetector(input_size=size, min_confidence=conf), edge_c, edge_i)
            rows.append({"set": "edge", "input_size": size, "min_confidence": conf, "found": f, "faces": n, "false": false})
            print(json.dumps(rows[-1]))

    small_c, small_i = sets["small"]
    for px in (28, 32, 40):  # a 40-px face reaches px pixels at YuNet's input
        f = n = false = 0
        for canvas, img in zip(small_c, small_i):
            det = YuNetFaceDetector(input_size=math.ceil(max(img.shape[:2]) * px / 40))
            a, b, c = found_and_false(det, [canvas], [img])
            f, n, false = f + a, n + b, false + c
        rows.append({"set": "small", "face_px_at_input": px, "found": f, "faces": n, "false": false})
        print(json.dumps(rows[-1]))

    engines = {e: YuNetFaceDetector(engine=e, num_threads=1) for e in ("opencv", "onnxruntime")}
    ms = {e: [] for e in engines}
    same, box_diff = 0, 0.0
    for img in edge_i:
        got = {}
        for e, det in engines.items():  # one call per photo and engine, the engines in turn
            t = time_calls(lambda det=det, img=img: det.detect(img), runs=1, warmup=0)
            got[e] = t.result
            ms[e].append(t.median_ms)
        if len(got["opencv"]) == len(got["onnxruntime"]):
            same += 1
            if len(got["opencv"]):
                box_diff = max(box_diff, float(np.abs(got["opencv"].boxes - got["onnxruntime"].boxes).max()))
    rows.append({"set": "edge", "engines": "opencv vs onnxruntime", "photos": len(edge_i), "same_face_count": same,
                 "max_box_diff_px": box_diff, "ms_median_1_thread": {e: round(float(np.median(v)), 2) for e, v in ms.items()}})
    print(json.dumps(rows[-1]))
    results = {"train": portable(args.train), "rows": rows}
    write_result(make_envelope("detectors", command_line("detectors", argv), model_hashes([yunet_model_path()]), results,
                               date=date), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

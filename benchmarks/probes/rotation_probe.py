"""Do the detector's eye keypoints help on tilted heads? Whole photos turned by known angles.

    python -m benchmarks.probes.rotation_probe --data ../shared/data/300w/test_full --angles 0 15 30 45
        # -> benchmarks/results/probes/rotation_probe.json and .md

Each photo is turned about its annotated face's centre by +angle and -angle (the corners
filled by replication), the bundled Landmarker runs on the whole photo (detector + model), and
the face that matches the annotated one is scored (NME, outer-eye-corner normalisation), with
roll alignment from the detector's eye keypoints on (the default) and off. Detection rate is
reported too: a face counts as found when a returned face's landmark box overlaps the true
landmark box with IoU >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from benchmarks.envelope import (
    command_line,
    make_envelope,
    markdown_table,
    model_hashes,
    portable,
    result_path,
    utc_now,
    write_result,
)


def render_markdown(envelope: dict) -> str:
    """The table of a rotation_probe result: per model and angle, faces found and NME with roll alignment on and off."""
    res = envelope["results"]
    return "\n".join([f"Detector `{res['detector']}`; each photo turned by +angle and -angle about its face's centre.", ""]
                     + markdown_table(res["rows"], [
                         ("model", "model", ""), ("angle", "angle", "g"), ("roll alignment", lambda r: "on" if r["align"] else "off", ""),
                         ("found / faces", lambda r: f"{r['found']} / {r['faces']}", ""), ("NME %", "nme", ".3f"),
                         ("FR@0.1 %", "failure_rate", ".2f")])) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.probes.rotation_probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="whole photos with .pts (an evaluation set: this only measures)")
    p.add_argument("--models", nargs="+", default=["default", "lite"], help="bundled model names or artifact files")
    p.add_argument("--detector", default="yunet")
    p.add_argument("--angles", type=float, nargs="+", default=[0, 15, 30, 45])
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", default=str(result_path("probes.rotation_probe")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    date = utc_now()
    import cv2
    from tqdm import tqdm

    from pipnet_edge.data.annotations import load_300w_folder
    from pipnet_edge.metrics import summarize
    from pipnet_edge.runtime import Landmarker, geometry
    from pipnet_edge.runtime.detectors import box_iou

    recs = load_300w_folder(args.data)
    if args.limit:
        recs = recs[: args.limit]
    photos = [cv2.imread(str(r.image_path)) for r in recs]
    from benchmarks.suites.end_to_end import detector_file

    rows, files = [], [detector_file(args.detector)]
    for model in args.models:
        lms = {align: Landmarker(model, detector=args.detector, align_faces=align, num_threads=1, color_order="BGR")
               for align in (True, False)}
        files.append(lms[True].path)
        scheme = lms[True].spec.scheme
        for angle in args.angles:
            signs = (1, -1) if angle else (1,)
            found = {True: [], False: []}
            truth_of = {True: [], False: []}
            t0 = time.time()
            for rec, img in tqdm(zip(recs, photos), total=len(recs), desc=f"{model} {angle:g} deg", leave=False):
                h, w = img.shape[:2]
                for sign in signs:
                    centre = tuple(float(v) for v in rec.points.mean(0))
                    m = cv2.getRotationMatrix2D(centre, sign * angle, 1.0)
                    turned = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
                    truth = geometry.apply(m, rec.points)
                    tbox = geometry.box_from_points(truth)
                    for align, lm in lms.items():
                        faces = lm.detect(turned)
                        if not len(faces):
                            continue
                        iou = box_iou(np.stack([geometry.box_from_points(f.points) for f in faces]), tbox[None])[:, 0]
                        k = int(iou.argmax())
                        if iou[k] >= 0.5:
                            found[align].append(faces[k].points)
                            truth_of[align].append(truth)
            total = len(recs) * len(signs)
            for align in (True, False):
                s = summarize(np.stack(found[align]), np.stack(truth_of[align]), scheme)
                # the faces both settings found, for a like-for-like NME
                rows.append({"model": model, "angle": angle, "align": align, "faces": total, "found": len(found[align]),
                             "nme": round(s.nme, 3), "failure_rate": round(s.failure_rate, 2)})
                print(json.dumps(rows[-1]))
            print(f"  {time.time() - t0:.0f} s")
    write_result(make_envelope("probes.rotation_probe", command_line("probes.rotation_probe", argv), model_hashes(files),
                               {"data": portable(args.data), "detector": args.detector, "rows": rows}, date=date), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Head pose from the landmarks on real faces: roll on turned photos, yaw's sign under mirroring, predicted vs labels.

    python -m benchmarks head_pose            # -> benchmarks/results/head_pose.json and .md
    python -m benchmarks head_pose --limit 20 --out /tmp/head_pose.json   # a quick look

The 554 faces of the 300W common test set (``../shared/data/300w/test``: 416 x 416 crops, one labelled face each;
evaluation only, nothing here is tuned on them), the bundled ``default`` model (``--model``) run through the
Landmarker with the ground-truth landmark box of the photo as it is shown to the model (``lm.detect(photo,
boxes=[box])``: the 300W protocol crop, as ``pipnet_edge.evaluation.runner`` crops), and
:func:`pipnet_edge.runtime.face_geometry.head_pose` (camera: focal = the photo's width, principal point at its
centre; the pose from the 51 inner points against the 3D mean face).

1. **Roll on turned photos**: each photo turned about its centre (the principal point) by each ``--angles`` value,
   + and - (``cv2.getRotationMatrix2D``, counter-clockwise on screen for +; same size, edges replicated), its labels
   turned with it; the model runs again on the turned photo. A turn about the principal point adds exactly the
   angle to the roll of :func:`head_pose` (its conventions), so the error is
   ``roll(turned) - roll(unturned) - angle`` (the predicted points on both photos); also against the labels,
   ``roll(turned) - roll(labels, unturned) - angle``. Median and p90 of the absolute errors per angle; how much
   yaw and pitch moved.
2. **Yaw's sign under mirroring**: each photo mirrored left-right (labels mirrored and relabelled by the scheme's
   flip permutation for the box); the model runs on it. Mirroring negates yaw and roll (a symmetric mean face, the
   principal point on the mirror axis); of the faces whose predicted yaw on the photo is above 10 degrees either
   way, the share whose yaw on the mirrored photo has the other sign. Also the median of ``|yaw + yaw_mirrored|``.
3. **Predicted vs labelled points**: the head pose of the model's points against that of the labels on the same
   photo: median, mean and p90 of the absolute difference per axis, and the labels' pose spread.

Also the eye / mouth aspect ratios of predicted vs labelled points (median absolute difference) and how long each
face geometry call takes (median microseconds over the faces, this machine, one call each).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import SHARED
from benchmarks.envelope import command_line, make_envelope, markdown_table, model_hashes, portable, result_path, utc_now, write_result

AXES = ("yaw", "pitch", "roll")


def _wrap(deg: np.ndarray) -> np.ndarray:
    """Angles wrapped to [-180, 180)."""
    return (np.asarray(deg) + 180.0) % 360.0 - 180.0


def _stats(values) -> dict:
    v = np.abs(np.asarray(values, np.float64))
    return {"median": round(float(np.median(v)), 3), "mean": round(float(v.mean()), 3),
            "p90": round(float(np.percentile(v, 90)), 3), "max": round(float(v.max()), 3)}


def render_markdown(envelope: dict) -> str:
    """The tables of a head_pose result: roll error on turned photos, yaw's sign under mirroring, predicted vs
    labelled points."""
    res = envelope["results"]
    turned, mirror, vs = res["roll_turned"], res["mirror"], res["pred_vs_labels"]
    md = [f"Model `{res['model']}`, {res['faces']} faces of `{res['data']}` (ground-truth boxes); camera: {res['camera']}.", "",
          "Roll on photos turned about their centre (degrees; error = roll(turned) - roll(unturned) - angle, "
          "absolute; 'vs labels': against the labels' roll on the unturned photo + angle):", ""]
    md += markdown_table(turned["rows"], [
        ("angle", "angle", "+g"), ("faces", "faces", "d"),
        ("roll error median", lambda r: r["roll_error"]["median"], ".2f"),
        ("roll error p90", lambda r: r["roll_error"]["p90"], ".2f"),
        ("vs labels median", lambda r: r["roll_error_vs_labels"]["median"], ".2f"),
        ("vs labels p90", lambda r: r["roll_error_vs_labels"]["p90"], ".2f"),
        ("yaw moved median", lambda r: r["yaw_change"]["median"], ".2f"),
        ("pitch moved median", lambda r: r["pitch_change"]["median"], ".2f")])
    md += ["", (f"Mirrored photos: of {mirror['faces_over']} faces with |yaw| > {mirror['threshold_deg']:g} degrees "
                f"(predicted, unmirrored), {mirror['sign_flips']} change sign ({mirror['share_pct']:.1f} %); "
                f"median |yaw + yaw mirrored| {mirror['yaw_sum']['median']:.2f} degrees over all {res['faces']} faces, "
                f"|roll + roll mirrored| {mirror['roll_sum']['median']:.2f}, |pitch - pitch mirrored| "
                f"{mirror['pitch_change']['median']:.2f}."), "",
           "Head pose from predicted vs labelled points, absolute difference in degrees:", ""]
    md += markdown_table([{"axis": a, **vs[a]} for a in AXES], [
        ("axis", "axis", ""), ("median", "median", ".2f"), ("mean", "mean", ".2f"), ("p90", "p90", ".2f"),
        ("max", "max", ".2f")])
    spread = res["label_pose_percentiles"]
    md += ["", "Labels' head pose, percentiles 5 / 50 / 95 (degrees): " + "; ".join(
        f"{a} {spread[a][0]:.1f} / {spread[a][1]:.1f} / {spread[a][2]:.1f}" for a in AXES) + "."]
    op = res["openness_pred_vs_labels"]
    md += ["", (f"Openness, predicted vs labelled points, median absolute difference: eye aspect ratio "
                f"{op['eye']['median']:.3f} (labels' median {op['eye_labels_median']:.3f}), mouth aspect ratio "
                f"{op['mouth']['median']:.3f} (labels' median {op['mouth_labels_median']:.3f}).")]
    t = res["us_per_call"]
    md += ["", "Microseconds per call (median over the faces): " + ", ".join(f"`{k}` {v:.0f}" for k, v in t.items()) + "."]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks head_pose", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(SHARED / "data" / "300w" / "test"), help="labelled faces (evaluation only)")
    p.add_argument("--model", default="default", help="a bundled model name or an artifact file")
    p.add_argument("--angles", type=float, nargs="+", default=[5, 10, 15, 20], help="turns, each + and - (degrees)")
    p.add_argument("--yaw-threshold", type=float, default=10.0, help="faces for the mirror test: |yaw| above this")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=0, help="only the first N faces (a quick look)")
    p.add_argument("--out", default=str(result_path("head_pose")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    import cv2

    from pipnet_edge.data.annotations import load_300w_folder
    from pipnet_edge.runtime import Landmarker, face_geometry as fg, geometry
    from pipnet_edge.schemes import get_scheme

    date = utc_now()
    records = load_300w_folder(args.data)
    if args.limit:
        records = records[: args.limit]
    lm = Landmarker(args.model, num_threads=args.threads, color_order="BGR")
    flip = np.array(get_scheme("300w-68").flip_permutation)
    angles = sorted({s * a for a in args.angles for s in (-1, 1) if a})

    def predict(img: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return lm.detect(img, boxes=[geometry.box_from_points(labels)]).faces[0].points

    def pose(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return np.array(fg.head_pose(points, size).angles)

    base, base_labels, mirrored = [], [], []
    turned = {a: [] for a in angles}
    eye_d, mouth_d, eye_l, mouth_l = [], [], [], []
    times = {"head_pose": [], "aligned_crop": [], "openness": []}
    for i, r in enumerate(records):
        img = cv2.imread(str(r.image_path))
        h, w = img.shape[:2]
        size = (w, h)
        labels = np.asarray(r.points, np.float64)
        pts = predict(img, labels)
        t0 = time.perf_counter()
        base.append(pose(pts, size))
        t1 = time.perf_counter()
        fg.aligned_crop(img, pts)
        t2 = time.perf_counter()
        o = fg.openness(pts)
        t3 = time.perf_counter()
        times["head_pose"].append(t1 - t0)
        times["aligned_crop"].append(t2 - t1)
        times["openness"].append(t3 - t2)
        base_labels.append(pose(labels, size))
        ol = fg.openness(labels)
        eye_d.append(o.eyes - ol.eyes)
        mouth_d.append(o.mouth - ol.mouth)
        eye_l.append(ol.eyes)
        mouth_l.append(ol.mouth)
        centre = ((w - 1) / 2.0, (h - 1) / 2.0)
        for a in angles:
            m = cv2.getRotationMatrix2D(centre, a, 1.0)
            img_t = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            turned[a].append(pose(predict(img_t, geometry.apply(m, labels)), size))
        labels_m = np.stack([w - 1 - labels[flip, 0], labels[flip, 1]], axis=1)
        mirrored.append(pose(predict(np.ascontiguousarray(img[:, ::-1]), labels_m), size))
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(records)} faces", file=sys.stderr)
    base, base_labels, mirrored = np.array(base), np.array(base_labels), np.array(mirrored)
    n = len(records)

    rows = []
    for a in angles:
        t = np.array(turned[a])
        rows.append({"angle": a, "faces": n,
                     "roll_error": _stats(_wrap(t[:, 2] - base[:, 2] - a)),
                     "roll_error_vs_labels": _stats(_wrap(t[:, 2] - base_labels[:, 2] - a)),
                     "yaw_change": _stats(t[:, 0] - base[:, 0]),
                     "pitch_change": _stats(t[:, 1] - base[:, 1])})
        print(f"turn {a:+g}: roll error median {rows[-1]['roll_error']['median']:.2f}, vs labels "
              f"{rows[-1]['roll_error_vs_labels']['median']:.2f}", file=sys.stderr)
    big = np.abs(base[:, 0]) > args.yaw_threshold
    flips = big & (np.sign(mirrored[:, 0]) == -np.sign(base[:, 0]))
    names = [r.name for r in records]
    mirror = {"threshold_deg": args.yaw_threshold, "faces_over": int(big.sum()), "sign_flips": int(flips.sum()),
              "share_pct": round(100.0 * flips.sum() / max(1, big.sum()), 2),
              "not_flipped": [{"face": names[k], "yaw": round(float(base[k, 0]), 2),
                               "yaw_mirrored": round(float(mirrored[k, 0]), 2)} for k in np.flatnonzero(big & ~flips)],
              "yaw_sum": _stats(base[:, 0] + mirrored[:, 0]), "roll_sum": _stats(_wrap(base[:, 2] + mirrored[:, 2])),
              "pitch_change": _stats(base[:, 1] - mirrored[:, 1])}
    print(f"mirror: {mirror['sign_flips']} / {mirror['faces_over']} ({mirror['share_pct']} %)", file=sys.stderr)
    diff = _wrap(base - base_labels)
    result = {
        "what": "head pose (runtime.face_geometry.head_pose) of the model's points on real faces",
        "model": args.model,
        "data": portable(args.data),
        "faces": n,
        "camera": "focal = photo width, principal point at the photo's centre",
        "pose_points": [int(i) for i in fg.POSE_POINTS],
        "settings": {"angles": angles, "yaw_threshold": args.yaw_threshold, "threads": args.threads, "limit": args.limit,
                     "turn": "cv2.getRotationMatrix2D about the photo's centre, same size, BORDER_REPLICATE",
                     "boxes": "the labels' landmark box on the photo as shown (turned / mirrored)"},
        "roll_turned": {"rows": rows},
        "mirror": mirror,
        "pred_vs_labels": {a: _stats(diff[:, k]) for k, a in enumerate(AXES)},
        "label_pose_percentiles": {a: [round(float(v), 2) for v in np.percentile(base_labels[:, k], [5, 50, 95])]
                                   for k, a in enumerate(AXES)},
        "openness_pred_vs_labels": {"eye": _stats(eye_d), "mouth": _stats(mouth_d),
                                    "eye_labels_median": round(float(np.median(eye_l)), 4),
                                    "mouth_labels_median": round(float(np.median(mouth_l)), 4)},
        "us_per_call": {k: round(float(np.median(v)) * 1e6, 1) for k, v in times.items()},
    }
    print(f"pred vs labels median: " + ", ".join(f"{a} {result['pred_vs_labels'][a]['median']}" for a in AXES),
          file=sys.stderr)
    write_result(make_envelope("head_pose", command_line("head_pose", argv), model_hashes([lm.path]), result, date=date),
                 Path(args.out))
    lm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Faces turned away: accuracy by pose on in-the-wild faces, and whether the per-point scores flag the bad points.

    python -m benchmarks large_pose            # -> benchmarks/results/large_pose.json and .md
    python -m benchmarks large_pose --models lite runs/x/final.safetensors --out /tmp/large_pose.json

1. **By pose**: the 1,000 held-out MTFL faces (``../shared/data/mtfl/train_5pt.txt``, the split no training run uses),
   5-point NME (eye-centre normalised) and FR@0.1 of each model in the bins of the pose proxy
   (:func:`pipnet_edge.five_point.pose_proxy` of the *labelled* five points: the nose tip's sideways offset from the
   eyes' midpoint in inter-ocular distances; < 0.10 frontal ... >= 0.35 clearly turned), as
   ``python -m pipnet_edge.evaluate --model M --five-point LIST`` prints them.
2. **Do the point scores flag the bad points?** Each point's score (its heatmap peak, ``FaceLandmarks.point_scores``)
   against its error: on the 554 faces of the 300W common test set (68 labelled points, error in % of the outer-eye
   distance) and on the held-out MTFL faces (the five derived points; a derived point's score is the mean of the
   scores of the points it is made from). Within each face, the points are ranked by score; the mean error of each
   face's lowest-scored 10 % of points against the rest, and the mean error by score quintile over all points.

Evaluation only: nothing here is tuned on these faces.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmarks import SHARED
from benchmarks.envelope import command_line, make_envelope, markdown_table, model_hashes, write_result

MTFL_LIST = SHARED / "data" / "mtfl" / "train_5pt.txt"
TEST_300W = SHARED / "data" / "300w" / "test"


def _five_point_scores(scores68: np.ndarray) -> np.ndarray:
    """``(F, 68)`` point scores -> ``(F, 5)``: the mean score of the points each derived point is made from."""
    from pipnet_edge.five_point import EYE_68, MOUTH_CORNERS_68, NOSE_TIP_68

    return np.stack([scores68[:, list(EYE_68[0])].mean(1), scores68[:, list(EYE_68[1])].mean(1),
                     scores68[:, NOSE_TIP_68], scores68[:, MOUTH_CORNERS_68[0]], scores68[:, MOUTH_CORNERS_68[1]]], 1)


def score_separation(errors: np.ndarray, scores: np.ndarray, low_share: float = 0.10) -> dict:
    """How the per-point scores separate good from bad points. ``errors``, ``scores``: ``(F, N)``.

    ``lowest``: mean error of each face's lowest-scored ``low_share`` of points (at least one), ``rest``: of the other
    points; ``quintiles``: mean error of all points by score quintile (lowest scores first); ``rank_correlation``:
    Spearman's rho of score and error over all points (negative: lower score, larger error).
    """
    f, n = errors.shape
    k = max(1, int(round(low_share * n)))
    order = np.argsort(scores, axis=1, kind="stable")
    low = np.zeros_like(errors, dtype=bool)
    np.put_along_axis(low, order[:, :k], True, axis=1)
    flat_e, flat_s = errors.ravel(), scores.ravel()
    edges = np.quantile(flat_s, [0.2, 0.4, 0.6, 0.8])
    which = np.searchsorted(edges, flat_s, side="right")
    rank_e = np.argsort(np.argsort(flat_e)).astype(np.float64)
    rank_s = np.argsort(np.argsort(flat_s)).astype(np.float64)
    rho = float(np.corrcoef(rank_e, rank_s)[0, 1])
    return {"points_per_face_lowest": k, "lowest": round(float(errors[low].mean()), 4),
            "rest": round(float(errors[~low].mean()), 4),
            "quintiles": [round(float(flat_e[which == q].mean()), 4) for q in range(5)],
            "rank_correlation": round(rho, 4)}


def _run_model(name: str) -> dict:
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.data.mtfl import HELD_OUT_SPLIT, load_held_out_faces
    from pipnet_edge.evaluation import open_predictor
    from pipnet_edge.evaluation.runner import predict_batches, to_image
    from pipnet_edge.five_point import five_from_68, five_point_by_pose
    from pipnet_edge.metrics import per_point_errors

    predictor = open_predictor(name)
    size = predictor.spec.input_size
    out: dict = {"model": name, "predictor": predictor.name}

    def run(records):
        pts, scores = [], []
        for _, dec, mats in predict_batches(predictor, records, 16, progress=True, desc=f"{name}"):
            pts.append(to_image(dec.points, mats, size))
            scores.append(dec.scores)
        return np.concatenate(pts), np.concatenate(scores)

    if MTFL_LIST.is_file():
        faces = load_held_out_faces(MTFL_LIST, HELD_OUT_SPLIT)
        pts, scores = run(faces)
        truth = np.stack([r.points for r in faces])
        out["by_pose"] = [{"pose_proxy": label, "faces": s.faces if s else 0,
                           "nme_percent": round(s.nme, 3) if s else None,
                           "failure_rate_percent": round(s.failure_rate, 2) if s else None}
                          for label, s in five_point_by_pose(pts, truth)]
        from pipnet_edge.five_point import FIVE_POINT_SCHEME

        err5 = per_point_errors(five_from_68(pts), truth.astype(np.float64), FIVE_POINT_SCHEME) * 100
        out["scores_mtfl_5pt"] = score_separation(err5, _five_point_scores(scores), low_share=0.2)
    if TEST_300W.is_dir():
        faces = load_faces(TEST_300W)
        pts, scores = run(faces)
        truth = np.stack([r.points for r in faces]).astype(np.float64)
        err = per_point_errors(pts.astype(np.float64), truth, predictor.spec.scheme) * 100
        out["scores_300w_68pt"] = score_separation(err, scores)
    return out


def render_markdown(envelope: dict) -> str:
    """The by-pose table and the point-score table of a large_pose result."""
    res = envelope["results"]
    parts: list[str] = []
    rows = [{"model": m["model"], **b} for m in res["models"] for b in m.get("by_pose", [])]
    if rows:
        parts += ["### NME by pose, 1,000 held-out MTFL faces (5-point, eye-centre normalised)", ""]
        parts += markdown_table(rows, [("model", "model", ""), ("pose proxy", "pose_proxy", ""), ("faces", "faces", ""),
                                       ("NME %", "nme_percent", ".3f"), ("FR@0.1 %", "failure_rate_percent", ".2f")])
        parts.append("")
    rows = []
    for m in res["models"]:
        for key, what in (("scores_300w_68pt", "300W test, 68 points; lowest 10 % of each face's points"),
                          ("scores_mtfl_5pt", "MTFL held-out, 5 derived points; lowest 1 of each face's 5")):
            if m.get(key):
                rows.append({"model": m["model"], "what": what, **m[key],
                             "q": " / ".join(f"{q:.2f}" for q in m[key]["quintiles"])})
    if rows:
        parts += ["### Point scores against point errors (error in % of the normalising distance)", ""]
        parts += markdown_table(rows, [("model", "model", ""), ("points", "what", ""),
                                       ("error of the lowest-scored", "lowest", ".3f"), ("of the rest", "rest", ".3f"),
                                       ("by score quintile, lowest first", "q", ""),
                                       ("rank correlation", "rank_correlation", ".3f")])
        parts.append("")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks large_pose", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["default", "lite"], help="bundled names or model files")
    p.add_argument("--out", help="result file (default benchmarks/results/large_pose.json)")
    args = p.parse_args(argv)
    if not MTFL_LIST.is_file() and not TEST_300W.is_dir():
        print(f"no data: {MTFL_LIST} and {TEST_300W} are both missing (set PIPNET_EDGE_SHARED)", file=sys.stderr)
        return 2
    from pipnet_edge.assets.registry import resolve_model

    results = {"models": [_run_model(m) for m in args.models]}
    models = model_hashes(resolve_model(m).path for m in args.models)
    env = make_envelope("large_pose", command_line("large_pose", argv if argv is not None else sys.argv[1:]), models,
                        results)
    write_result(env, args.out)
    print(render_markdown(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())

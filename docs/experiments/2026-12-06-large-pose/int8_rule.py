"""The rule of steps 26-29 (README.md here): a candidate INT8 run against the control, on validation faces only.

Each run's full-INT8 TFLite (``runs/pose/RUN/int8/STEM_tflite-int8.tflite``) is measured on the 201 300W validation
faces the trainer holds out (``--val-fraction 0.1 --seed 0``) and read from its val665 figures
(``runs/pose/val665-RUN-int8.json``). The candidate is taken if its 300W validation NME is at most the control's +
0.01, its val665 NME over all faces is not above the control's and over the faces with proxy >= 0.20 below it.
Prints the table and the choice, writes ``runs/pose/ruleN.txt`` and ``ruleN.json``. Run from the repository root:

    python docs/experiments/2026-12-06-large-pose/int8_rule.py 26 pipnet_mbv2_300w68 qm=default-a1-qm qx=default-a1-qx
"""
import json
import sys
from pathlib import Path

from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation import open_predictor, predict_faces
from pipnet_edge.metrics import summarize
from pipnet_edge.training.trainer import split_validation

R = Path("runs/pose")


def turned(res: dict) -> tuple[float, int]:
    bins = [b for b in res["by_pose"] if b["pose_proxy"] in ("0.20-0.35", ">= 0.35")]
    n = sum(b["faces"] for b in bins)
    return sum(b["faces"] * b["nme_percent"] for b in bins) / n, n


def main(rule: str, stem: str, control: str, candidate: str, data: str = "../shared/data/300w/train") -> str:
    _, val = split_validation(load_faces(data), 0.1, 0)  # the trainer's 201 validation faces
    rows, lines = {}, []
    for arm in (control, candidate):
        name, run = arm.split("=")
        res = json.loads((R / f"val665-{run}-int8.json").read_text())
        t, n = turned(res)
        b35 = next(b["nme_percent"] for b in res["by_pose"] if b["pose_proxy"] == ">= 0.35")
        pred = open_predictor(R / run / "int8" / f"{stem}_tflite-int8.tflite")
        p = predict_faces(pred, val)
        v = summarize(p.points, p.truth, pred.spec.scheme).nme
        rows[name] = {"turned": t, "all": res["nme_percent"], "val300w": v, "b35": b35}
        lines.append(f"{name} INT8 TFLite: val665 proxy >= 0.20 ({n} faces) {t:.3f} %, >= 0.35 {b35:.3f} %, "
                     f"all {res['nme_percent']:.4f} %, 300W validation ({len(val)}) {v:.4f} %")
    (c_name, c), (k_name, k) = rows.items()
    take = k["val300w"] <= c["val300w"] + 0.01 and k["all"] <= c["all"] and k["turned"] < c["turned"]
    choice = k_name if take else c_name
    lines.append(f"rule {rule} -> {choice}")
    print("\n".join(lines))
    (R / f"rule{rule}.txt").write_text("\n".join(lines) + "\n")
    (R / f"rule{rule}.json").write_text(json.dumps({"rows": rows, "choice": choice}, indent=2))
    return choice


if __name__ == "__main__":
    main(*sys.argv[1:])

#!/usr/bin/env bash
# Step 15 of the 2026-12-06 large-pose experiment (README.md here): the yaw-like warp (new:
# pipnet_edge/data/yaw_warp.py, `--yaw-prob`; the face's points turned about its vertical axis in 3D by the mean
# face's depths, the image bent to follow by a thin-plate spline, labels where the warped image shows them) in the
# polishes of steps 9 and 12. On the split (step 2's a1, the same labels, validation faces and teacher as step 9):
#   y-polish: step 2's polish (10 epochs at lr 1e-5 on the labelled faces, flips off) with --yaw-prob 0.5
#   y-m2:     step 9's m2 (the same with 8 anchored pseudo-labelled faces beside each 16 labelled) with --yaw-prob 0.5
#   y-soup25, y-soup50, y-soup75: weight averages (1 - t) y-polish + t y-m2 (step 12's arithmetic, point bias on the
#             split's 1,811 training faces)
# --max-yaw 35 (the option's default: +-35 degrees, uniform; 30 degrees on the mean face is pose proxy 0.36).
# Rule 15, declared before these runs and after steps 9-12's figures were known: the 300W bound becomes the issue's
# own (+0.03: step 1's control 3.2537 + 0.03 = 3.2837 on the 201 validation faces, where steps 4, 9 and 12 used
# +0.01), and every float model of steps 9, 12 and 15 competes (a1-polish, m1, m2, soup25/50/75 and this step's five):
# the lowest val665 NME over the faces with pose proxy >= 0.20 (115) among those within the bound.
# Writes runs/pose/lite-y-*/, runs/pose/val665-lite-y-*.json, runs/pose/rule15.txt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
TEACHER=$R/base/pipnet_mbv2_300w68_fp16.safetensors
S=(--data "$DATA/train" --val-fraction 0.1 --val-every 5 --seed 0 --flip-prob 0 --bf16 --threads ${THREADS:-2} --no-progress
   --yaw-prob 0.5 --max-yaw 35)
val665() { [ -f $R/val665-lite-$1.json ] || python -m pipnet_edge.evaluate --model $R/lite-$1/final.safetensors \
    --five-point $R/val665_5pt.txt --five-point-all --json $R/val665-lite-$1.json; }
[ -f $R/lite-y-polish/final.safetensors ] || python -m pipnet_edge.train "${S[@]}" \
    --init $R/lite-a1/final.safetensors --epochs 10 --lr 1e-5 --lr-steps --out $R/lite-y-polish
val665 y-polish
if [ ! -f $R/lite-y-m2/final.safetensors ]; then
    mkdir -p $R/lite-y-m2/round1 && cp -p $R/lite-m1/round1/pseudo_labels.npz $R/lite-y-m2/round1/
    python -m pipnet_edge.train "${S[@]}" --init $R/lite-a1/final.safetensors --unlabelled "$U" --curriculum none \
        --teacher $TEACHER --anchor 1 --unlabelled-ratio 0.5 --epochs 10 --lr 1e-5 --lr-steps --out $R/lite-y-m2
fi
val665 y-m2
python - $R "$DATA/train" <<'PY'
import sys
from pathlib import Path
import torch
from pipnet_edge.calibration.point_bias import remeasure_point_bias
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.models.checkpoint import load_model, save_model
from pipnet_edge.training.trainer import split_validation
torch.set_num_threads(2)
r, data = Path(sys.argv[1]), sys.argv[2]
train, _ = split_validation(load_faces(data), 0.1, 0)
sa = load_model(r / "lite-y-polish/final.safetensors").state_dict()
sb = load_model(r / "lite-y-m2/final.safetensors").state_dict()
for t in (0.25, 0.5, 0.75):
    out = r / f"lite-y-soup{round(t * 100)}" / "final.safetensors"
    if out.exists():
        continue
    soup = load_model(r / "lite-y-polish/final.safetensors")
    soup.load_state_dict({k: (1 - t) * sa[k] + t * sb[k] if sa[k].is_floating_point() else sa[k] for k in sa})
    remeasure_point_bias(soup.eval(), train, data, progress=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(soup, out)
    print(f"soup t = {t}: {out}")
PY
for t in 25 50 75; do val665 y-soup$t; done
python - $R "$DATA/train" <<'PY' | tee $R/rule15.txt
import json, sys
from pathlib import Path
import torch
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation.predictors import torch_predictor
from pipnet_edge.evaluation.runner import predict_faces
from pipnet_edge.metrics import summarize
from pipnet_edge.models.checkpoint import load_model
from pipnet_edge.training.trainer import split_validation
torch.set_num_threads(2)
r, data = Path(sys.argv[1]), sys.argv[2]
_, val = split_validation(load_faces(data), 0.1, 0)
def val_nme(name):  # the trainer's history metric: the 201 validation faces, without a point bias
    model = load_model(r / f"lite-{name}/final.safetensors")
    model.spec = model.spec.replace(point_bias=None)
    pred = predict_faces(torch_predictor(model.eval(), "validation"), val)
    return summarize(pred.points, pred.truth, model.spec.scheme).nme
rows = {}
for name in ("a1-polish", "m1", "m2", "soup25", "soup50", "soup75",
             "y-polish", "y-m2", "y-soup25", "y-soup50", "y-soup75"):
    res = json.loads((r / f"val665-lite-{name}.json").read_text())
    turned = [b for b in res["by_pose"] if b["pose_proxy"] in ("0.20-0.35", ">= 0.35")]
    n = sum(b["faces"] for b in turned)
    nme = sum(b["faces"] * b["nme_percent"] for b in turned) / n
    rows[name] = (nme, res["nme_percent"], val_nme(name))
    print(f"{name}: val665 proxy >= 0.20 ({n} faces) {nme:.3f} %, all {res['nme_percent']:.3f} %, "
          f"300W validation {rows[name][2]:.4f} %")
ok = [a for a in rows if rows[a][2] <= 3.2837]
print("rule 15 ->", min(ok, key=lambda a: rows[a][0]) if ok else "none passes the 300W bound")
PY

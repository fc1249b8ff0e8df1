#!/usr/bin/env bash
# Step 22 of the 2026-12-06 large-pose experiment (README.md here): the default model's INT8 point bias measured for
# in-the-wild faces too. Step 20's diagnosis went on (no choice; faces outside the held-out 1,000): the INT8 file's
# loss is a shift, not scattered misses (per face on the 6,650 non-held-out MTFL faces: median +0.08, 10 faces worse
# by > 2 % iod), and its raw outputs (point-bias correction added back) lie left of the float model's by 0.47 crop px
# (at 256) on 300 300W training faces and by 0.86 px on val665 (lite: 0.35 / 0.52). The bundled QAT file's point
# bias is measured on 300W training faces, so it removes the 300W shift and leaves ~0.4 px on MTFL faces, the
# per-point x errors of val665 moving by about -0.5 % iod against the float model's.
# New: `python -m pipnet_edge.calibration.point_bias --model QAT --float FLOAT --five-point LIST` (bias = the float
# model's on the 300W training faces + the QAT model's mean shift from it on those and on unlabelled faces).
# Candidates, from step 20's r0 (runs/pose/default-ship-soup75-qm-ranges: same weights and ranges), each exported to
# full-INT8 TFLite; the unlabelled faces come from the training pool without val665 (runs/pose/pool_5pt.txt):
#   b0: r0 as bundled (the QAT model's own bias on the 2,012 300W training faces)
#   b1: the shift on the 2,012 300W faces and 2,012 pool faces (the two kinds of photo weighed alike)
#   b2: the shift on the 2,012 300W faces and all 5,985 pool faces
# Rule 22, declared before these runs (rule 20's, on all 665 val665 faces, none of which any candidate saw here): a
# candidate qualifies if its NME on the 2,012 300W training faces (INT8) is within b0's + 0.015 and its NME on val665
# is not above b0's; among those the lowest val665 NME over faces with proxy >= 0.20 wins; b0 if none qualifies or
# none beats it. The lite model is left as it is (its INT8 file loses nothing on these faces).
# Writes runs/pose/pool_5pt.txt, runs/pose/default-bias-b{1,2}/, runs/pose/bias22/, runs/pose/rule22.txt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
Q=$R/default-ship-soup75-qm-ranges/qat.safetensors
F=$R/default-ship-soup75/final.safetensors
[ -f $R/pool_5pt.txt ] || python scripts/five_point_subset.py --list "$U" --keys $R/lite-b0/validation_unlabelled.txt \
    --exclude --out $R/pool_5pt.txt
mkdir -p $R/bias22/b0
[ -f $R/bias22/b0/pipnet_mbv2_300w68_tflite-int8.tflite ] || cp -p $R/ship16/default/pipnet_mbv2_300w68_tflite-int8.tflite $R/bias22/b0/
cand() {  # name, faces of the pool
    [ -f $R/default-bias-$1/qat.safetensors ] || python -m pipnet_edge.calibration.point_bias --model $Q --float $F \
        --data "$DATA/train" --five-point $R/pool_5pt.txt --five-point-count $2 --threads ${THREADS:-2} \
        --out $R/default-bias-$1/qat.safetensors
    [ -f $R/bias22/$1/pipnet_mbv2_300w68_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
        --weights $F --qat-weights $R/default-bias-$1/qat.safetensors --name pipnet_mbv2_300w68 --out $R/bias22/$1
}
cand b1 2012
cand b2 5985
python - $R "$DATA/train" <<'PY' | tee $R/rule22.txt
import json, sys
from pathlib import Path
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.data.mtfl import read_five_point_list
from pipnet_edge.evaluation import open_predictor, predict_faces
from pipnet_edge.five_point import five_point_by_pose
from pipnet_edge.metrics import summarize
r, data = Path(sys.argv[1]), sys.argv[2]
labelled, val = load_faces(data), read_five_point_list(r / "val665_5pt.txt")
rows = {}
for n in ("b0", "b1", "b2"):
    p = open_predictor(r / f"bias22/{n}/pipnet_mbv2_300w68_tflite-int8.tflite")
    pv = predict_faces(p, val)
    bins = dict(five_point_by_pose(pv.points, pv.truth))
    turned = [b for b in ("0.20-0.35", ">= 0.35") if bins[b] is not None]
    k = sum(len(bins[b].per_face) for b in turned)
    t_nme = sum(len(bins[b].per_face) * bins[b].nme for b in turned) / k
    pl = predict_faces(p, labelled)
    w = summarize(pl.points, pl.truth, p.spec.scheme).nme
    rows[n] = dict(val_all=bins["all"].nme, val_turned=t_nme, turned_faces=k, by_pose={b: (len(s.per_face), s.nme)
                   for b, s in bins.items() if s is not None}, w300_train=w)
    print(f"{n}: val665 all {bins['all'].nme:.3f} %, proxy >= 0.20 ({k} faces) {t_nme:.3f} %, "
          f">= 0.35 {bins['>= 0.35'].nme:.3f} %, 300W training faces {w:.4f} %")
(r / "bias22/rule22.json").write_text(json.dumps(rows, indent=1))
ok = [n for n in ("b1", "b2") if rows[n]["w300_train"] <= rows["b0"]["w300_train"] + 0.015
      and rows[n]["val_all"] <= rows["b0"]["val_all"]]
best = min(ok, key=lambda n: rows[n]["val_turned"]) if ok else "b0"
if rows[best]["val_turned"] >= rows["b0"]["val_turned"]:
    best = "b0"
print("rule 22 ->", best)
PY

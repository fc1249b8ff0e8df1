#!/usr/bin/env bash
# Step 20 of the 2026-12-06 large-pose experiment (README.md here): which faces the default model's INT8 activation
# ranges are estimated on. The bundled default INT8 file (step 16) loses to its float model on MTFL faces of every
# pose: on the 6,650 non-held-out MTFL faces (training pool and val665, all seen unlabelled in training; diagnosis, no
# choice) 5-point NME 4.043 vs 3.951 % (+2.3 %; proxy >= 0.35: 6.278 vs 6.129), where the lite model's does not
# (4.073 vs 4.108). Its ranges are the mean of per-face extremes over 256 300W training faces (step 16), studio-sharp
# crops; MTFL faces are small, upscaled and blurred. A diagnosis of the shipped QAT model (150 frontal, 150 turned
# non-held-out MTFL faces) found no pose-specific clipping of the heads at the decoded cells (0.6 % of neighbour
# x-offsets on turned faces, the lite model 0.8 %), so the remedy compared here is the faces, not the range rule.
# Candidates, all from the same QAT model (runs/pose/default-ship-soup75-qm/qat.safetensors), point bias measured
# again on the 2,012 300W training faces, each exported to full-INT8 TFLite:
#   r0: 256 300W training faces (step 16's, the bundled file)
#   r1: the same 256 and 256 non-held-out MTFL faces (--five-point, new option of
#       pipnet_edge/calibration/activation_ranges.py)
#   r2: 512 300W training faces (control: more faces, none from MTFL)
#   r3: the same 256 and 768 non-held-out MTFL faces
# Rule 20, declared before these runs: judged on the val665 faces that none of r1-r3 drew for its ranges (the
# candidates' INT8 TFLite through the evaluation crop); a candidate qualifies if its NME on the 2,012 300W training
# faces (INT8) is within r0's + 0.015 and its NME on those val665 faces is not above r0's; among those, the lowest
# val665 NME over faces with proxy >= 0.20 wins; r0 if none qualifies or none beats it. The lite model keeps its
# ranges (its INT8 file loses nothing on these faces).
# Writes runs/pose/default-ranges-r{1,2,3}/, runs/pose/ranges20/, runs/pose/rule20.txt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
Q=$R/default-ship-soup75-qm/qat.safetensors
F=$R/default-ship-soup75/final.safetensors
mkdir -p $R/ranges20/r0
[ -f $R/ranges20/r0/pipnet_mbv2_300w68_tflite-int8.tflite ] || cp -p $R/ship16/default/pipnet_mbv2_300w68_tflite-int8.tflite $R/ranges20/r0/
cand() {  # name, activation_ranges options
    local n=$1; shift
    [ -f $R/default-ranges-$n/qat.safetensors ] || python -m pipnet_edge.calibration.activation_ranges --qat $Q \
        --data "$DATA/train" "$@" --out $R/default-ranges-$n/qat.safetensors
    [ -f $R/ranges20/$n/pipnet_mbv2_300w68_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
        --weights $F --qat-weights $R/default-ranges-$n/qat.safetensors --name pipnet_mbv2_300w68 --out $R/ranges20/$n
}
cand r1 --five-point "$U" --five-point-count 256
cand r2 --count 512
cand r3 --five-point "$U" --five-point-count 768
python - $R "$DATA/train" "$U" <<'PY' | tee $R/rule20.txt
import json, sys
from pathlib import Path
import numpy as np
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.data.mtfl import face_key, load_unlabelled_faces, read_five_point_list
from pipnet_edge.evaluation import open_predictor, predict_faces
from pipnet_edge.five_point import five_point_by_pose
from pipnet_edge.metrics import summarize
r, data, u = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
labelled, pool = load_faces(data), load_unlabelled_faces(u)
drawn = set()
for count, extra in ((256, 256), (256, 768)):  # the draws of activation_ranges.reestimate_checkpoint, seed 0
    rng = np.random.default_rng(0)
    rng.choice(len(labelled), count, replace=False)
    drawn |= {face_key(pool[i]) for i in rng.choice(len(pool), extra, replace=False)}
val = [f for f in read_five_point_list(r / "val665_5pt.txt") if face_key(f) not in drawn]
print(f"val665 faces not drawn for any candidate's ranges: {len(val)}")
rows = {}
for n in ("r0", "r1", "r2", "r3"):
    p = open_predictor(r / f"ranges20/{n}/pipnet_mbv2_300w68_tflite-int8.tflite")
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
(r / "ranges20/rule20.json").write_text(json.dumps(rows, indent=1))
ok = [n for n in ("r1", "r2", "r3") if rows[n]["w300_train"] <= rows["r0"]["w300_train"] + 0.015
      and rows[n]["val_all"] <= rows["r0"]["val_all"]]
best = min(ok, key=lambda n: rows[n]["val_turned"]) if ok else "r0"
if rows[best]["val_turned"] >= rows["r0"]["val_turned"]:
    best = "r0"
print("rule 20 ->", best)
PY

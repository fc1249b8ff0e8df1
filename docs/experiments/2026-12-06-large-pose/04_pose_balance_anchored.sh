#!/usr/bin/env bash
# Step 4 of the 2026-12-06 large-pose experiment (README.md here): step 3's lite INT8 model missed the turned-bin bar
# on the held-out faces by a little, so: pose-balanced sampling again, now over anchored pseudo-labels (step 1 dropped
# it over the teacher's own labels, whose turned faces are the teacher's worst). Arms: step 2's a1 + polish with
# --pose-balance 0.5 (p5) and 1 (p1). Rule, declared before the runs: among a1-polish, p5-polish and p1-polish the
# lowest mean NME of the val665 faces with pose proxy >= 0.20 (115 faces: the two turned bins; 16 faces alone are too
# few) whose 300W validation NME is <= 3.2637 (step 1's control + 0.01); the winner's recipe is run on all the faces.
# Writes runs/pose/lite-{p5,p1}{,-polish}/, runs/pose/val665-lite-*.json, runs/pose/rule4.txt. Needs steps 1-2.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
INIT=${INIT:-pipnet_edge/assets/pipnet_lite_300w68_fp16.safetensors}  # after the re-bundle: runs/pose/base/ (03_anchor_ship.sh)
TEACHER=${TEACHER:-default-fp16}  # the bundled default float model of commit e25d31f (after the re-bundle: runs/pose/base/)
S=(--data "$DATA/train" --val-fraction 0.1 --val-every 5 --seed 0 --flip-prob 0 --bf16 --threads ${THREADS:-2} --no-progress)
for b in 0.5 1; do
    a=p${b/0./}; out=$R/lite-$a
    if [ ! -f $out/final.safetensors ]; then
        mkdir -p $out/round1 && cp $R/lite-b0/round1/pseudo_labels.npz $out/round1/
        python -m pipnet_edge.train "${S[@]}" --init $INIT --unlabelled "$U" --curriculum none --teacher $TEACHER \
            --epochs 10 --lr 5e-5 --lr-steps 7 --anchor 1 --pose-balance $b --out $out
    fi
    [ -f $out-polish/final.safetensors ] || python -m pipnet_edge.train "${S[@]}" --init $out/final.safetensors \
        --epochs 10 --lr 1e-5 --lr-steps --out $out-polish
    [ -f $R/val665-lite-$a-polish.json ] || python -m pipnet_edge.evaluate --model $out-polish/final.safetensors \
        --five-point $R/val665_5pt.txt --five-point-all --json $R/val665-lite-$a-polish.json
done
python - $R <<'PY' | tee $R/rule4.txt
import json, sys
from pathlib import Path
import numpy as np
from pipnet_edge.data.mtfl import read_five_point_list
from pipnet_edge.five_point import pose_proxy
r = Path(sys.argv[1])
faces = read_five_point_list(r / "val665_5pt.txt")
turned = pose_proxy(np.stack([f.points for f in faces])) >= 0.20
rows = {}
for arm in ("a1-polish", "p5-polish", "p1-polish"):
    per_face = np.array(json.loads((r / f"val665-lite-{arm}.json").read_text())["per_face_percent"])
    val = [json.loads(l) for l in (r / f"lite-{arm}" / "history.jsonl").read_text().splitlines() if l.strip()][-1]["val_nme"]
    rows[arm] = (float(per_face[turned].mean()), float(per_face.mean()), val)
    print(f"{arm}: val665 proxy >= 0.20 ({turned.sum()} faces) {rows[arm][0]:.3f} %, all {rows[arm][1]:.3f} %, "
          f"300W validation {val:.4f} %")
ok = [a for a in rows if rows[a][2] <= 3.2637]
print("rule 4 ->", min(ok, key=lambda a: rows[a][0]) if ok else "none passes the 300W bound")
PY

#!/usr/bin/env bash
# Step 1 of the 2026-12-01 default-recipe experiment (README.md here): the split-trained float models and rule 1.
# base: step 1 of scripts/build_default_model.sh (34 epochs, flips on) on 1,811 of the 2,012 training faces
# (--val-fraction 0.1 --seed 0, the other 201 held out); nf: base + the flip-free polish (10 epochs at lr 1e-5,
# --flip-prob 0); the probe: each model's point bias measured on the 1,811 faces, subtracted on the 201 and on the 665
# MTFL validation faces; rule 1 (results/rules1-3-declared.txt): take nf iff it beats base on the 201 faces and its
# MTFL figure is no more than 2 % worse. Writes runs/s10/{base,nf}, runs/s10/probe-float.json, runs/s10/rule1-applied.txt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
VAL665=${VAL665:-runs/val665_5pt.txt}  # the 665 MTFL validation faces (README.md here, "Before you run")
R=runs/s10
S="--val-fraction 0.1 --seed 0 --threads 2 --no-progress"
P="--data $DATA/train --val-fraction 0.1 --seed 0 --five-point $VAL665"
test -f "$VAL665" || { echo "$VAL665 is missing: see README.md, 'Before you run'" >&2; exit 1; }
mkdir -p $R

[ -f $R/base/final.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" \
    --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth --out $R/base --epochs 34 --lr-steps 26 31 --bf16 \
    --val-every 34 $S
[ -f $R/nf/final.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --init $R/base/final.safetensors \
    --epochs 10 --lr 1e-5 --lr-steps --bf16 --flip-prob 0 --val-every 10 --out $R/nf $S
[ -f $R/probe-float.json ] || python -m benchmarks.probes.point_bias_probe $R/base/final.safetensors \
    $R/nf/final.safetensors $P --json $R/probe-float.json

F=$(python - $R/probe-float.json <<'PY'
import json, sys
rows = {r["model"].split("/")[-2]: r for r in json.load(open(sys.argv[1]))["rows"]}
b, n = rows["base"], rows["nf"]
ok = n["val_nme_bias"] < b["val_nme_bias"] and n["five_point_nme_bias"] <= 1.02 * b["five_point_nme_bias"]
print("nf" if ok else "base")
PY
)
echo "rule 1 -> $F" | tee $R/rule1-applied.txt

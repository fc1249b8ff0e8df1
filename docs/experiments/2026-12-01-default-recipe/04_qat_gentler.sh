#!/usr/bin/env bash
# Step 4 of the 2026-12-01 default-recipe experiment (README.md here): gentler QAT recipes on the split's float model
# (runs/s10/nf) and rule 4 (results/rule4-declared.txt). Arms, 3 epochs each: A lr 1e-6 --lowres-prob 0.5; B lr 1e-5
# --lowres-prob 0 distilled from nf; C lr 1e-6 --lowres-prob 0 distilled; D 0 epochs (the QAT graph calibrated on 128
# faces, a diagnostic, not a candidate). Rule 4: among step 2's --lowres-prob 0.5 arm and A, B, C the lowest 201-face
# NME whose MTFL figure is <= 5.260 %; the winner (if not step 2's arm) is run on all the training faces from
# runs/s9/default-nf and shipped iff its val665 figure is <= 4.818 %. Needs steps 1-3. Writes runs/s10/r4-*,
# probe-r4.json, rule4-applied.txt, full-WINNER/, full-val665.txt, rule4-full.txt. Then 06_ship.sh with
# QAT=runs/s10/full-r4-C/qat.safetensors GATE=runs/s10/rule4-full.txt was the second attempt.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
VAL665=${VAL665:-runs/val665_5pt.txt}
R=runs/s10
S="--val-fraction 0.1 --seed 0 --threads 2 --no-progress"
P="--data $DATA/train --val-fraction 0.1 --seed 0 --five-point $VAL665"
F=$R/nf/final.safetensors

qat() {
  local o=$R/r4-$1; shift
  [ -f $o/qat.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --init $F --qat \
      --lr-steps --val-every 3 --out $o $S "$@"
}
qat D --epochs 0 --lr 1e-5 --lowres-prob 0.5
qat A --epochs 3 --lr 1e-6 --lowres-prob 0.5
qat B --epochs 3 --lr 1e-5 --lowres-prob 0 --teacher $F
qat C --epochs 3 --lr 1e-6 --lowres-prob 0 --teacher $F
[ -f $R/probe-r4.json ] || python -m benchmarks.probes.point_bias_probe $R/r4-{D,A,B,C}/qat.safetensors \
    $P --json $R/probe-r4.json

W=$(python - $R/probe-r4.json $R/probe-qat.json <<'PY'
import json, sys
rows = {r["model"].split("/")[-2]: r for f in sys.argv[1:] for r in json.load(open(f))["rows"]}
cands = ["qat-nf-lr0.5", "r4-A", "r4-B", "r4-C"]
ok = [c for c in cands if rows[c]["five_point_nme_bias"] <= 5.260]
print(min(ok, key=lambda c: rows[c]["val_nme_bias"]))
PY
)
echo "rule 4 -> $W" | tee $R/rule4-applied.txt
T=runs/s9/default-nf/final.safetensors  # the full-data float model (step 3)
case $W in
  r4-A) X="--lr 1e-6 --lowres-prob 0.5";;
  r4-B) X="--lr 1e-5 --lowres-prob 0 --teacher $T";;
  r4-C) X="--lr 1e-6 --lowres-prob 0 --teacher $T";;
  *) echo "rule 4 keeps step 2's recipe: nothing to run on the full data"; exit 0;;
esac
O=$R/full-$W
[ -f $O/qat.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --init $T --qat \
    --epochs 3 --lr-steps --threads 2 --seed 0 --no-progress --out $O $X
python -m pipnet_edge.evaluate --model $O/qat.safetensors --five-point "$VAL665" --five-point-all 2>&1 | tr '\r' '\n' \
    | grep "5-point NME" | tee $R/full-val665.txt
v=$(grep -o "NME (eye centres) [0-9.]*" $R/full-val665.txt | awk '{print $4}')
if awk -v v="$v" 'BEGIN { exit !(v <= 4.818) }'; then
  echo "rule 4 full data: val665 $v <= 4.818 -> ship" | tee $R/rule4-full.txt
else
  echo "rule 4 full data: val665 $v > 4.818 -> keep the shipped QAT model" | tee $R/rule4-full.txt
fi

#!/usr/bin/env bash
# Step 2 of the 2026-12-01 default-recipe experiment (README.md here): three QAT recipes on rule 1's float model and
# rule 2. Each 3 epochs at lr 1e-5 on the split: --lowres-prob 0.5 (the recipe until then), --lowres-prob 0, and
# --lowres-prob 0.5 distilled from the float model (--teacher, weight 0.5); the probe as in step 1; rule 2
# (results/rules1-3-declared.txt, as amended): the lowest 201-face NME among the three whose MTFL figure is no more
# than 2 % worse than the --lowres-prob 0.5 recipe's. Needs step 1. Writes runs/s10/qat-F-*, runs/s10/probe-qat.json,
# runs/s10/rule2-applied.txt (at the time rule 2 was applied by hand: results/rule2-applied.txt).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
VAL665=${VAL665:-runs/val665_5pt.txt}
R=runs/s10
S="--val-fraction 0.1 --seed 0 --threads 2 --no-progress"
P="--data $DATA/train --val-fraction 0.1 --seed 0 --five-point $VAL665"
F=$(awk '{print $NF}' $R/rule1-applied.txt)  # base or nf

qat() {
  local o=$R/qat-$F-$1; shift
  [ -f $o/qat.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --init $R/$F/final.safetensors --qat \
      --epochs 3 --lr 1e-5 --lr-steps --val-every 3 --out $o $S "$@"
}
qat lr0.5 --lowres-prob 0.5
qat lr0 --lowres-prob 0
qat lr0.5-kd --lowres-prob 0.5 --teacher $R/$F/final.safetensors
[ -f $R/probe-qat.json ] || python -m benchmarks.probes.point_bias_probe $R/qat-$F-{lr0.5-kd,lr0.5,lr0}/qat.safetensors \
    $P --json $R/probe-qat.json

W=$(python - $R/probe-qat.json "$F" <<'PY'
import json, sys
rows = {r["model"].split("/")[-2]: r for r in json.load(open(sys.argv[1]))["rows"]}
arms = {a: rows[f"qat-{sys.argv[2]}-{a}"] for a in ("lr0.5", "lr0", "lr0.5-kd")}
limit = 1.02 * arms["lr0.5"]["five_point_nme_bias"]
ok = [a for a, r in arms.items() if r["five_point_nme_bias"] <= limit]
print(min(ok, key=lambda a: arms[a]["val_nme_bias"]))
PY
)
echo "rule 2 -> $W" | tee $R/rule2-applied.txt

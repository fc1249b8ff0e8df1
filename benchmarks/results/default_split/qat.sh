#!/usr/bin/env bash
# Session 10, after runs/s10/split.sh's base run (its bash was stopped; the run goes on): the no-flip polish, rule 1
# (rules1-3-declared.txt), the three QAT arms on the chosen float, and the probe.
set -euo pipefail
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
D=../shared/data/300w/train; R=runs/s10; S="--val-fraction 0.1 --seed 0 --threads 2 --no-progress"
P="--data $D --val-fraction 0.1 --seed 0 --five-point runs/val665_5pt.txt"
while pgrep -f "out $R/base " >/dev/null; do sleep 20; done
test -f $R/base/final.safetensors
[ -f $R/nf/final.safetensors ] || python -m pipnet_edge.train --data $D --init $R/base/final.safetensors --epochs 10 --lr 1e-5 --lr-steps \
    --bf16 --flip-prob 0 --val-every 10 --out $R/nf $S
[ -f $R/probe-float.json ] || python benchmarks/point_bias_probe.py $R/base/final.safetensors $R/nf/final.safetensors $P --json $R/probe-float.json
F=$(python - <<PY
import json
rows = {r["model"].split("/")[-2]: r for r in json.load(open("$R/probe-float.json"))["rows"]}
b, n = rows["base"], rows["nf"]
ok = n["val_nme_bias"] < b["val_nme_bias"] and n["five_point_nme_bias"] <= 1.02 * b["five_point_nme_bias"]
print("nf" if ok else "base")
PY
)
echo "rule 1 -> $F" | tee $R/rule1-applied.txt
qat() { o=$R/qat-$F-$1; shift; [ -f $o/qat.safetensors ] || python -m pipnet_edge.train --data $D --init $R/$F/final.safetensors --qat \
    --epochs 3 --lr 1e-5 --lr-steps --val-every 3 --out $o $S "$@"; }
qat lr0.5 --lowres-prob 0.5
qat lr0 --lowres-prob 0
qat lr0.5-kd --lowres-prob 0.5 --teacher $R/$F/final.safetensors
python benchmarks/point_bias_probe.py $R/qat-$F-*/qat.safetensors $P --json $R/probe-qat.json
touch $R/all.done

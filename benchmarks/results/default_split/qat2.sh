#!/usr/bin/env bash
# Session 11: rule 4 arms (rule4-declared.txt), probe, rule, full-data run of the winner, its val665 figure.
set -euo pipefail
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
D=../shared/data/300w/train; R=runs/s10; S="--val-fraction 0.1 --seed 0 --threads 2 --no-progress"
P="--data $D --val-fraction 0.1 --seed 0 --five-point runs/val665_5pt.txt"
F=$R/nf/final.safetensors
qat() { o=$R/r4-$1; shift; [ -f $o/qat.safetensors ] || python -m pipnet_edge.train --data $D --init $F --qat \
    --lr-steps --val-every 3 --out $o $S "$@"; }
qat D --epochs 0 --lr 1e-5 --lowres-prob 0.5
qat A --epochs 3 --lr 1e-6 --lowres-prob 0.5
qat B --epochs 3 --lr 1e-5 --lowres-prob 0 --teacher $F
qat C --epochs 3 --lr 1e-6 --lowres-prob 0 --teacher $F
[ -f $R/probe-r4.json ] || python benchmarks/point_bias_probe.py $R/r4-{D,A,B,C}/qat.safetensors $P --json $R/probe-r4.json
W=$(python - <<PY
import json
rows = {r["model"].split("/")[-2]: r for r in json.load(open("$R/probe-r4.json"))["rows"]}
rows.update({r["model"].split("/")[-2]: r for r in json.load(open("$R/probe-qat.json"))["rows"]})
cands = ["qat-nf-lr0.5", "r4-A", "r4-B", "r4-C"]
ok = [c for c in cands if rows[c]["five_point_nme_bias"] <= 5.260]
print(min(ok, key=lambda c: rows[c]["val_nme_bias"]))
PY
)
echo "rule 4 -> $W" | tee $R/rule4-applied.txt
case $W in
  r4-A) X="--lr 1e-6 --lowres-prob 0.5";;
  r4-B) X="--lr 1e-5 --lowres-prob 0 --teacher runs/s9/default-nf/final.safetensors";;
  r4-C) X="--lr 1e-6 --lowres-prob 0 --teacher runs/s9/default-nf/final.safetensors";;
  *) touch $R/r4.done; exit 0;;
esac
O=$R/full-$W
[ -f $O/qat.safetensors ] || python -m pipnet_edge.train --data $D --init runs/s9/default-nf/final.safetensors --qat \
    --epochs 3 --lr-steps --threads 2 --seed 0 --no-progress --out $O $X
python -m pipnet_edge.evaluate --model $O/qat.safetensors --five-point runs/val665_5pt.txt --five-point-all 2>&1 | tr '\r' '\n' | grep "5-point NME" | tee $R/full-val665.txt
touch $R/r4.done

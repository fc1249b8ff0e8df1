#!/usr/bin/env bash
# Step 5 of the 2026-12-01 default-recipe experiment (README.md here): rule 5 (results/rule5-declared.txt), the
# activation ranges of rule 4's QAT model estimated again after training as the mean over 256 training faces of each
# face's own min / max (NNCF's estimator) instead of QAT's moving average of batch extremes; weights untouched.
# Split: runs/s10/r4-C -> r5-C (ranges_prototype.py here: its faces come from the split's 1,811), the probe; take it
# iff its 201-face NME beats r4-C's and its MTFL figure is <= 5.260 %. Full data: runs/s10/full-r4-C -> full-r5-C
# (256 of the 2,012 training faces, the package's command), shipped iff its val665 figure is <= 4.818 %. Needs step 4.
# Writes runs/s10/r5-C, probe-r5.json, rule5-applied.txt, full-r5-C/, full-r5-val665.txt, rule5-full.txt. Then
# 06_ship.sh (its defaults) shipped the bundled model.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
VAL665=${VAL665:-runs/val665_5pt.txt}
R=runs/s10
P="--data $DATA/train --val-fraction 0.1 --seed 0 --five-point $VAL665"
HERE=docs/experiments/2026-12-01-default-recipe
[ "$(awk '{print $NF}' $R/rule4-applied.txt)" = r4-C ] || { echo "rule 5 was declared on rule 4's winner r4-C" >&2; exit 1; }
ranges() {  # python -m pipnet_edge.quantization.ranges when this ran; the calibration layer's command since issue 26
  if [ -f pipnet_edge/calibration/activation_ranges.py ]; then python -m pipnet_edge.calibration.activation_ranges "$@"
  else python -m pipnet_edge.quantization.ranges "$@"; fi
}

[ -f $R/r5-C/qat.safetensors ] || python $HERE/ranges_prototype.py $R/r4-C/qat.safetensors $R/r5-C/qat.safetensors 256 mean
[ -f $R/probe-r5.json ] || python -m benchmarks.probes.point_bias_probe $R/r5-C/qat.safetensors $P --json $R/probe-r5.json
T=$(python - $R/probe-r5.json $R/probe-r4.json <<'PY'
import json, sys
rows = {r["model"].split("/")[-2]: r for f in sys.argv[1:] for r in json.load(open(f))["rows"]}
new, old = rows["r5-C"], rows["r4-C"]
print("take" if new["val_nme_bias"] < old["val_nme_bias"] and new["five_point_nme_bias"] <= 5.260 else "keep r4-C")
PY
)
echo "rule 5 -> $T" | tee $R/rule5-applied.txt
[ "$T" = take ] || exit 0

[ -f $R/full-r5-C/qat.safetensors ] || ranges --qat $R/full-r4-C/qat.safetensors --data "$DATA/train" \
    --out $R/full-r5-C/qat.safetensors
python -m pipnet_edge.evaluate --model $R/full-r5-C/qat.safetensors --five-point "$VAL665" --five-point-all 2>&1 \
    | tr '\r' '\n' | grep "5-point NME" | tee $R/full-r5-val665.txt
v=$(grep -o "NME (eye centres) [0-9.]*" $R/full-r5-val665.txt | awk '{print $4}')
if awk -v v="$v" 'BEGIN { exit !(v <= 4.818) }'; then
  echo "rule 5 full data: val665 $v <= 4.818 -> ship" | tee $R/rule5-full.txt
else
  echo "rule 5 full data: val665 $v > 4.818 -> keep the shipped QAT model" | tee $R/rule5-full.txt
fi

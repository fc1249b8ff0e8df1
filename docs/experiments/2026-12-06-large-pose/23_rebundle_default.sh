#!/usr/bin/env bash
# Step 21 of the 2026-12-06 large-pose experiment (README.md here): rule 20's choice of calibration faces, bundled
# into the default model (scripts/bundle_model.py: the same averaged float model as step 17, the QAT file whose
# ranges rule 20 chose, its full-INT8 TFLite), then the default card's figures as in step 17 (the test set and the
# held-out MTFL faces, each measured once, after the choice) and the large-pose benchmark of both models.
# Writes runs/pose/eval21/*.json (copied to results/step21-*.json) and benchmarks/results/large_pose.*.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
HELD_OUT=${HELD_OUT:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
E=$R/eval21
c=$(sed -n 's/^rule 20 -> //p' $R/rule20.txt)
case $c in
    r1|r2|r3) ;;
    *) echo "rule 20 kept the bundled ranges ($c): nothing to re-bundle" >&2; exit 1 ;;
esac
mkdir -p $E
python scripts/bundle_model.py --model default --float $R/default-ship-soup75/final.safetensors \
    --qat $R/default-ranges-$c/qat.safetensors --tflite-int8 $R/ranges20/$c/pipnet_mbv2_300w68_tflite-int8.tflite
for v in "" -qat; do
    python -m pipnet_edge.evaluate --model default$v --data "$DATA/test" --threads 1 --json $E/default$v-test.json 2>&1 | tr '\r' '\n' | tail -1
done
python -m pipnet_edge.evaluate --model default --five-point "$HELD_OUT" --threads 1 --json $E/default-5pt.json 2>&1 | tr '\r' '\n' | grep "5-point"
for f in $E/default*.json; do cp $f docs/experiments/2026-12-06-large-pose/results/step21-$(basename $f); done
python -m benchmarks large_pose

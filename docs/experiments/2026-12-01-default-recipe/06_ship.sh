#!/usr/bin/env bash
# Step 6 of the 2026-12-01 default-recipe experiment (README.md here): ship a float + QAT pair that passed its rule's
# full-data check: every export target (INT8 from the QAT model), the bundled files rewritten (pipnet_edge/assets,
# SHA256SUMS included), then the 300W test figures of the bundled models and the held-out MTFL figure of the INT8
# one. The defaults are the last attempt, the bundled model (rule 5); the earlier two (README.md, "Three attempts
# at shipping"), from the repository root:
#   QAT=runs/s9/default-nf-qat/qat.safetensors GATE=runs/s10/rule3-applied.txt TAG=ship \
#       bash docs/experiments/2026-12-01-default-recipe/06_ship.sh
#   QAT=runs/s10/full-r4-C/qat.safetensors GATE=runs/s10/rule4-full.txt TAG=ship2 \
#       bash docs/experiments/2026-12-01-default-recipe/06_ship.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
HELD_OUT=${HELD_OUT:-../shared/data/mtfl/train_5pt.txt}  # its 1,000 held-out faces are what --five-point reads
R=runs/s10
FLOAT=${FLOAT:-runs/s9/default-nf/final.safetensors}
QAT=${QAT:-$R/full-r5-C/qat.safetensors}
GATE=${GATE:-$R/rule5-full.txt}
TAG=${TAG:-ship3}
grep -q -- "-> ship" "$GATE" || { echo "$GATE does not say '-> ship': nothing to ship" >&2; exit 1; }

python -m pipnet_edge.export --target all --weights $FLOAT --qat-weights $QAT --name pipnet_mbv2_300w68 --out exports \
    --data "$DATA/test" --data-limit 0 --json exports/export.json
python scripts/bundle_model.py --model default --float $FLOAT --qat $QAT \
    --tflite-int8 exports/pipnet_mbv2_300w68_tflite-int8.tflite
for m in default default-float default-qat; do  # INT8 TFLite, float16, QAT fake-quant (torch)
  python -m pipnet_edge.evaluate --model $m --data "$DATA/test" --json $R/$TAG-test-$m.json 2>&1 | tail -1
done
python -m pipnet_edge.evaluate --model default --five-point "$HELD_OUT" --json $R/$TAG-5pt-default.json 2>&1 | tail -1

#!/usr/bin/env bash
# After runs/s10/qat2.sh: rule 4's full-data check, then (iff it passes) export, bundle and the 300W test / held-out figures.
set -euo pipefail
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
R=runs/s10; D=../shared/data/300w

Q=$R/full-r5-C/qat.safetensors
v=$(grep -o "NME (eye centres) [0-9.]*" $R/full-r5-val665.txt | awk '{print $4}')
if python -c "import sys; sys.exit(0 if float('$v') <= 4.818 else 1)"; then echo "rule 5 full data: val665 $v <= 4.818 -> ship" | tee $R/rule5-full.txt
else echo "rule 5 full data: val665 $v > 4.818 -> keep the shipped QAT model" | tee $R/rule5-full.txt; exit 0; fi
python -m pipnet_edge.export --target all --weights runs/s9/default-nf/final.safetensors --qat-weights $Q \
    --name pipnet_mbv2_300w68 --out exports --data $D/test --data-limit 0 --json exports/export.json 2>&1 | grep -v "it/s\]" | tail -12
python scripts/bundle_model.py --model default --float runs/s9/default-nf/final.safetensors --qat $Q \
    --tflite-int8 exports/pipnet_mbv2_300w68_tflite-int8.tflite
for m in default default-float default-qat; do
  python -m pipnet_edge.evaluate --model $m --data $D/test --json $R/ship3-test-$m.json 2>&1 | tail -1
done
python -m pipnet_edge.evaluate --model default --five-point ../shared/data/mtfl/train_5pt.txt --json $R/ship3-5pt-default.json 2>&1 | tail -1
touch $R/ship3.done

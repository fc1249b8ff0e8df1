#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
D=../shared/data/300w
python -m pipnet_edge.export --target all --weights runs/s9/default-nf/final.safetensors --qat-weights runs/s9/default-nf-qat/qat.safetensors \
    --name pipnet_mbv2_300w68 --out exports --data $D/test --data-limit 0 --json exports/export.json 2>&1 | grep -v "it/s\]" | tail -12
python scripts/bundle_model.py --model default --float runs/s9/default-nf/final.safetensors --qat runs/s9/default-nf-qat/qat.safetensors \
    --tflite-int8 exports/pipnet_mbv2_300w68_tflite-int8.tflite
for m in default default-float default-qat; do
  python -m pipnet_edge.evaluate --model $m --data $D/test --json runs/s10/ship-test-$m.json 2>&1 | tail -1
done
for m in default default-float; do
  python -m pipnet_edge.evaluate --model $m --five-point ../shared/data/mtfl/train_5pt.txt --json runs/s10/ship-5pt-$m.json 2>&1 | tail -1
done
touch runs/s10/ship.done

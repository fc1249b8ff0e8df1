#!/usr/bin/env bash
# Step 17 of the 2026-12-06 large-pose experiment (README.md here): step 16's files bundled (scripts/bundle_model.py:
# the averaged float model, its QAT file with re-estimated ranges, the full-INT8 TFLite), then every figure as in
# steps 8 and 14: each card's accuracy figures (the commands of pipnet_edge/assets/registry.py) and, after the
# default model, the large-pose benchmark of both. Arguments: the models, in order (default: lite default; the lite
# model was done first while the default model's QAT ran). Writes runs/pose/eval17/*.json (copied to results/step17-*.json) and
# benchmarks/results/large_pose.*.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
HELD_OUT=${HELD_OUT:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
E=$R/eval17
mkdir -p $E
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(lite default)
for m in "${models[@]}"; do
    case $m in
        lite) python scripts/bundle_model.py --model lite --float $R/lite-ship-soup75/final.safetensors \
            --qat $R/lite-ship-soup75-qm-ranges/qat.safetensors \
            --tflite-int8 $R/ship16/lite/pipnet_lite_300w68_tflite-int8.tflite ;;
        default) python scripts/bundle_model.py --model default --float $R/default-ship-soup75/final.safetensors \
            --qat $R/default-ship-soup75-qm-ranges/qat.safetensors \
            --tflite-int8 $R/ship16/default/pipnet_mbv2_300w68_tflite-int8.tflite ;;
        *) echo "unknown model $m" >&2; exit 2 ;;
    esac
    for v in "" -fp16 -qat; do
        python -m pipnet_edge.evaluate --model $m$v --data "$DATA/test" --threads 1 --json $E/$m$v-test.json 2>&1 | tr '\r' '\n' | tail -1
    done
    for v in "" -fp16; do
        python -m pipnet_edge.evaluate --model $m$v --five-point "$HELD_OUT" --threads 1 --json $E/$m$v-5pt.json 2>&1 | tr '\r' '\n' | grep "5-point"
    done
    for f in $E/$m-*.json; do cp $f docs/experiments/2026-12-06-large-pose/results/step17-$(basename $f); done
    if [ $m = default ]; then python -m benchmarks large_pose; fi
done

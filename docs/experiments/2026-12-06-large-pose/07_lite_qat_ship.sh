#!/usr/bin/env bash
# Step 7 of the 2026-12-06 large-pose experiment (README.md here): step 5's rule chose the default model's QAT recipe
# for the lite model too (3 epochs at lr 1e-6 distilled from the float model, then the activation ranges re-estimated
# on 256 training faces): run on step 3's full-data lite float model (runs/pose/lite-full-polish), and its full-INT8
# TFLite. Writes runs/pose/lite-full-qat2/, runs/pose/lite-full-qat2-ranges/, runs/pose/exports-lite/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
R=runs/pose
L=$R/lite-full-polish/final.safetensors
grep -q "rule 5 -> q2" $R/rule5.txt || { echo "step 5's rule did not choose q2 ($R/rule5.txt)" >&2; exit 1; }
[ -f $R/lite-full-qat2/qat.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --init $L --qat \
    --epochs 3 --lr 1e-6 --lr-steps --teacher $L --threads ${THREADS:-2} --seed 0 --no-progress --out $R/lite-full-qat2
[ -f $R/lite-full-qat2-ranges/qat.safetensors ] || python -m pipnet_edge.calibration.activation_ranges \
    --qat $R/lite-full-qat2/qat.safetensors --data "$DATA/train" --out $R/lite-full-qat2-ranges/qat.safetensors
[ -f $R/exports-lite/pipnet_lite_300w68_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
    --weights $L --qat-weights $R/lite-full-qat2-ranges/qat.safetensors --name pipnet_lite_300w68 --out $R/exports-lite

#!/usr/bin/env bash
# Step 6 of the 2026-12-06 large-pose experiment (README.md here): 03_anchor_ship.sh's default-model part, shortened
# to fit the session. The anchored run (10 epochs at 256 px with the pseudo-labelled faces in their own pass) took
# 520 s an epoch beside the lite arms, so it was stopped after epoch 2 and resumed from its last.pt as a 5-epoch run
# (lr 5e-5, x0.1 for epoch 5; the trainer recomputes the rate from the epoch, and epochs 1-2 run at 5e-5 in either
# schedule, so a fresh run of this script is the same schedule), and the polish is 5 epochs instead of 10. Then QAT
# (3 epochs at lr 1e-6 distilled from the float model), the activation ranges and the full-INT8 TFLite. Needs
# 03_anchor_ship.sh's runs/pose/base (and reuses its lite run's pseudo-labels: the same teacher and faces).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
B=$R/base
if [ ! -f $R/default-full/round1/pseudo_labels.npz ] && [ -f $R/lite-full/round1/pseudo_labels.npz ]; then
    mkdir -p $R/default-full/round1 && cp $R/lite-full/round1/pseudo_labels.npz $R/default-full/round1/
fi
[ -f $R/default-full/final.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --seed 0 --unlabelled "$U" \
    --curriculum none --teacher $B/pipnet_mbv2_300w68_fp16.safetensors --lr 5e-5 --flip-prob 0 --bf16 --threads 2 \
    --no-progress --anchor 1 --init $B/pipnet_mbv2_300w68_fp16.safetensors --epochs 5 --lr-steps 4 \
    --unlabelled-separate-pass --resume 1 --out $R/default-full
[ -f $R/default-full-polish/final.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" \
    --init $R/default-full/final.safetensors --epochs 5 --lr 1e-5 --lr-steps --flip-prob 0 --bf16 --threads 2 --seed 0 \
    --no-progress --out $R/default-full-polish
F=$R/default-full-polish/final.safetensors
[ -f $R/default-full-qat/qat.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --init $F --qat \
    --epochs 3 --lr 1e-6 --lr-steps --teacher $F --threads 2 --seed 0 --no-progress --out $R/default-full-qat
[ -f $R/default-full-qat-ranges/qat.safetensors ] || python -m pipnet_edge.calibration.activation_ranges \
    --qat $R/default-full-qat/qat.safetensors --data "$DATA/train" --out $R/default-full-qat-ranges/qat.safetensors
[ -f $R/exports/pipnet_mbv2_300w68_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
    --weights $F --qat-weights $R/default-full-qat-ranges/qat.safetensors --name pipnet_mbv2_300w68 --out $R/exports

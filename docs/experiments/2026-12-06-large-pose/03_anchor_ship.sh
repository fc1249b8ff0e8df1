#!/usr/bin/env bash
# Step 3 of the 2026-12-06 large-pose experiment (README.md here): step 2's choice (pseudo-labels by the default float
# model anchored to the MTFL faces' human five points, --anchor 1, then the polish) on all the training faces, then QAT
# and the full-INT8 TFLite; here the lite model, step 6 the default one. The starting points and the teacher are the
# bundled files of commit e25d31f (before this re-bundle), taken from git.
# Writes runs/pose/base/, runs/pose/lite-full{,-polish,-qat}/, runs/pose/exports/.
# As it ran for the lite model (its QAT then replaced by step 7's); the default model's part is step 6
# (README.md here, steps 3, 6, 7).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
B=$R/base
mkdir -p $B $R/exports
for f in pipnet_mbv2_300w68_fp16 pipnet_lite_300w68_fp16; do
    [ -f $B/$f.safetensors ] || git show e25d31f:pipnet_edge/assets/$f.safetensors > $B/$f.safetensors
done
TEACHER=$B/pipnet_mbv2_300w68_fp16.safetensors
COMMON=(--data "$DATA/train" --seed 0 --unlabelled "$U" --curriculum none --teacher $TEACHER --lr 5e-5 --flip-prob 0
        --bf16 --threads 2 --no-progress --anchor 1)
# the lite model: step 2's arm a1 and its polish, on all the faces (10 epochs, lr x0.1 after 7)
[ -f $R/lite-full/final.safetensors ] || python -m pipnet_edge.train "${COMMON[@]}" \
    --init $B/pipnet_lite_300w68_fp16.safetensors --epochs 10 --lr-steps 7 --out $R/lite-full
# the polish: 10 epochs on the labelled faces alone at lr 1e-5, flips off (both bundled recipes' last float step)
[ -f $R/lite-full-polish/final.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" \
    --init $R/lite-full/final.safetensors --epochs 10 --lr 1e-5 --lr-steps --flip-prob 0 --bf16 --threads 2 --seed 0 \
    --no-progress --out $R/lite-full-polish
L=$R/lite-full-polish/final.safetensors
# its QAT (the lite recipe: 3 epochs at lr 1e-5) and full-INT8 TFLite (the export checks it is integer throughout)
[ -f $R/lite-full-qat/qat.safetensors ] || python -m pipnet_edge.train --data "$DATA/train" --init $L --qat \
    --epochs 3 --lr 1e-5 --lr-steps --threads 2 --seed 0 --no-progress --out $R/lite-full-qat
[ -f $R/exports/pipnet_lite_300w68_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
    --weights $L --qat-weights $R/lite-full-qat/qat.safetensors --name pipnet_lite_300w68 --out $R/exports
# the default model: this script ran it too (10 epochs, then a 10-epoch polish), stopped after its epoch 2 for time;
# step 6 (06_default_shorter.sh) is that run shortened and carried on (its epochs 1-2 have the same rate either way)
# into the package (what was bundled: step 6's default files and step 7's lite QAT model and TFLite):
#   python scripts/bundle_model.py --model default --float runs/pose/default-full-polish/final.safetensors --qat runs/pose/default-full-qat-ranges/qat.safetensors \
#       --tflite-int8 runs/pose/exports/pipnet_mbv2_300w68_tflite-int8.tflite
#   python scripts/bundle_model.py --model lite --float runs/pose/lite-full-polish/final.safetensors \
#       --qat runs/pose/lite-full-qat2-ranges/qat.safetensors --tflite-int8 runs/pose/exports-lite/pipnet_lite_300w68_tflite-int8.tflite

#!/usr/bin/env bash
# Rebuild the bundled lite model (the commands behind the README's lite figures).
# MobileNetV2 cut at stride 16 with a 128-channel projection, 128x128 input (8x8 map), num_nb 10.
# Needs ../shared/data/300w/train, the torchvision MobileNetV2 ImageNet weights and the default model's float
# weights (the teacher: runs/mbv2/final.safetensors from scripts/build_default_model.sh, or the bundled fp16 copy).
# 10 % of the training faces (seeded) are held out to choose between recipes; the test set is only evaluated.
# About 15 min (plain part) + 35 min (distilled part) + 10 min QAT on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
TEACHER=${TEACHER:-runs/mbv2/final.safetensors}
COMMON=(--data "$DATA/train" --val-fraction 0.1 --val-every 5 --backbone mobilenet_v2_s16_c128 --input-size 128
        --net-stride 16 --num-nb 10 --bf16 --threads 1 --seed 0)
# 1. 20 epochs of plain training (lr 1e-4), ImageNet init of features.0-13
python -m pipnet_edge.train "${COMMON[@]}" --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth \
    --epochs 20 --out runs/lite-plain-e20
# 2. epochs 21-40 distilled from the default model (loss = 0.5 ground truth + 0.5 teacher), lr x0.1 at 28 and 36
python -m pipnet_edge.train "${COMMON[@]}" --resume runs/lite-plain-e20/last.pt --teacher "$TEACHER" \
    --distill-weight 0.5 --epochs 40 --lr-steps 28 36 --out runs/lite-kd
# 3. quantization-aware fine-tuning, 2 epochs lr 1e-5
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 1 --init runs/lite-kd/final.safetensors \
    --qat --epochs 2 --lr 1e-5 --lr-steps --threads 2 --seed 0 --out runs/lite-qat
# 4. accuracy on the 554 test faces, float and QAT
python -m pipnet_edge.evaluate --model runs/lite-kd/final.safetensors --data "$DATA/test" --out runs/eval-lite-float
python -m pipnet_edge.evaluate --model runs/lite-qat/qat.safetensors --data "$DATA/test" --out runs/eval-lite-qat
# 5. every target, then into the package
python -m pipnet_edge.export --target all --weights runs/lite-kd/final.safetensors --qat-weights runs/lite-qat/qat.safetensors \
    --name pipnet_lite_300w68 --out exports --data "$DATA/test" --data-limit 0 --json exports/export-lite.json
python scripts/bundle_model.py --model lite --float runs/lite-kd/final.safetensors --qat runs/lite-qat/qat.safetensors \
    --tflite-int8 exports/pipnet_lite_300w68_tflite-int8.tflite

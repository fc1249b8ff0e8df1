#!/usr/bin/env bash
# MobileNetV3-small-PIPNet-68 (256x256, stride 32, num_nb 10): the issue's small MobileNetV3 model, trained like the
# default one but from random init (no ImageNet MobileNetV3 weights are available offline), lr 5e-4 for that reason.
# Not bundled: in INT8 TFLite on this CPU it is about as slow as the default MobileNetV2 (see README).
# 10 % of the training faces held out for validation; the test set is only evaluated. About 30 min + 3 min QAT on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 5 --backbone mobilenet_v3_small \
    --input-size 256 --net-stride 32 --num-nb 10 --epochs 30 --lr 5e-4 --lr-steps 22 27 --bf16 --threads 1 --seed 0 \
    --out runs/mbv3s
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 1 --init runs/mbv3s/final.safetensors \
    --qat --epochs 2 --lr 1e-5 --lr-steps --threads 2 --seed 0 --out runs/mbv3s-qat
python -m pipnet_edge.evaluate --model runs/mbv3s/final.safetensors --data "$DATA/test" --out runs/eval-mbv3s-float
python -m pipnet_edge.evaluate --model runs/mbv3s-qat/qat.safetensors --data "$DATA/test" --out runs/eval-mbv3s-qat
python -m pipnet_edge.export --target tflite-int8 --weights runs/mbv3s-qat/qat.safetensors --name pipnet_mbv3s_300w68 \
    --out exports --data "$DATA/test" --data-limit 0

#!/usr/bin/env bash
# Step 27 of the 2026-12-06 large-pose experiment (README.md here): step 26 for the lite model, on its own split.
# The bundled lite INT8 file also ran on other weight grids than its QAT model trained on (739 of 9,460 channels
# one-signed, 56 steps raised), though it showed no INT8 loss. The lite model's QAT recipe (step 10's qm: 3 epochs at
# lr 1e-6 from lite-a1-polish, 4 anchored MTFL faces per 16 labelled, distilled) runs again on the exported grid: qx.
# Rule 27, declared before this run, as rule 26: qx is taken if its INT8 NME on the 201 300W validation faces is at
# most qm's + 0.01, its INT8 val665 NME over all 665 faces is not above qm's, and over the faces with proxy >= 0.20
# below it; else qm's recipe stays.
# Writes runs/pose/lite-a1-polish-qx/, runs/pose/val665-lite-a1-polish-qx-int8.json, runs/pose/rule27.{txt,json}.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
TEACHER=$R/base/pipnet_mbv2_300w68_fp16.safetensors
F=$R/lite-a1-polish/final.safetensors
d=$R/lite-a1-polish-qx
if [ ! -f $d/qat.safetensors ]; then
    [ -f $d/round1/pseudo_labels.npz ] || { mkdir -p $d/round1 && cp -p $R/lite-m1/round1/pseudo_labels.npz $d/round1/; }
    python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 3 --seed 0 --threads ${THREADS:-2} \
        --no-progress --qat --init $F --epochs 3 --lr 1e-6 --lr-steps --unlabelled "$U" --curriculum none \
        --teacher $TEACHER --anchor 1 --unlabelled-ratio 0.25 --out $d
fi
[ -f $d/int8/pipnet_lite_300w68_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
    --weights $F --qat-weights $d/qat.safetensors --name pipnet_lite_300w68 --out $d/int8
[ -f $R/val665-lite-a1-polish-qx-int8.json ] || python -m pipnet_edge.evaluate \
    --model $d/int8/pipnet_lite_300w68_tflite-int8.tflite --five-point $R/val665_5pt.txt --five-point-all \
    --json $R/val665-lite-a1-polish-qx-int8.json
python docs/experiments/2026-12-06-large-pose/int8_rule.py 27 pipnet_lite_300w68 qm=lite-a1-polish-qm qx=lite-a1-polish-qx "$DATA/train"

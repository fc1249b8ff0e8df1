#!/usr/bin/env bash
# Step 1 of the 2026-12-06 large-pose experiment (README.md here): does drawing the pseudo-labelled faces by pose
# (--pose-balance) help the lite model on turned faces? Two arms fine-tuned from the bundled lite float weights,
# identical but for --pose-balance (0 = uniform, the control; 1 = every pose bin alike): 10 epochs, lr 5e-5
# then 5e-6 after epoch 7, flips off (the bundled polish), pseudo-labels by the bundled default float model on the
# MTFL faces minus their validation share. Chosen on validation faces only: the 201 held-out 300W training faces
# (--val-fraction 0.1 --seed 0, reported by the trainer) and the 665 MTFL validation faces by pose bin.
# Writes runs/pose/lite-b{0,1}/ and runs/pose/val665-lite-b*.json.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
INIT=pipnet_edge/assets/pipnet_lite_300w68_fp16.safetensors
mkdir -p $R
for b in 0 1; do
    out=$R/lite-b$b
    if [ ! -f $out/final.safetensors ]; then
        # the three arms share one teacher and one face list: reuse the first arm's pseudo-labels
        if [ "$b" != 0 ] && [ -f $R/lite-b0/round1/pseudo_labels.npz ]; then
            mkdir -p $out/round1 && cp $R/lite-b0/round1/pseudo_labels.npz $out/round1/
        fi
        python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 5 --seed 0 --init $INIT \
            --unlabelled "$U" --curriculum none --teacher default-fp16 --epochs 10 --lr 5e-5 --lr-steps 7 \
            --flip-prob 0 --bf16 --threads 2 --no-progress --pose-balance $b --out $out
    fi
    [ -f $R/val665_5pt.txt ] || python scripts/five_point_subset.py --list "$U" \
        --keys $out/validation_unlabelled.txt --out $R/val665_5pt.txt
    python -m pipnet_edge.evaluate --model $out/final.safetensors --five-point $R/val665_5pt.txt --five-point-all \
        --json $R/val665-lite-b$b.json
done

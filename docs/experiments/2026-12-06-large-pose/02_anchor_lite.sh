#!/usr/bin/env bash
# Step 2 of the 2026-12-06 large-pose experiment (README.md here): pseudo-labels anchored to the MTFL faces' human
# five points (pipnet_edge/training/anchored_labels.py), on the lite model. Arms: step 1's control (runs/pose/lite-b0)
# but for --anchor: a1 = --anchor 1 (a thin-plate spline puts the five derived points exactly on the human ones plus
# the schemes' median offset), a2 = --anchor 1 --anchor-mode affine (one least-squares affine map per face); and
# a1-polish = a1 then 10 epochs on the labelled faces alone at lr 1e-5 (the bundled recipes' polish). The same
# teacher, faces, split and validation sets as step 1, so the control's pseudo-labels are reused.
# Writes runs/pose/lite-{a1,a2,a1-polish}/ and runs/pose/val665-lite-*.json. Needs step 1.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
INIT=${INIT:-pipnet_edge/assets/pipnet_lite_300w68_fp16.safetensors}  # after the re-bundle: runs/pose/base/ (03_anchor_ship.sh)
TEACHER=${TEACHER:-default-fp16}  # the bundled default float model of commit e25d31f (after the re-bundle: runs/pose/base/)
S=(--data "$DATA/train" --val-fraction 0.1 --val-every 5 --seed 0 --flip-prob 0 --bf16 --threads 2 --no-progress)
arm() {  # name, extra options
    local out=$R/lite-$1; shift
    if [ ! -f $out/final.safetensors ]; then
        mkdir -p $out/round1 && cp $R/lite-b0/round1/pseudo_labels.npz $out/round1/
        python -m pipnet_edge.train "${S[@]}" --init $INIT --unlabelled "$U" --curriculum none --teacher $TEACHER \
            --epochs 10 --lr 5e-5 --lr-steps 7 --out $out "$@"
    fi
}
val665() { [ -f $R/val665-lite-$1.json ] || python -m pipnet_edge.evaluate --model $R/lite-$1/final.safetensors --five-point $R/val665_5pt.txt \
    --five-point-all --json $R/val665-lite-$1.json; }
arm a1 --anchor 1 && val665 a1
[ -f $R/lite-a1-polish/final.safetensors ] || python -m pipnet_edge.train "${S[@]}" \
    --init $R/lite-a1/final.safetensors --epochs 10 --lr 1e-5 --lr-steps --out $R/lite-a1-polish
val665 a1-polish
arm a2 --anchor 1 --anchor-mode affine && val665 a2

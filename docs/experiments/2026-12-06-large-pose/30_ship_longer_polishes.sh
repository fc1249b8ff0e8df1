#!/usr/bin/env bash
# Step 30 of the 2026-12-06 large-pose experiment (README.md here): rule 29's choice on all the faces, the default
# model only (the lite model's bundled polishes already ran 10 epochs). Written before rule 29's result was known; it
# runs only if rule 29 took s75q. Step 16's default recipe with its two polishes at 10 epochs instead of 5: each
# 5-epoch polish of step 11/13 (runs/pose/default-ship-polish, default-ship-m2; lr 1e-5 throughout, no decay) resumed
# from its last.pt to epoch 10 (the same constant learning rate; on resume the shuffling generator starts again, so
# epochs 6-10 draw their labelled batches in the order of epochs 1-5, with each epoch's own augmentation), their weight
# average at t = 0.75 (point bias on the 2,012 training faces), qm (3 epochs at lr 1e-6, 4 anchored faces per 16,
# distilled from the average), the activation ranges and the full-INT8 TFLite, as step 16. Then step 17's bundling
# and figures for the default model (copied to results/step30-*.json; `python -m benchmarks large_pose`).
# Writes runs/pose/default-ship-{polish10,m2-10,soup75-10,soup75-10-qm,soup75-10-qm-ranges}/, runs/pose/ship30/,
# runs/pose/eval30/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
HELD_OUT=${HELD_OUT:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
TEACHER=$R/base/pipnet_mbv2_300w68_fp16.safetensors
A=$R/default-ship-anchored/final.safetensors
grep -q "rule 29 -> s75q" $R/rule29.txt || { echo "rule 29 chose otherwise" >&2; exit 1; }
C=(--data "$DATA/train" --seed 0 --threads ${THREADS:-2} --no-progress)
U_ARGS=(--unlabelled "$U" --curriculum none --teacher $TEACHER --anchor 1)
P=$R/default-ship-polish10 M=$R/default-ship-m2-10 S=$R/default-ship-soup75-10
if [ ! -f $P/final.safetensors ]; then
    resume=$R/default-ship-polish/last.pt; [ -f $P/last.pt ] && resume=$P/last.pt
    python -m pipnet_edge.train "${C[@]}" --init $A --epochs 10 --lr 1e-5 --lr-steps --flip-prob 0 --bf16 \
        --resume $resume --out $P
fi
if [ ! -f $M/final.safetensors ]; then
    mkdir -p $M/round1
    [ -f $M/round1/last.pt ] || cp -p $R/default-ship-m2/round1/last.pt $M/round1/
    [ -f $M/round1/pseudo_labels.npz ] || cp -p $R/default-ship-m2/round1/pseudo_labels.npz $M/round1/
    python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --unlabelled-ratio 0.5 --init $A --epochs 10 --lr 1e-5 \
        --lr-steps --flip-prob 0 --bf16 --resume $M --out $M
fi
[ -f $S/final.safetensors ] || python -m pipnet_edge.training.weight_average --models $P/final.safetensors \
    $M/final.safetensors --weight 0.75 --data "$DATA/train" --threads ${THREADS:-2} --out $S/final.safetensors
[ -f $S-qm/round1/pseudo_labels.npz ] || { mkdir -p $S-qm/round1 && cp -p $R/lite-full/round1/pseudo_labels.npz $S-qm/round1/; }
[ -f $S-qm/qat.safetensors ] || python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --unlabelled-ratio 0.25 --qat \
    --init $S/final.safetensors --epochs 3 --lr 1e-6 --lr-steps --out $S-qm
[ -f $S-qm-ranges/qat.safetensors ] || python -m pipnet_edge.calibration.activation_ranges --qat $S-qm/qat.safetensors \
    --data "$DATA/train" --out $S-qm-ranges/qat.safetensors
T=$R/ship30/pipnet_mbv2_300w68_tflite-int8.tflite
[ -f $T ] || python -m pipnet_edge.export --target tflite-int8 --weights $S/final.safetensors \
    --qat-weights $S-qm-ranges/qat.safetensors --name pipnet_mbv2_300w68 --out $R/ship30
python scripts/bundle_model.py --model default --float $S/final.safetensors --qat $S-qm-ranges/qat.safetensors \
    --tflite-int8 $T
E=$R/eval30
mkdir -p $E
for v in "" -fp16 -qat; do
    python -m pipnet_edge.evaluate --model default$v --data "$DATA/test" --threads 1 --json $E/default$v-test.json 2>&1 | tr '\r' '\n' | tail -1
done
for v in "" -fp16; do
    python -m pipnet_edge.evaluate --model default$v --five-point "$HELD_OUT" --threads 1 --json $E/default$v-5pt.json 2>&1 | tr '\r' '\n' | grep "5-point"
done
for f in $E/default*.json; do cp $f docs/experiments/2026-12-06-large-pose/results/step30-$(basename $f); done
python -m benchmarks large_pose

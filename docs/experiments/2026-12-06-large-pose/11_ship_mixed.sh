#!/usr/bin/env bash
# Step 11 of the 2026-12-06 large-pose experiment (README.md here): steps 9 and 10's choices (runs/pose/rule9.txt: the
# polish, rule10.txt: the QAT) on all the faces, both models, then the activation ranges (256 training faces) and the
# full-INT8 TFLite, as in steps 6-7. Lite: from step 3's anchored float model (runs/pose/lite-full). Default: step 6's
# shortened anchored run continued to the recipe's 10 epochs (its last.pt resumed in a new folder with --epochs 10
# --lr-steps 7: epochs 6-7 at lr 5e-5, 8-10 at 5e-6; epoch 5 had run at 5e-6), then the polish shortened to 5 epochs
# as in step 6. The same teacher and pseudo-labels as step 3 (runs/pose/base/, 6,650 MTFL pool faces).
# Writes runs/pose/{lite,default}-ship-*/ and runs/pose/ship/{lite,default}/ (the INT8 files).
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
TEACHER=$R/base/pipnet_mbv2_300w68_fp16.safetensors
W9=$(sed -n 's/^rule 9 -> \([a-z0-9-]*\)$/\1/p' $R/rule9.txt)
W10=$(sed -n 's/^rule 10 -> \([a-z0-9-]*\)$/\1/p' $R/rule10.txt)
case $W9 in a1-polish) ratio=0.25 ;; m1) ratio=0.25 ;; m2) ratio=0.5 ;; *) echo "no rule 9 choice" >&2; exit 1 ;; esac
case $W10 in q2|qm) ;; *) echo "no rule 10 choice" >&2; exit 1 ;; esac
C=(--data "$DATA/train" --seed 0 --threads ${THREADS:-2} --no-progress)
U_ARGS=(--unlabelled "$U" --curriculum none --teacher $TEACHER --anchor 1)
labels() {  # reuse step 3's pseudo-labels (the cache is keyed by the teacher file and the faces)
    [ -f $1/round1/pseudo_labels.npz ] || { mkdir -p $1/round1 && cp -p $R/lite-full/round1/pseudo_labels.npz $1/round1/; }
}
ship() {  # name (lite|default), anchored float model, polish epochs, file name
    local m=$1 A=$2 pe=$3 name=$4 P Q
    if [ $W9 = a1-polish ] && [ $m = lite ]; then P=$R/lite-full-polish  # step 3's polish: this recipe, run before
    elif [ $W9 = a1-polish ]; then P=$R/$m-ship-polish
        [ -f $P/final.safetensors ] || python -m pipnet_edge.train "${C[@]}" --init $A --epochs $pe --lr 1e-5 --lr-steps \
            --flip-prob 0 --bf16 --out $P
    else P=$R/$m-ship-mixed-polish
        labels $P
        [ -f $P/final.safetensors ] || python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --unlabelled-ratio $ratio \
            --init $A --epochs $pe --lr 1e-5 --lr-steps --flip-prob 0 --bf16 --out $P
    fi
    Q=$R/$m-ship-$W10
    if [ $W10 = q2 ] && [ $m = lite ] && [ $W9 = a1-polish ]; then
        echo "lite: steps 3 and 7 ran this recipe (the bundled files)"; return 0
    elif [ $W10 = q2 ]; then
        [ -f $Q/qat.safetensors ] || python -m pipnet_edge.train "${C[@]}" --qat --init $P/final.safetensors --epochs 3 \
            --lr 1e-6 --lr-steps --teacher $P/final.safetensors --out $Q
    else
        labels $Q
        [ -f $Q/qat.safetensors ] || python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --unlabelled-ratio $ratio --qat \
            --init $P/final.safetensors --epochs 3 --lr 1e-6 --lr-steps --out $Q
    fi
    [ -f $Q-ranges/qat.safetensors ] || python -m pipnet_edge.calibration.activation_ranges --qat $Q/qat.safetensors \
        --data "$DATA/train" --out $Q-ranges/qat.safetensors
    [ -f $R/ship/$m/${name}_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
        --weights $P/final.safetensors --qat-weights $Q-ranges/qat.safetensors --name $name --out $R/ship/$m
}
ship lite $R/lite-full/final.safetensors 10 pipnet_lite_300w68
D=$R/default-ship-anchored
if [ ! -f $D/final.safetensors ]; then
    labels $D
    [ -f $D/round1/last.pt ] || cp -p $R/default-full/round1/last.pt $D/round1/
    python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --init $TEACHER --epochs 10 --lr 5e-5 --lr-steps 7 --flip-prob 0 \
        --bf16 --unlabelled-separate-pass --resume 1 --out $D
fi
ship default $D/final.safetensors 5 pipnet_mbv2_300w68

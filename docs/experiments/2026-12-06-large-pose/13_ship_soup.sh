#!/usr/bin/env bash
# Step 13 of the 2026-12-06 large-pose experiment (README.md here): step 12's choice (a weight average, t = 0.25, of
# the polish on the labelled faces and step 9's m2 mixed polish) and step 10's (qm: QAT with the anchored faces in
# its batches) on all the faces, both models, with `python -m pipnet_edge.training.weight_average`. Lite: step 3's
# anchored model (runs/pose/lite-full) -> m2's mixed polish (10 epochs at lr 1e-5, 8 anchored faces beside 16
# labelled) -> the average with step 3's polish (runs/pose/lite-full-polish), point bias on the 2,012 training faces
# -> qm (3 epochs at lr 1e-6, 4 anchored faces per 16, distilled from the average) -> the activation ranges -> the
# full-INT8 TFLite. Default: the same from step 11's anchored model and polish (runs/pose/default-ship-{anchored,
# polish}; step 11 was stopped there, its QAT is this one's), the mixed polish shortened to 5 epochs like the polish.
# Writes runs/pose/{lite,default}-ship-{m2,soup25,soup25-qm,soup25-qm-ranges}/ and runs/pose/ship13/{lite,default}/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
TEACHER=$R/base/pipnet_mbv2_300w68_fp16.safetensors
grep -q "rule 12 -> t = 0.25" $R/rule12.txt && grep -q "rule 10 -> qm" $R/rule10.txt || { echo "steps 10 / 12 chose otherwise" >&2; exit 1; }
C=(--data "$DATA/train" --seed 0 --threads ${THREADS:-2} --no-progress)
U_ARGS=(--unlabelled "$U" --curriculum none --teacher $TEACHER --anchor 1)
labels() {  # reuse step 3's pseudo-labels (the cache is keyed by the teacher file and the faces)
    [ -f $1/round1/pseudo_labels.npz ] || { mkdir -p $1/round1 && cp -p $R/lite-full/round1/pseudo_labels.npz $1/round1/; }
}
ship() {  # name (lite|default), anchored float model, its polish, polish epochs, file name
    local m=$1 A=$2 P=$3 pe=$4 name=$5 M=$R/$1-ship-m2 S=$R/$1-ship-soup25
    labels $M
    [ -f $M/final.safetensors ] || python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --unlabelled-ratio 0.5 --init $A \
        --epochs $pe --lr 1e-5 --lr-steps --flip-prob 0 --bf16 --out $M
    [ -f $S/final.safetensors ] || python -m pipnet_edge.training.weight_average --models $P $M/final.safetensors \
        --weight 0.25 --data "$DATA/train" --threads ${THREADS:-2} --out $S/final.safetensors
    labels $S-qm
    [ -f $S-qm/qat.safetensors ] || python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --unlabelled-ratio 0.25 --qat \
        --init $S/final.safetensors --epochs 3 --lr 1e-6 --lr-steps --out $S-qm
    [ -f $S-qm-ranges/qat.safetensors ] || python -m pipnet_edge.calibration.activation_ranges --qat $S-qm/qat.safetensors \
        --data "$DATA/train" --out $S-qm-ranges/qat.safetensors
    [ -f $R/ship13/$m/${name}_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
        --weights $S/final.safetensors --qat-weights $S-qm-ranges/qat.safetensors --name $name --out $R/ship13/$m
}
ship lite $R/lite-full/final.safetensors $R/lite-full-polish/final.safetensors 10 pipnet_lite_300w68
ship default $R/default-ship-anchored/final.safetensors $R/default-ship-polish/final.safetensors 5 pipnet_mbv2_300w68

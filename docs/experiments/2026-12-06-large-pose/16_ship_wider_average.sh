#!/usr/bin/env bash
# Step 16 of the 2026-12-06 large-pose experiment (README.md here): rule 15's choice, the weight average at t = 0.75
# of the polish on the labelled faces and the m2 mixed polish (no yaw warp), on all the faces, both models, as step
# 13 did for t = 0.25: from the same two polishes of each model (lite: runs/pose/lite-full-polish and step 13's
# lite-ship-m2; default: default-ship-polish and default-ship-m2), the average (point bias on the 2,012 training
# faces), qm (3 epochs at lr 1e-6, 4 anchored faces per 16 labelled, distilled from the average), the activation
# ranges and the full-INT8 TFLite. Writes runs/pose/{lite,default}-ship-soup75{,-qm,-qm-ranges}/ and
# runs/pose/ship16/{lite,default}/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
R=runs/pose
TEACHER=$R/base/pipnet_mbv2_300w68_fp16.safetensors
grep -q "rule 15 -> soup75" $R/rule15.txt || { echo "step 15 chose otherwise" >&2; exit 1; }
C=(--data "$DATA/train" --seed 0 --threads ${THREADS:-2} --no-progress)
U_ARGS=(--unlabelled "$U" --curriculum none --teacher $TEACHER --anchor 1)
ship() {  # name (lite|default), polish, mixed polish, file name
    local m=$1 P=$2 M=$3 name=$4 S=$R/$1-ship-soup75
    [ -f $S/final.safetensors ] || python -m pipnet_edge.training.weight_average --models $P $M \
        --weight 0.75 --data "$DATA/train" --threads ${THREADS:-2} --out $S/final.safetensors
    [ -f $S-qm/round1/pseudo_labels.npz ] || { mkdir -p $S-qm/round1 && cp -p $R/lite-full/round1/pseudo_labels.npz $S-qm/round1/; }
    [ -f $S-qm/qat.safetensors ] || python -m pipnet_edge.train "${C[@]}" "${U_ARGS[@]}" --unlabelled-ratio 0.25 --qat \
        --init $S/final.safetensors --epochs 3 --lr 1e-6 --lr-steps --out $S-qm
    [ -f $S-qm-ranges/qat.safetensors ] || python -m pipnet_edge.calibration.activation_ranges --qat $S-qm/qat.safetensors \
        --data "$DATA/train" --out $S-qm-ranges/qat.safetensors
    [ -f $R/ship16/$m/${name}_tflite-int8.tflite ] || python -m pipnet_edge.export --target tflite-int8 \
        --weights $S/final.safetensors --qat-weights $S-qm-ranges/qat.safetensors --name $name --out $R/ship16/$m
}
models=("$@"); [ ${#models[@]} -gt 0 ] || models=(lite default)
for m in "${models[@]}"; do
    case $m in
        lite) ship lite $R/lite-full-polish/final.safetensors $R/lite-ship-m2/final.safetensors pipnet_lite_300w68 ;;
        default) ship default $R/default-ship-polish/final.safetensors $R/default-ship-m2/final.safetensors \
            pipnet_mbv2_300w68 ;;
        *) echo "unknown model $m" >&2; exit 2 ;;
    esac
done

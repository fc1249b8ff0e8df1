#!/usr/bin/env bash
# Rebuild the bundled lite model (the commands behind the README's lite figures).
# MobileNetV2 cut at stride 16 (ImageNet features.0-13) with a 512-channel 1x1 projection, 112x112 input
# (7x7 map), num_nb 5: about 77 M MAC, 0.8-0.9 ms per face in INT8 TFLite at 1 thread on the 2-core x86 VM.
# Needs ../shared/data/300w/train and the torchvision MobileNetV2 ImageNet weights; the test set is only evaluated.
# About 18 min (step 1's plain check) + 2 x 45 min (the STC check and the shipped run) + 2 x 3 min (the polish) of
# training and 2 min of QAT per model on 2 CPU cores; step 2 (3 rounds, pseudo-labels included) took 45 min on 2026-11-30.
# Every training run ends by measuring the model's per-landmark bias on its training faces and storing it in the spec
# (the decode subtracts it; README "The point bias"). The bundled run's rounds 1-3 predate that (their teacher carried no
# bias), its polish and QAT measured theirs (2026-11-30 19:00 UTC); a rerun's teachers carry theirs and give pseudo-labels
# with the bias removed, so it will not match the bundled weights bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
ARCH=(--backbone mobilenet_v2_s16_c512 --input-size 112 --net-stride 16 --num-nb 5
      --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth --epochs 60 --lr-steps 45 55 --bf16 --threads 2 --seed 0)
# 1. the recipe check: 10 % of the training faces (seeded) held out, validation NME every 5 epochs
#    (compare with runs/lite256, runs/lite160d: the same command with the README's other architectures)
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 5 "${ARCH[@]}" --out runs/lite512
#    the self-training recipe on the same split (the unlabelled faces' validation share is held out by the trainer)
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 5 "${ARCH[@]}" \
    --unlabelled "${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}" --curriculum stc --rounds 2 --curriculum-start 0.5 \
    --confidence nrm --fixed-teacher --round-init previous --round-epochs 20 --out runs/lite-stc
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 5 "${ARCH[@]}" --epochs 20 --lr-steps 15 18 \
    --unlabelled "${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}" --curriculum none \
    --teacher runs/lite-stc/final.safetensors --init runs/lite-stc/final.safetensors --out runs/lite-stc-r3
#    then 10 epochs on the labelled faces alone at lr 1e-5 (the polish, added 2026-11-30 16:00 UTC), and QAT from each:
#    validation NME 3.668 -> 3.628 (float), 3.751 -> 3.737 (QAT); 665 MTFL validation faces 5.102 -> 4.874 % (float),
#    4.934 -> 4.837 % (QAT) (`python -m pipnet_edge.evaluate --model M --five-point runs/val665_5pt.txt --five-point-all`)
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 2 --init runs/lite-stc-r3/final.safetensors \
    --epochs 10 --lr 1e-5 --lr-steps --bf16 --threads 2 --seed 0 --out runs/lite-polish
#    the polish with flips off (2026-11-30 19:00 UTC, once training measured the point bias): validation NME with the
#    bias subtracted 3.533 -> 3.506 (float), 3.548 -> 3.514 (QAT, flips on as below); 665 MTFL validation faces
#    4.735 -> 4.730 (float), 4.683 -> 4.664 % (QAT); QAT with flips off too: 3.505 / 4.711 %, not taken
python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 2 --init runs/lite-stc-r3/final.safetensors \
    --epochs 10 --lr 1e-5 --lr-steps --bf16 --threads 2 --seed 0 --flip-prob 0 --out runs/lite-polish-noflip
for src in lite-stc-r3 lite-polish lite-polish-noflip; do
    python -m pipnet_edge.train --data "$DATA/train" --val-fraction 0.1 --val-every 3 --init runs/$src/final.safetensors \
        --qat --epochs 3 --lr 1e-5 --lr-steps --threads 2 --seed 0 --out runs/qat-$src
done
# 2. the shipped float model: self-training with curriculum (STC) on all 2,012 training faces + the MTFL unlabelled
#    faces (6,650: all but the misaligned net_7876 faces and the 1,000 held-out check faces, which the trainer always
#    leaves out; without --val-fraction it keeps no validation share), chosen on the held-out faces of step 1's split (runs/lite-stc, runs/lite-stc-r3: validation NME
#    3.746 plain -> 3.686 after rounds 1-2 -> 3.668 after round 3):
#    rounds 1-2: pseudo-labels by the bundled default float model (fixed teacher; the bundled lite model was taught by
#    the default model of commit 157fc39, before its low-resolution fine-tune: `git show 157fc39:pipnet_edge/assets/
#    pipnet_mbv2_300w68_fp16.safetensors > runs/teacher.safetensors` and `--teacher runs/teacher.safetensors` to repeat it), its most confident half by NRM
#    agreement in round 1 (60 epochs from ImageNet), all of them in round 2 (20 epochs from round 1's student)
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
python -m pipnet_edge.train --data "$DATA/train" "${ARCH[@]}" --unlabelled "$U" --curriculum stc --rounds 2 \
    --curriculum-start 0.5 --confidence nrm --fixed-teacher --round-init previous --round-epochs 20 --out runs/lite-stc-full
#    round 3: the student labels every unlabelled face for itself, 20 epochs from its own weights
python -m pipnet_edge.train --data "$DATA/train" "${ARCH[@]}" --epochs 20 --lr-steps 15 18 --unlabelled "$U" \
    --curriculum none --teacher runs/lite-stc-full/final.safetensors --init runs/lite-stc-full/final.safetensors \
    --out runs/lite-r3
#    the polish: 10 epochs on the labelled faces alone at lr 1e-5, flips off (the bundled run: runs/s9/lite-nf from
#    runs/lite-stc-full-r3, then runs/s9/lite-nf-qat; it replaced the flip-polished model after beating its QAT model on the
#    665 MTFL validation faces, 4.660 vs 4.676 % with both biases subtracted)
python -m pipnet_edge.train --data "$DATA/train" --init runs/lite-r3/final.safetensors --epochs 10 --lr 1e-5 --lr-steps \
    --bf16 --threads 2 --seed 0 --flip-prob 0 --out runs/lite   # the architecture comes from --init
# 3. quantization-aware fine-tuning (ReLU6 fused into its convolution, the default --qat-scheme), 3 epochs lr 1e-5, all training faces
python -m pipnet_edge.train --data "$DATA/train" --init runs/lite/final.safetensors \
    --qat --epochs 3 --lr 1e-5 --lr-steps --threads 2 --seed 0 --out runs/lite-qat
# 4. accuracy on the 554 test faces, float and QAT
python -m pipnet_edge.evaluate --model runs/lite/final.safetensors --data "$DATA/test" --out runs/eval-lite-float
python -m pipnet_edge.evaluate --model runs/lite-qat/qat.safetensors --data "$DATA/test" --out runs/eval-lite-qat
# 5. faces turned away (2026-12-06, issue 29; docs/experiments/2026-12-06-large-pose, each choice made on the split):
#    10 epochs from step 2's polished model on pseudo-labels by the default float model, anchored to the MTFL faces'
#    five human points (--anchor 1), lr 5e-5 (x0.1 after 7), flips off; two 10-epoch polishes from it at lr 1e-5, one
#    on the labelled faces alone and one with 8 anchored faces beside each 16 labelled, averaged 0.25 / 0.75
#    (pipnet_edge.training.weight_average); QAT with 4 anchored faces beside each 16 labelled (3 epochs at lr 1e-6,
#    distilled from the average), then the activation ranges. The bundled files since the third re-bundle of
#    2026-12-06 are these steps run on the bundled files of commit e25d31f (steps 3, 13 and 16 of that record).
T=${TEACHER:-runs/mbv2-nf/final.safetensors}  # the default model's float weights (build_default_model.sh step 3b)
python -m pipnet_edge.train --data "$DATA/train" --init runs/lite/final.safetensors --unlabelled "$U" --curriculum none \
    --teacher $T --anchor 1 --epochs 10 --lr 5e-5 --lr-steps 7 --flip-prob 0 --bf16 --threads 2 --seed 0 --out runs/lite-anchor
python -m pipnet_edge.train --data "$DATA/train" --init runs/lite-anchor/final.safetensors --epochs 10 --lr 1e-5 --lr-steps \
    --flip-prob 0 --bf16 --threads 2 --seed 0 --out runs/lite-anchor-polish
python -m pipnet_edge.train --data "$DATA/train" --init runs/lite-anchor/final.safetensors --unlabelled "$U" \
    --curriculum none --teacher $T --anchor 1 --unlabelled-ratio 0.5 --epochs 10 --lr 1e-5 --lr-steps --flip-prob 0 \
    --bf16 --threads 2 --seed 0 --out runs/lite-anchor-mixed
python -m pipnet_edge.training.weight_average --models runs/lite-anchor-polish/final.safetensors \
    runs/lite-anchor-mixed/final.safetensors --weight 0.75 --data "$DATA/train" --out runs/lite-soup/final.safetensors
python -m pipnet_edge.train --data "$DATA/train" --init runs/lite-soup/final.safetensors --unlabelled "$U" \
    --curriculum none --teacher $T --anchor 1 --unlabelled-ratio 0.25 --qat --epochs 3 --lr 1e-6 --lr-steps --threads 2 \
    --seed 0 --out runs/lite-soup-qat
python -m pipnet_edge.calibration.activation_ranges --qat runs/lite-soup-qat/qat.safetensors --data "$DATA/train" \
    --out runs/lite-soup-qat-ranges/qat.safetensors
# 6. every target, then into the package
python -m pipnet_edge.export --target all --weights runs/lite-soup/final.safetensors \
    --qat-weights runs/lite-soup-qat-ranges/qat.safetensors --name pipnet_lite_300w68 --out exports --data "$DATA/test" \
    --data-limit 0 --json exports/export-lite.json
python scripts/bundle_model.py --model lite --float runs/lite-soup/final.safetensors \
    --qat runs/lite-soup-qat-ranges/qat.safetensors --tflite-int8 exports/pipnet_lite_300w68_tflite-int8.tflite

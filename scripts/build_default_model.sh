#!/usr/bin/env bash
# Rebuild the bundled default model from scratch (the commands behind the README's figures).
# Needs ../shared/data/300w/train and the torchvision MobileNetV2 ImageNet weights. Never uses the test set
# for anything but the final evaluation. On 2 CPU cores: about 75 min of float training and 4 min of fine-tuning (the
# teacher), 80 min of self-training, 10 min of polish (the shipped float model),
# 15-18 min of QAT and 2 min of range estimation.
# Every training run ends by measuring the model's per-landmark bias on its training faces and storing it in the spec
# (the decode subtracts it; README "The point bias"). The bundled files (2026-12-01) are steps 3b, 4 and 4b as written
# here, run as runs/s9/default-nf (2026-11-30), runs/s10/full-r4-C (docs/experiments/2026-12-01-default-recipe/04_qat_gentler.sh) and
# runs/s10/full-r5-C from runs/mbv2-stc, whose teacher had no measured bias then; a rerun's teachers carry theirs
# and give pseudo-labels with the bias removed, so a rerun will not match the bundled weights bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
# 1. float model: 34 epochs, lr 1e-4, x0.1 at epochs 26 and 31, bf16 autocast
python -m pipnet_edge.train --data "$DATA/train" --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth \
    --out runs/mbv2 --epochs 34 --lr-steps 26 31 --bf16 --threads 2 --seed 0
# 2. in the wild: 4 epochs at lr 1e-5 from step 1's weights with low-resolution augmentation (half the crops shrunk
#    to 32-72 px and scaled back up, as the 80-px MTFL faces are), chosen on the 665 MTFL validation faces
#    (5.283 -> 5.036 % 5-point NME; plain fine-tune 5.257 %, self-training on its own pseudo-labels 5.150 %;
#    the README's "Self-training" section has the probe commands)
python -m pipnet_edge.train --data "$DATA/train" --init runs/mbv2/final.safetensors --epochs 4 --lr 1e-5 --lr-steps \
    --lowres-prob 0.5 --bf16 --threads 2 --seed 0 --out runs/mbv2-wild
# 3. self-training with curriculum (the lite model's recipe, chosen on its validation faces): a fresh student from
#    ImageNet weights on the 2,012 labelled faces + the 6,650 MTFL pool faces (never the 1,000 held out), pseudo-labelled
#    by step 2's model (fixed teacher); round 1: 30 epochs on its most confident half (NRM agreement), round 2: 6 epochs
#    from round 1 on all of them: the bundled float model (until 2026-11-30 13:30 UTC it was step 2's model)
U=${UNLABELLED:-../shared/data/mtfl/train_5pt.txt}
python -m pipnet_edge.train --data "$DATA/train" --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth \
    --epochs 30 --lr-steps 22 27 --bf16 --threads 2 --seed 0 --unlabelled "$U" --curriculum stc --rounds 2 \
    --curriculum-start 0.5 --confidence nrm --fixed-teacher --teacher runs/mbv2-wild/final.safetensors \
    --round-init previous --round-epochs 6 --out runs/mbv2-stc
# 3b. the polish (the lite model's last float step): 10 epochs on the labelled faces alone at lr 1e-5 with flips off,
#    chosen on the validation split (docs/experiments/2026-12-01-default-recipe): the bundled float model since 2026-12-01
python -m pipnet_edge.train --data "$DATA/train" --init runs/mbv2-stc/final.safetensors --epochs 10 --lr 1e-5 --lr-steps \
    --flip-prob 0 --bf16 --threads 2 --seed 0 --out runs/mbv2-nf
# 4. quantization-aware fine-tuning (PT2E fake quantization, per-channel int8 weights, int8 activations, ReLU6 fused
#    into its convolution: the default --qat-scheme), 3 epochs at lr 1e-6, distilled from step 3b's float model
#    (weight 0.5), no low-resolution augmentation: chosen on the validation split (docs/experiments/2026-12-01-default-recipe:
#    300W validation 3.293 vs 3.351 % for the recipe before, lr 1e-5 with --lowres-prob 0.5)
python -m pipnet_edge.train --data "$DATA/train" --init runs/mbv2-nf/final.safetensors --qat \
    --epochs 3 --lr 1e-6 --lr-steps --teacher runs/mbv2-nf/final.safetensors --out runs/mbv2-qat --threads 2 --seed 0
# 4b. the activation ranges re-estimated on 256 training faces as the mean of each face's min / max (NNCF's
#    estimator) instead of QAT's moving average of batch extremes; point bias measured again. Chosen on the split
#    (300W validation 3.293 -> 3.253 %, float 3.233 %)
python -m pipnet_edge.calibration.activation_ranges --qat runs/mbv2-qat/qat.safetensors --data "$DATA/train" \
    --out runs/mbv2-qat-ranges/qat.safetensors
# 4c. faces turned away (2026-12-06, issue 29; docs/experiments/2026-12-06-large-pose, each choice made on the lite
#    model's split): 10 epochs from step 3b's model on its own pseudo-labels anchored to the MTFL faces' five human
#    points (--anchor 1), lr 5e-5 (x0.1 after 7), flips off; two 10-epoch polishes from it at lr 1e-5, one on the
#    labelled faces alone and one with 8 anchored faces beside each 16 labelled, averaged 0.25 / 0.75
#    (pipnet_edge.training.weight_average); QAT with 4 anchored faces beside each 16 labelled (3 epochs at lr 1e-6,
#    distilled from the average) and the ranges as in 4b. The bundled files since 2026-12-07 (the fourth re-bundle)
#    are these steps run on the bundled files of commit e25d31f (steps 3, 6, 11, 13, 16 and 30 of that record: the
#    anchored run's epoch 5 ran at 5e-6, then it was resumed for epochs 6-10; the polishes ran 5 epochs, then were
#    resumed for epochs 6-10; the 10-epoch polishes were chosen on the default model's split, step 29)
T=runs/mbv2-nf/final.safetensors
python -m pipnet_edge.train --data "$DATA/train" --init $T --unlabelled "$U" --curriculum none --teacher $T --anchor 1 \
    --epochs 10 --lr 5e-5 --lr-steps 7 --flip-prob 0 --unlabelled-separate-pass --bf16 --threads 2 --seed 0 \
    --out runs/mbv2-anchor
python -m pipnet_edge.train --data "$DATA/train" --init runs/mbv2-anchor/final.safetensors --epochs 10 --lr 1e-5 \
    --lr-steps --flip-prob 0 --bf16 --threads 2 --seed 0 --out runs/mbv2-anchor-polish
python -m pipnet_edge.train --data "$DATA/train" --init runs/mbv2-anchor/final.safetensors --unlabelled "$U" \
    --curriculum none --teacher $T --anchor 1 --unlabelled-ratio 0.5 --epochs 10 --lr 1e-5 --lr-steps --flip-prob 0 \
    --bf16 --threads 2 --seed 0 --out runs/mbv2-anchor-mixed
python -m pipnet_edge.training.weight_average --models runs/mbv2-anchor-polish/final.safetensors \
    runs/mbv2-anchor-mixed/final.safetensors --weight 0.75 --data "$DATA/train" --out runs/mbv2-soup/final.safetensors
python -m pipnet_edge.train --data "$DATA/train" --init runs/mbv2-soup/final.safetensors --unlabelled "$U" \
    --curriculum none --teacher $T --anchor 1 --unlabelled-ratio 0.25 --qat --epochs 3 --lr 1e-6 --lr-steps --threads 2 \
    --seed 0 --out runs/mbv2-soup-qat
python -m pipnet_edge.calibration.activation_ranges --qat runs/mbv2-soup-qat/qat.safetensors --data "$DATA/train" \
    --out runs/mbv2-soup-qat-ranges/qat.safetensors
FLOAT=runs/mbv2-soup/final.safetensors QAT=runs/mbv2-soup-qat-ranges/qat.safetensors  # what steps 5-7 ship
# 5. accuracy on the 554 test faces (300W common set), float and QAT
python -m pipnet_edge.evaluate --model $FLOAT --data "$DATA/test" --out runs/eval-float
python -m pipnet_edge.evaluate --model $QAT --data "$DATA/test" --out runs/eval-qat
# 6. every target (INT8 from the QAT model), with the accuracy summary on all test faces
python -m pipnet_edge.export --target all --weights $FLOAT \
    --qat-weights $QAT --name pipnet_mbv2_300w68 --out exports \
    --data "$DATA/test" --data-limit 0 --json exports/export.json
# 7. into the package
python scripts/bundle_model.py --model default --float $FLOAT --qat $QAT \
    --tflite-int8 exports/pipnet_mbv2_300w68_tflite-int8.tflite

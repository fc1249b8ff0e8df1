#!/usr/bin/env bash
# Session 10: a split-trained default-architecture model (201 of the 2,012 training faces held out, --val-fraction 0.1
# --seed 0) to choose the default model's last steps on: no-flip polish or not, QAT with or without low-res augmentation.
set -euo pipefail
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
D=../shared/data/300w/train; R=runs/s10; S="--val-fraction 0.1 --seed 0 --threads 2 --no-progress"
# base: step 1 of the default recipe (plain float, flips on) on the split
[ -f $R/base/final.safetensors ] || python -m pipnet_edge.train --data $D --pretrained ../shared/pretrained/mobilenet_v2-b0353104.pth \
    --out $R/base --epochs 34 --lr-steps 26 31 --bf16 --val-every 34 $S
# the no-flip polish (as runs/s9/default-nf on all faces)
[ -f $R/nf/final.safetensors ] || python -m pipnet_edge.train --data $D --init $R/base/final.safetensors --epochs 10 --lr 1e-5 --lr-steps \
    --bf16 --flip-prob 0 --val-every 10 --out $R/nf $S
touch $R/float.done
for init in base nf; do
  for lr in 0.5 0; do
    o=$R/qat-$init-lr$lr
    [ -f $o/qat.safetensors ] || python -m pipnet_edge.train --data $D --init $R/$init/final.safetensors --qat --epochs 3 --lr 1e-5 --lr-steps \
        --lowres-prob $lr --val-every 3 --out $o $S
  done
done
touch $R/qat.done
python benchmarks/point_bias_probe.py $R/base/final.safetensors $R/nf/final.safetensors $R/qat-*/qat.safetensors \
    --data $D --val-fraction 0.1 --seed 0 --five-point runs/val665_5pt.txt --json $R/probe.json
touch $R/all.done

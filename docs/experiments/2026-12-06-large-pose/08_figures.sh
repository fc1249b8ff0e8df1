#!/usr/bin/env bash
# Step 8 of the 2026-12-06 large-pose experiment (README.md here): the figures of the re-bundled models (after
# steps 3, 6 and 7 and scripts/bundle_model.py): each card's four accuracy figures (the commands of
# pipnet_edge/assets/registry.py), the large-pose benchmark (by pose on the 1,000 held-out MTFL faces and the point
# scores); the face-presence re-check is left for later (last line). Writes runs/pose/eval/bundled-*.json and benchmarks/results/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. .venv/bin/activate
DATA=${DATA:-../shared/data/300w}
HELD_OUT=${HELD_OUT:-../shared/data/mtfl/train_5pt.txt}
E=runs/pose/eval
mkdir -p $E
for m in default lite; do
    python -m pipnet_edge.evaluate --model $m --data "$DATA/test" --json $E/bundled-$m-test.json 2>&1 | tr '\r' '\n' | tail -1
    python -m pipnet_edge.evaluate --model $m-fp16 --data "$DATA/test" --json $E/bundled-$m-fp16-test.json 2>&1 | tr '\r' '\n' | tail -1
    python -m pipnet_edge.evaluate --model $m-qat --data "$DATA/test" --json $E/bundled-$m-qat-test.json 2>&1 | tr '\r' '\n' | tail -1
    python -m pipnet_edge.evaluate --model $m --five-point "$HELD_OUT" --json $E/bundled-$m-5pt.json 2>&1 | tr '\r' '\n' | grep "5-point"
    python -m pipnet_edge.evaluate --model $m-fp16 --five-point "$HELD_OUT" --json $E/bundled-$m-fp16-5pt.json 2>&1 | tr '\r' '\n' | grep "5-point"
done
cp $E/bundled-*.json docs/experiments/2026-12-06-large-pose/results/
python -m benchmarks large_pose
# python -m benchmarks face_presence  # the thresholds' re-check: about 50 min here, not run in this record's session

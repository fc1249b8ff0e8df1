"""Re-estimate a QAT model's activation ranges as the mean of per-face min / max (NNCF's default estimator).

A record, not a tool: the prototype that made ``runs/s10/r5-C`` for rule 5 (step 5 of this experiment), kept because
it is the only code that draws its faces from the *split's* 1,811 training faces (``--val-fraction 0.1 --seed 0``);
the package's ``python -m pipnet_edge.quantization.ranges`` (what it became, used on the full-data model) samples all
of ``--data``. The algorithm is as run; since then only the layout changed (``main()``, ``DATA`` from the
environment like the shell scripts, ``quantizer_groups`` imported from the package, where it moved from
``benchmarks/int8_sensitivity.py``). Run from the repository root with the package installed (``scripts/setup.sh``):

    python docs/experiments/2026-12-01-default-recipe/ranges_prototype.py IN.safetensors OUT.safetensors 256 mean

``mean``: one face at a time, the mean of each face's own min / max (what rule 5 used); any other mode: batches of 16
faces, the mean of each batch's min / max. The point bias is dropped from the spec (``point_bias_probe`` measures it
again on the split's training faces).
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import torch

from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation.runner import read_face_crops
from pipnet_edge.quantization import QATModel
from pipnet_edge.quantization.ranges import quantizer_groups
from pipnet_edge.training.trainer import split_validation


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    qat, out, count, mode = argv[0], argv[1], int(argv[2]), argv[3]
    data = os.path.join(os.environ.get("DATA", "../shared/data/300w"), "train")
    m = QATModel.load(qat)
    g = m.graph
    groups = quantizer_groups(g)
    acts = [t for k, v in groups.items() if k != "weights" for t in v]
    train, _ = split_validation(list(load_faces(data)), 0.1, 0)
    rng = np.random.default_rng(0)
    recs = [train[i] for i in rng.choice(len(train), count, replace=False)]
    m.eval()
    fqs = [g.get_submodule(t) for t in acts]
    for fq in fqs:
        ob = fq.activation_post_process
        ob.min_val.fill_(math.inf)
        ob.max_val.fill_(-math.inf)
        fq.enable_observer()
    bs = 1 if mode == "mean" else 16
    with torch.no_grad():
        k = 0
        for i in range(0, count, bs):
            crops, _ = read_face_crops(recs[i:i + bs], m.spec)
            k += 1
            for fq in fqs:
                fq.activation_post_process.averaging_constant = 1.0 / k
            g(torch.from_numpy(crops).float())
    for fq in fqs:
        fq.disable_observer()
        fq.activation_post_process.averaging_constant = 0.01
    m.spec = m.spec.replace(point_bias=None)
    m.save(out)
    print("saved", out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

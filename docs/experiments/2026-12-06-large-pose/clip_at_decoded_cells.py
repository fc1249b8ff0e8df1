"""Step 20's diagnosis (README.md here): how often each head's value at the decoded cell (the score map's argmax of
each point) lies outside the INT8 range of that head's quantizer, on 150 frontal (proxy < 0.10) and 150 turned
(proxy >= 0.35) non-held-out MTFL faces (training pool and val665; never the held-out 1,000), for QAT files given
as arguments. Run from the repository root:

    python docs/experiments/2026-12-06-large-pose/clip_at_decoded_cells.py \
        pipnet_edge/assets/pipnet_mbv2_300w68_qat.safetensors pipnet_edge/assets/pipnet_lite_300w68_qat.safetensors

Heads 1-4: x offset, y offset, neighbours' x offsets, neighbours' y offsets (channel i * num_nb + j).
"""
import sys

import numpy as np
import torch

from pipnet_edge.data.mtfl import load_unlabelled_faces
from pipnet_edge.evaluation.runner import read_face_crops
from pipnet_edge.five_point import pose_proxy
from pipnet_edge.quantization.qat_model import QATModel
from pipnet_edge.quantization.ranges import quantizer_groups

torch.set_num_threads(2)
recs = load_unlabelled_faces("../shared/data/mtfl/train_5pt.txt")
pp = pose_proxy(np.stack([r.points for r in recs]))
rng = np.random.default_rng(1)
fr = rng.choice(np.where(pp < 0.10)[0], 150, replace=False); tu = rng.choice(np.where(pp >= 0.35)[0], 150, replace=False)
for qat_path in sys.argv[1:]:
    m = QATModel.load(qat_path); m.eval(); g = m.graph
    heads = quantizer_groups(g)["heads"][:5]
    rngs = [(float(g.get_submodule(t).activation_post_process.min_val), float(g.get_submodule(t).activation_post_process.max_val)) for t in heads]
    for t in quantizer_groups(g)["heads"] + [t for gr, ns in quantizer_groups(g).items() if gr != "weights" for t in ns]:
        g.get_submodule(t).disable_fake_quant()
    print(qat_path, "head ranges", [(round(a, 2), round(b, 2)) for a, b in rngs])
    for label, idx in (("frontal", fr), ("turned", tu)):
        crops, _ = read_face_crops([recs[i] for i in idx], m.spec)
        outs = []
        with torch.no_grad():
            for k in range(0, len(crops), 16):
                o = m(torch.from_numpy(np.ascontiguousarray(crops[k:k+16], np.float32)))
                outs.append([x.numpy() for x in o])
        outs = [np.concatenate([o[j] for o in outs]) for j in range(len(outs[0]))]

        score = outs[0]  # find layout
        # assume NHWC-ish: (B, H, W, N) or (B, N, H, W)
        if score.shape[1] == 68: sc = score.reshape(len(score), 68, -1); lay = "nchw"
        else: sc = np.moveaxis(score, -1, 1).reshape(len(score), 68, -1); lay = "nhwc"
        am = sc.argmax(-1)
        line = []
        for j in range(1, 5):
            o = outs[j]
            o = o.reshape(len(o), o.shape[1], -1) if lay == "nchw" else np.moveaxis(o, -1, 1).reshape(len(o), o.shape[-1], -1)
            n = o.shape[1]
            if n == 68:
                v = np.take_along_axis(o, am[:, :, None], -1)[..., 0]
            else:  # neighbours: (68*nb) channels
                nb = n // 68
                v = np.take_along_axis(o.reshape(len(o), 68, nb, -1), am[:, :, None, None], -1)[..., 0]
            lo, hi = rngs[j]
            clip = ((v < lo) | (v > hi)).mean()
            line.append(f"head{j} clip {100*clip:.2f}% maxabs {np.abs(v).max():.2f}")
        print(f"  {label}: " + "; ".join(line))

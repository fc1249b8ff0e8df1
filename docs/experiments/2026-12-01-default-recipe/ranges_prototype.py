"""Re-estimate a QAT model's activation ranges as the mean of per-face min / max (NNCF's default estimator)."""
# As run for rule 5 (then `quantizer_groups` came from benchmarks/int8_sensitivity.py; it now lives in the package).
# Usage: python ranges_prototype.py IN.safetensors OUT.safetensors 256 mean   (from the repository root)
import sys, math, torch, numpy as np
from pipnet_edge.quantization.ranges import quantizer_groups
from pipnet_edge.quantization import QATModel
from pipnet_edge.data.annotations import load_faces
from pipnet_edge.evaluation.runner import read_face_crops
from pipnet_edge.training.trainer import split_validation
qat, out, count, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
m = QATModel.load(qat); g = m.graph
groups = quantizer_groups(g)
acts = [t for k, v in groups.items() if k != "weights" for t in v]
train, _ = split_validation(list(load_faces("../shared/data/300w/train")), 0.1, 0)
rng = np.random.default_rng(0)
recs = [train[i] for i in rng.choice(len(train), count, replace=False)]
m.eval()
fqs = [g.get_submodule(t) for t in acts]
for fq in fqs:
    ob = fq.activation_post_process
    ob.min_val.fill_(math.inf); ob.max_val.fill_(-math.inf)
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

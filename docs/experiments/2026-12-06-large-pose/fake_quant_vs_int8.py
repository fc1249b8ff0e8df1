"""Step 26's diagnosis (README.md here): how far a QAT model's fake quantization is from its INT8 TFLite file, against
how far two INT8 kernels are from each other. On 32 300W training faces (and 32 val665 faces, non-held-out MTFL):
each head's mean difference in output steps between the fake-quant model, the TFLite file on XNNPACK (the default
interpreter) and on TFLite's reference kernels; and the mean distance of the decoded points (crop px). Run from the
repository root:

    python docs/experiments/2026-12-06-large-pose/fake_quant_vs_int8.py default [--fused-weight-grids]

``--fused-weight-grids`` loads the QAT model as pipnet-edge <= 0.1.0 did (torch's fused fake-quant kernel's weight
grids, see pipnet_edge.quantization.quantizer.export_grid_weights).
"""
import sys

import numpy as np
import torch

import pipnet_edge.quantization.quantizer as quantizer

if "--fused-weight-grids" in sys.argv:
    quantizer.export_grid_weights = lambda config: config  # the fused kernel's grids, kept as the file holds them

from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402

from pipnet_edge.assets import bundled_model_path  # noqa: E402
from pipnet_edge.data.annotations import load_faces  # noqa: E402
from pipnet_edge.data.mtfl import load_held_out_faces  # noqa: E402
from pipnet_edge.evaluation import open_predictor  # noqa: E402
from pipnet_edge.evaluation.runner import read_face_crops  # noqa: E402
from pipnet_edge.runtime.backends.base import dequantize, quantize  # noqa: E402
from pipnet_edge.runtime.decode import decode_heads  # noqa: E402

torch.set_num_threads(2)
name = sys.argv[1]
fq = open_predictor(bundled_model_path(f"{name}-qat"))
if "--fused-weight-grids" in sys.argv:  # the grids the file holds against the ones the export writes
    from pipnet_edge.quantization.ranges import quantizer_groups

    graph = fq.backend.model.graph
    channels = one_signed = raised = 0
    for t in quantizer_groups(graph)["weights"]:
        w = graph.get_submodule(t)
        channels += w.scale.numel()
        one_signed += int((w.zero_point != 0).sum())
        raised += int((w.scale > w.calculate_qparams()[0] * 1.01).logical_and(w.zero_point == 0).sum())
    print(f"{name}: {channels} weight channels; on the fused kernel's grids {one_signed} one-signed (asymmetric grid), "
          f"{raised} others with a step raised (to 6.1e-5) against the exported grid's")
tables = fq.tables
path = str(bundled_model_path(name))


def run_tflite(crops, resolver):
    it = Interpreter(path, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    ind = it.get_input_details()[0]
    s, z = ind["quantization"]
    outs = {d["name"].replace("serving_default_", "").replace("_output", ""): d for d in it.get_output_details()}
    res = {k: [] for k in outs}
    for c in crops:
        it.set_tensor(ind["index"], quantize(c[None], s, z, np.int8))
        it.invoke()
        for k, d in outs.items():
            res[k].append(dequantize(it.get_tensor(d["index"]), *d["quantization"]))
    return {k: np.concatenate(v) for k, v in res.items()}, {k: d["quantization"][0] for k, d in outs.items()}


sets = {"300W training": load_faces("../shared/data/300w/train")[:32],
        "val665": load_held_out_faces("runs/pose/val665_5pt.txt", None)[:32]}
for label, recs in sets.items():
    crops, _ = read_face_crops(recs, fq.spec)
    hq = fq.backend.run(crops)
    xnn, scales = run_tflite(crops, OpResolverType.AUTO)
    ref, _ = run_tflite(crops, OpResolverType.BUILTIN_REF)
    print(f"{name}, {label} ({len(recs)} faces): mean |difference| in output steps")
    for k in hq:
        print(f"  {k:8s} fake-quant vs XNNPACK {np.abs(hq[k] - xnn[k]).mean() / scales[k]:.3f}, "
              f"fake-quant vs reference {np.abs(hq[k] - ref[k]).mean() / scales[k]:.3f}, "
              f"XNNPACK vs reference {np.abs(xnn[k] - ref[k]).mean() / scales[k]:.3f}")
    size = fq.spec.input_size
    p = {k: decode_heads(v, tables).points * size for k, v in (("fq", hq), ("xnn", xnn), ("ref", ref))}
    d = lambda a, b: np.linalg.norm(p[a] - p[b], axis=-1).mean()  # noqa: E731
    print(f"  points: fake-quant vs XNNPACK {d('fq', 'xnn'):.3f} crop px, XNNPACK vs reference {d('xnn', 'ref'):.3f}")

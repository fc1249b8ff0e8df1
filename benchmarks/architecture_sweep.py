"""Latency of candidate PIPNet architectures as full-INT8 TFLite, before training any of them.

    python benchmarks/architecture_sweep.py --out benchmarks/results/architecture_sweep.json

Each candidate (backbone, input size, net stride, num_nb) is built with random weights,
quantized with the same PT2E quantizer as our INT8 exports (calibrated on random pixels:
latency does not depend on the values), converted with litert-torch and timed with
ai-edge-litert (XNNPACK) at 1 thread, batch 1, median of ``--runs`` calls. MACs are counted
from the torch model (convolutions and linear layers). This is how the lite model's
architecture was narrowed down: the 1.0 ms budget allows about 80-90 M MAC on this CPU, and
MobileNetV3's squeeze-excite and hard-swish blocks cost far more per MAC in INT8 than
MobileNetV2's plain blocks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (backbone, input size, net stride, num_nb)
CANDIDATES = [
    ("mobilenet_v2", 256, 32, 10),  # the default model
    ("mobilenet_v2_s16_c128", 128, 16, 10),  # the first lite model (session 2)
    ("mobilenet_v2_s16_c128", 128, 16, 5),
    ("mobilenet_v2_s16_c128", 112, 16, 10),
    ("mobilenet_v2_s16_c128", 144, 16, 10),
    ("mobilenet_v2_s16_c128", 160, 16, 10),
    ("mobilenet_v2_s16_c256", 128, 16, 10),
    ("mobilenet_v2_s16_c256", 112, 16, 10),
    ("mobilenet_v2_s16_c512", 112, 16, 5),  # the lite model
    ("mobilenet_v2_s16_c512", 112, 16, 10),
    ("mobilenet_v2_s16_c768", 112, 16, 5),
    ("mobilenet_v2_s16_160d_c256", 96, 16, 10),
    ("mobilenet_v3_small", 160, 32, 10),
    ("mobilenet_v3_small", 192, 32, 10),
    ("mobilenet_v3_small", 256, 32, 10),
    ("mobilenet_v3_large", 160, 32, 10),
]


def count_macs(model, size: int) -> int:
    import torch
    from torch import nn

    total = 0

    def hook(m, _inputs, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        else:
            total += m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total


def int8_tflite(model, path: Path) -> None:
    import torch
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from pipnet_edge.converters.quantized import QuantizedGraph
    from pipnet_edge.converters.tflite import export_tflite_int8
    from pipnet_edge.training.qat import capture, make_quantizer

    size = model.spec.input_size
    quantizer = make_quantizer(qat=False)
    gm = capture(model.eval(), train=False)
    move_exported_model_to_eval(gm)
    gm = prepare_pt2e(gm, quantizer)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(4):
            gm(torch.rand(4, size, size, 3, generator=gen) * 255)
    qm = convert_pt2e(gm, fold_quantize=False)
    move_exported_model_to_eval(qm)
    export_tflite_int8(QuantizedGraph(qm, quantizer, model.spec, {}), path, "{}")


def time_tflite(path: Path, runs: int, threads: int = 1) -> tuple[float, float]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    for _ in range(30):
        it.invoke()
    ts = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        it.invoke()
        ts[i] = (time.perf_counter() - t0) * 1000
    return float(np.median(ts)), float(np.percentile(ts, 90))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="benchmarks/results/architecture_sweep.json")
    p.add_argument("--runs", type=int, default=300)
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import torch

    from pipnet_edge.models import create_model
    from pipnet_edge.spec import ModelSpec

    torch.set_num_threads(1)
    mean_face = np.random.default_rng(0).uniform(0.2, 0.8, (68, 2))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backbone, size, stride, nb in CANDIDATES:
            spec = ModelSpec.create("300w-68", mean_face, backbone=backbone, input_size=size, net_stride=stride, num_nb=nb)
            model = create_model(spec).eval()
            path = Path(tmp) / f"{backbone}_{size}_{nb}.tflite"
            int8_tflite(model, path)
            med, p90 = time_tflite(path, args.runs)
            row = {"backbone": backbone, "input": size, "stride": stride, "map": spec.map_size, "num_nb": nb,
                   "mmac": round(count_macs(model, size) / 1e6, 1),
                   "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                   "size_mb": round(path.stat().st_size / 1e6, 2), "ms_1t": round(med, 3), "p90_1t": round(p90, 3)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}, indent=2))
    print("\n| backbone | input | stride (map) | num_nb | M MAC | params M | INT8 MB | ms 1 thread (p90) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backbone']} | {r['input']} | {r['stride']} ({r['map']}x{r['map']}) | {r['num_nb']} | {r['mmac']} | "
              f"{r['params_m']} | {r['size_mb']} | {r['ms_1t']:.2f} ({r['p90_1t']:.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

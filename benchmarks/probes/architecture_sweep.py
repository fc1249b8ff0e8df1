"""Latency of candidate PIPNet architectures as full-INT8 TFLite, before training any of them.

    python -m benchmarks.probes.architecture_sweep          # -> benchmarks/results/probes/architecture_sweep.json, .md
    python -m benchmarks.probes.architecture_sweep --only mobilenet_v2_s16_c512 mobilenet_v2_s16_160d_c512 --out runs/sweep.json

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
import warnings
from pathlib import Path

import numpy as np

from benchmarks.envelope import command_line, make_envelope, markdown_table, result_path, utc_now, write_result
from pipnet_edge.calibration import CalibrationSet
from pipnet_edge.evaluation.timing import TimingStats, time_calls

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
    ("mobilenet_v2_s16_160d_c512", 112, 16, 5),
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


def random_calibration(size: int, count: int = 16) -> CalibrationSet:
    """Random RGB crops: latency does not depend on the calibrated ranges, so no faces are needed."""
    images = np.random.default_rng(0).integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    return CalibrationSet(images, {"source": "random pixels", "count": count, "seed": 0})


def int8_tflite(model, path: Path) -> None:
    """Full-INT8 TFLite by the package's own post-training quantization (``quantize_model``) and converter."""
    from pipnet_edge.converters.tflite import export_tflite_int8
    from pipnet_edge.quantization import quantize_model

    export_tflite_int8(quantize_model(model.eval(), random_calibration(model.spec.input_size)), path, "{}")


def time_tflite(path: Path, runs: int, threads: int = 1) -> TimingStats:
    """The interpreter's ``invoke()`` alone on a zero input (XNNPACK), after 30 warm-up calls."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
    return time_calls(it.invoke, runs, warmup=30)


def render_markdown(envelope: dict) -> str:
    """The table of an architecture_sweep result: one row per candidate."""
    return "\n".join(markdown_table(envelope["results"]["rows"], [
        ("backbone", "backbone", ""), ("input", "input", ""), ("stride (map)", lambda r: f"{r['stride']} ({r['map']}x{r['map']})", ""),
        ("num_nb", "num_nb", ""), ("M MAC", "mmac", ""), ("params M", "params_m", ""), ("INT8 MB", "size_mb", ""),
        ("ms 1 thread (p90)", lambda r: f"{r['ms_1t']:.2f} ({r['p90_1t']:.2f})", "")])) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.probes.architecture_sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(result_path("probes.architecture_sweep")), help="the result file (default: %(default)s)")
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--limit", type=int, default=0, help="first N candidates only (a quick check)")
    p.add_argument("--only", nargs="+", metavar="BACKBONE", help="the candidates with these backbones only")
    args = p.parse_args(argv)
    candidates = [c for c in CANDIDATES if not args.only or c[0] in args.only][: args.limit or None]
    if not candidates:
        p.error(f"no candidate has a backbone in --only {' '.join(args.only)}")
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import torch

    from pipnet_edge.models import create_model
    from pipnet_edge.spec import ModelSpec

    torch.set_num_threads(1)
    date = utc_now()
    mean_face = np.random.default_rng(0).uniform(0.2, 0.8, (68, 2))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backbone, size, stride, nb in candidates:
            spec = ModelSpec.create("300w-68", mean_face, backbone=backbone, input_size=size, net_stride=stride, num_nb=nb)
            model = create_model(spec).eval()
            path = Path(tmp) / f"{backbone}_{size}_{nb}.tflite"
            int8_tflite(model, path)
            t = time_tflite(path, args.runs)
            row = {"backbone": backbone, "input": size, "stride": stride, "map": spec.map_size, "num_nb": nb,
                   "mmac": round(count_macs(model, size) / 1e6, 1),
                   "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
                   "size_mb": round(path.stat().st_size / 1e6, 2), "ms_1t": round(t.median_ms, 3), "p90_1t": round(t.p90_ms, 3)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    env = make_envelope("probes.architecture_sweep", command_line("probes.architecture_sweep", argv), {}, {"runs": args.runs, "rows": rows},
                        date=date, models_note="random weights: no model file")
    write_result(env, args.out)
    print(render_markdown(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())

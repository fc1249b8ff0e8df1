"""The IMX500 driver: run by the Python of the MCT virtual environment (``.venv-mct``), never imported by pipnet-edge.

``pipnet_edge.converters.imx500`` writes a job (JSON: the float weights, the calibration crops, the crops to run
the quantized network on, where to write) and runs ``.venv-mct/bin/python imx500_mct.py run JOB.json``; this script
quantizes the model with Sony's Model Compression Toolkit (MCT) for the IMX500's target platform capabilities,
exports MCT's ONNX (the only ONNX ``imxconv-pt`` accepts) and runs MCT's quantized network (its simulation of the
chip's arithmetic, in torch) on the given crops, writing their five heads. ``imx500_mct.py check`` prints the tool
versions as JSON (what ``scripts/setup_imx500.sh`` and the export's tool check call).

It imports pipnet-edge's model code from the checkout it lives in (``pipnet_edge.models``: torch, numpy,
safetensors; all in ``.venv-mct``) and nothing that needs another package. Two workarounds for torch 2.13, both
local to this process: MCT's ONNX export calls ``torch.onnx.export`` without ``dynamo=False`` (the dynamo exporter
cannot trace MCT's quantizers), and MCT's custom-layer package (edge-mdt-cl) refuses to import without torchvision,
which has no CPU build beside torch 2.13: a stand-in module satisfies its check while it imports, and is removed
before MCT looks for torchvision itself (MCT then leaves out only its data generation, which needs torchvision).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout holding pipnet_edge/
# run as a script, its folder (pipnet_edge/converters: onnx.py, tflite.py ...) would shadow the real onnx package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
SDSP_VERSION = "3.18"  # the newest converter version MCT 2.6 names a TPC for (imxconv-pt 3.19 reads it)
HEAD_NAMES = ("score", "offset_x", "offset_y", "nb_x", "nb_y")  # pipnet_edge.runtime.artifact.HEAD_NAMES


def _import_mct():
    import types

    if "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401  (a real one, where it installs)
        except ImportError:
            stand_in = types.ModuleType("torchvision")
            stand_in.__version__ = "0.28.0"  # edge-mdt-cl asks for >= 0.18 (its NMS layers; not used here)
            sys.modules["torchvision"] = stand_in
            try:
                import edgemdt_cl.pytorch  # noqa: F401
            finally:
                del sys.modules["torchvision"]
    import model_compression_toolkit as mct
    import torch

    if not getattr(torch.onnx.export, "_pipnet_no_dynamo", False):
        export = torch.onnx.export

        def export_no_dynamo(*args, **kwargs):
            kwargs.setdefault("dynamo", False)
            return export(*args, **kwargs)

        export_no_dynamo._pipnet_no_dynamo = True
        torch.onnx.export = export_no_dynamo
    return mct


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("model-compression-toolkit", "mct-quantizers", "edge-mdt-cl", "torch", "onnx", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def check() -> int:
    """Import MCT as the export will (with the workarounds) and print the versions as JSON."""
    info = versions()
    try:
        mct = _import_mct()
        mct.get_target_platform_capabilities_sdsp(SDSP_VERSION)
        info["ok"] = True
    except Exception as exc:  # noqa: BLE001  (any failure is reported to the caller, which names what is missing)
        info["ok"] = False
        info["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(info))
    return 0 if info["ok"] else 1


def imx500_module(weights: str):
    """The network the IMX500 runs: NCHW RGB pixels in [0, 255] in, the five heads NCHW out (a tuple, in
    ``HEAD_NAMES`` order), the pixel normalisation folded into the first convolution (so the chip's input is the
    camera's 8-bit pixels, exactly representable by MCT's input quantizer)."""
    sys.path.insert(0, str(ROOT))
    from pipnet_edge.models.checkpoint import load_model
    from pipnet_edge.models.edge import EdgePIPNet

    model = load_model(weights).float().eval()
    return EdgePIPNet(model, fold_normalization=True).model.eval(), model.spec


def run(job_path: str) -> int:
    import numpy as np
    import torch

    job = json.loads(Path(job_path).read_text())
    torch.set_num_threads(int(job.get("threads") or torch.get_num_threads()))
    torch.manual_seed(int(job.get("seed", 0)))
    report: dict = {"versions": versions(), "sdsp_version": job.get("sdsp_version", SDSP_VERSION)}
    t0 = time.time()
    mct = _import_mct()
    net, _ = imx500_module(job["weights"])
    calib = np.load(job["calib"])  # (K, S, S, 3) uint8 RGB crops
    batch = int(job.get("batch", 16))
    batches = [torch.from_numpy(np.ascontiguousarray(calib[i:i + batch])).permute(0, 3, 1, 2).float()
               for i in range(0, len(calib), batch)]

    def representative():
        for b in batches:
            yield [b]

    tpc = mct.get_target_platform_capabilities_sdsp(report["sdsp_version"])
    core_config = mct.core.CoreConfig()
    quantized, _ = mct.ptq.pytorch_post_training_quantization(net, representative, target_platform_capabilities=tpc,
                                                              core_config=core_config)
    quantized.eval()
    report["quantize_seconds"] = round(time.time() - t0, 1)
    report["calibration_crops"] = len(calib)
    report["method"] = "MCT post-training quantization"

    if job.get("onnx"):
        t1 = time.time()
        first = batches[0][:1]
        mct.exporter.pytorch_export_model(quantized, save_model_path=job["onnx"], repr_dataset=lambda: iter([[first]]),
                                          output_names=list(HEAD_NAMES))
        report["export_seconds"] = round(time.time() - t1, 1)

    # MCT's quantized network (fake quantization in torch: the chip's arithmetic simulated) on each crop set
    report["ran"] = {}
    for name, src in (job.get("run") or {}).items():
        t1 = time.time()
        crops = np.load(src["crops"])
        outs: dict[str, list] = {h: [] for h in HEAD_NAMES}
        with torch.no_grad():
            for i in range(0, len(crops), batch):
                x = torch.from_numpy(np.ascontiguousarray(crops[i:i + batch])).permute(0, 3, 1, 2).float()
                for h, o in zip(HEAD_NAMES, quantized(x)):
                    outs[h].append(o.permute(0, 2, 3, 1).numpy())  # channels last, as every artifact returns them
        np.savez(src["heads"], **{h: np.concatenate(v).astype(np.float32) for h, v in outs.items()})
        report["ran"][name] = {"crops": len(crops), "seconds": round(time.time() - t1, 1)}
    report["seconds"] = round(time.time() - t0, 1)
    Path(job["report"]).write_text(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        return check()
    if len(argv) == 2 and argv[0] == "run":
        return run(argv[1])
    print("usage: imx500_mct.py check | run JOB.json", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

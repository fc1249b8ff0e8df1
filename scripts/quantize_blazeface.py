"""Make the bundled full-integer INT8 BlazeFace short range from the float one, with Google's LiteRT quantizer.

Runs in its OWN virtual environment (the quantizer is not a dependency of pipnet-edge; only the .tflite it
writes ships in the package). Tools used for the bundled file (2026-12-06, Python 3.11, x86-64):

    python3 -m venv /tmp/venv-npu
    /tmp/venv-npu/bin/pip install litert-quantizer==0.11.0 ai-edge-litert==2.3.0 ethos-u-vela==5.2.0 \\
        opencv-python-headless==5.1.0.95 numpy==2.4.6
    /tmp/venv-npu/bin/python scripts/quantize_blazeface.py                 # writes the bundled asset
    /tmp/venv-npu/bin/python scripts/quantize_blazeface.py --vela /tmp/vela # ... and compiles it for Ethos-U

(``litert-quantizer`` 0.11.0 is the renamed ``ai-edge-quantizer``: same code, module ``litert_quantizer``; the
script also imports ``ai_edge_quantizer`` when only that is installed.) The script imports ``pipnet_edge`` and
``benchmarks/multiface.py`` from this checkout (numpy + OpenCV + LiteRT only, no torch).

Input: ``pipnet_edge/assets/detectors/blazeface/face_detection_short_range.tflite`` (MediaPipe 0.10.14, Apache-2.0:
float16 weights behind DEQUANTIZE ops, float32 I/O, input 128x128 RGB in [-1, 1]).
Output: ``face_detection_short_range_int8.tflite`` beside it: int8 input (the same [-1, 1] input, quantized),
int8 outputs, int8 activations (per-tensor, asymmetric), int8 weights (per-channel, symmetric), int32 biases;
no float tensor and no QUANTIZE / DEQUANTIZE op anywhere (checked at the end).

Steps:

1. Prepare the float model for the quantizer (the ``ai_edge_litert.tools.flatbuffer_utils`` object API, each step
   lossless; the prepared model's outputs are checked to equal the original's exactly on every calibration input):

   a. operator codes: MediaPipe's file sets only ``deprecated_builtin_code`` (``builtin_code`` is 0 = ADD), and the
      quantizer reads ``builtin_code`` alone, so it took every op for an ADD (per-tensor weights, int8 biases).
      The code is copied into ``builtin_code``, as newer converters write it.
   b. float16 weights: the 74 constant float16 -> float32 DEQUANTIZE ops are folded into float32 constants (the
      quantizer cannot quantize a weight that a DEQUANTIZE produces: it crashes, or with (a) undone quantizes the
      weights as activations). fp16 -> fp32 is exact.
   c. outputs: the model ends in two CONCATENATIONs that join the stride-8 (512 anchors) and stride-16 (384
      anchors) heads. The quantizer gives a concatenation one scale for all its inputs and, since a RESHAPE sits
      before each, adds int8 -> int8 QUANTIZE (requantize) ops to get there; one scale also costs the small-face
      head most of its precision (its logits would share a 1.3-wide step with the large-face head). So the
      CONCATENATIONs are dropped: the model has four outputs, ``classificators_0`` (1, 512, 1),
      ``classificators_1`` (1, 384, 1), ``regressors_0`` (1, 512, 16), ``regressors_1`` (1, 384, 16), each with
      its own scale; :class:`pipnet_edge.runtime.detectors.BlazeFaceDetector` joins them (by shape) in anchor order.
   d. a ``serving_default`` SignatureDef (MediaPipe's file has none; the quantizer calibrates through one).

2. Calibration data, TRAINING photos only (never ``test`` / ``test_full``): the ``--crops`` 300W training crops
   (``../shared/data/300w/train``, every k-th file) and ``--canvases`` multi-face photos made from the training faces
   by ``benchmarks/multiface.py`` (the benchmark's ``group`` recipe: 2-8 faces of 8-35 % of the longer side, own
   seed; git-ignored cache ``benchmarks/.multiface-train/blazeface-calib``). Each photo is letterboxed exactly as
   the detector does at run time (``BlazeFaceDetector.model_input``).

3. Quantize: recipe :data:`RECIPE` (the quantizer's ``default_a8w8_recipe.json``: min/max, int8 activations
   asymmetric per tensor, int8 weights symmetric per channel), ``calibrate`` (moving-average min/max), ``quantize``.
   The graph input's range is set to exactly [-1, 1] (the letterbox's whole range) in the calibration result.

4. Checks: no float32 (or float16) tensor, integer I/O, no QUANTIZE / DEQUANTIZE; then float vs INT8 on the
   calibration photos (faces found by both, box agreement), printed.

5. ``--vela DIR``: Arm Vela (``ethos-u-vela``) for Ethos-U55-128, U65-256 and U85-256; prints the CPU operator
   count and the summary CSV figures, and writes them to ``DIR/vela.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
SHARED = Path(os.environ.get("PIPNET_EDGE_SHARED", ROOT.parent / "shared"))
BLAZEFACE_DIR = ROOT / "pipnet_edge" / "assets" / "detectors" / "blazeface"
SRC = BLAZEFACE_DIR / "face_detection_short_range.tflite"
DST = BLAZEFACE_DIR / "face_detection_short_range_int8.tflite"

# the quantizer's recipes/default_a8w8_recipe.json, written out so the file's recipe is pinned here
RECIPE = [
    {
        "regex": ".*",
        "operation": "*",
        "algorithm_key": "min_max_uniform_quantize",
        "op_config": {
            "activation_tensor_config": {"num_bits": 8, "symmetric": False, "granularity": "TENSORWISE", "dtype": "INT"},
            "weight_tensor_config": {"num_bits": 8, "symmetric": True, "granularity": "CHANNELWISE", "dtype": "INT"},
            "compute_precision": "INTEGER",
            "explicit_dequantize": False,
            "skip_checks": False,
            "min_weight_elements": 0,
        },
    }
]
CALIB_SET = "blazeface-calib"
OUTPUT_NAMES = {("classificators", 0): "classificators_0", ("classificators", 1): "classificators_1",
                ("regressors", 0): "regressors_0", ("regressors", 1): "regressors_1"}
VELA_TARGETS = {
    "ethos-u55-128": ("Ethos_U55_High_End_Embedded", "Shared_Sram"),
    "ethos-u65-256": ("Ethos_U65_High_End", "Dedicated_Sram"),
    "ethos-u85-256": ("Ethos_U85_SYS_DRAM_Mid", "Dedicated_Sram"),
}


def _quantizer_module():
    try:
        from litert_quantizer import quantizer
    except ImportError:
        from ai_edge_quantizer import quantizer  # the same package under its first name
    return quantizer


def _schema():
    from ai_edge_litert import schema_py_generated as fb
    from ai_edge_litert.tools import flatbuffer_utils as fbu

    return fb, fbu


def _name(t) -> str:
    return t.name.decode() if isinstance(t.name, bytes) else str(t.name)


# ------------------------------------------------------------------------------------------ 1. prepare the float model
def prepare_float_model(src: Path) -> bytes:
    """Steps 1a-1d above: the float32, four-output, signed model the quantizer takes."""
    fb, fbu = _schema()
    model = fbu.read_model(str(src))
    assert len(model.subgraphs) == 1, "BlazeFace has one subgraph"
    sg = model.subgraphs[0]

    # a. builtin_code from deprecated_builtin_code
    for oc in model.operatorCodes:
        oc.builtinCode = fbu.get_builtin_code_from_operator_code(oc)
    code = [oc.builtinCode for oc in model.operatorCodes]

    # b. fold constant float16 -> float32 DEQUANTIZE ops into float32 constants
    kept, folded = [], 0
    for op in sg.operators:
        if code[op.opcodeIndex] == fb.BuiltinOperator.DEQUANTIZE:
            t_in, t_out = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
            data = model.buffers[t_in.buffer].data
            if t_in.type == fb.TensorType.FLOAT16 and data is not None and len(data):
                values = np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.float16).astype(np.float32)
                buf = fb.BufferT()
                buf.data = np.frombuffer(values.tobytes(), np.uint8).copy()
                model.buffers.append(buf)
                t_out.buffer = len(model.buffers) - 1
                t_out.type = fb.TensorType.FLOAT32
                folded += 1
                continue
        kept.append(op)
    sg.operators = kept

    # c. drop the CONCATENATIONs that make the graph outputs: their inputs become the outputs, in anchor order
    producer = {o: i for i, op in enumerate(sg.operators) for o in op.outputs}
    new_outputs, drop = [], set()
    for out in sg.outputs:
        op_i = producer[out]
        op = sg.operators[op_i]
        if code[op.opcodeIndex] != fb.BuiltinOperator.CONCATENATION:
            raise SystemExit(f"expected the outputs to come from CONCATENATION ops, {_name(sg.tensors[out])} does not")
        base = _name(sg.tensors[out])
        for k, t in enumerate(op.inputs):
            sg.tensors[t].name = OUTPUT_NAMES[(base, k)]
            new_outputs.append(t)
        drop.add(op_i)
    sg.operators = [op for i, op in enumerate(sg.operators) if i not in drop]
    sg.outputs = new_outputs

    # prune the tensors no op uses any more (the float16 weights, the concatenated outputs) and their buffers
    used = sorted({i for op in sg.operators for i in list(op.inputs) + list(op.outputs) if i >= 0}
                  | set(sg.inputs) | set(sg.outputs))
    remap = {old: new for new, old in enumerate(used)}
    sg.tensors = [sg.tensors[i] for i in used]
    for op in sg.operators:
        op.inputs = [remap[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
    sg.inputs, sg.outputs = [remap[i] for i in sg.inputs], [remap[i] for i in sg.outputs]
    live = {t.buffer for t in sg.tensors}
    for i, b in enumerate(model.buffers):
        if i and i not in live:
            b.data = None

    # d. a serving_default signature over the graph's input and outputs
    sd = fb.SignatureDefT()
    sd.signatureKey = "serving_default"
    sd.subgraphIndex = 0

    def tensor_map(i):
        m = fb.TensorMapT()
        m.name, m.tensorIndex = _name(sg.tensors[i]), i
        return m

    sd.inputs = [tensor_map(i) for i in sg.inputs]
    sd.outputs = [tensor_map(i) for i in sg.outputs]
    model.signatureDefs = [sd]
    print(f"prepared float model: {folded} float16 weights folded, outputs {[_name(sg.tensors[i]) for i in sg.outputs]}")
    return bytes(fbu.convert_object_to_bytearray(model))


def _run(interpreter, x: np.ndarray) -> dict[str, np.ndarray]:
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()}


def check_prepared(original: Path, prepared: bytes, inputs: list[np.ndarray]) -> None:
    """The prepared model's outputs, joined, equal the original's exactly."""
    from ai_edge_litert.interpreter import Interpreter

    a = Interpreter(model_path=str(original), num_threads=1)
    b = Interpreter(model_content=prepared, num_threads=1)
    a.allocate_tensors()
    b.allocate_tensors()
    worst = 0.0
    for x in inputs:
        ra, rb = _run(a, x), _run(b, x)
        for base in ("classificators", "regressors"):
            joined = np.concatenate([rb[f"{base}_0"], rb[f"{base}_1"]], axis=1)
            worst = max(worst, float(np.abs(joined - ra[base]).max()))
    print(f"prepared vs original float model on {len(inputs)} inputs: max |difference| {worst:g}")
    if worst != 0.0:
        raise SystemExit("the prepared float model does not reproduce the original")


# ------------------------------------------------------------------------------------------ 2. calibration data
def calibration_photos(train: Path, crops_every: int, canvases: int, cache_dir: Path) -> list[tuple[str, np.ndarray]]:
    """(name, RGB photo) of the training crops (every ``crops_every``-th) and multi-face training canvases."""
    import cv2

    from multiface import SETS, SetSpec, build_set, load_set, sources_from_folder

    if "test" in train.name:
        raise SystemExit(f"{train}: calibrate on TRAINING photos only")
    photos = []
    files = sorted(train.glob("*.jpg")) + sorted(train.glob("*.png"))
    for f in files[::crops_every] if crops_every else []:
        photos.append((f.name, cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)))
    if canvases:
        group = SETS["group"]
        spec = SetSpec(count=canvases, faces=group.faces, height_frac=group.height_frac, seed=20261206)
        folder = cache_dir / CALIB_SET
        manifest = folder / "manifest.json"
        current = manifest.is_file() and json.loads(manifest.read_text()).get("spec", {}).get("count") == canvases \
            and json.loads(manifest.read_text()).get("spec", {}).get("seed") == spec.seed
        if not current:
            print(f"building {canvases} calibration canvases from {train} into {folder} ...")
            build_set(CALIB_SET, sources_from_folder(train), cache_dir, spec, progress=False)
        for c in load_set(folder):
            photos.append((c.name, cv2.cvtColor(cv2.imread(str(c.image_path)), cv2.COLOR_BGR2RGB)))
    return photos


# ------------------------------------------------------------------------------------------ 3. quantize
def quantize(prepared: bytes, inputs: list[np.ndarray]) -> bytes:
    quantizer = _quantizer_module()
    qt = quantizer.Quantizer(bytearray(prepared))
    qt.load_quantization_recipe(RECIPE)
    t0 = time.perf_counter()
    qsvs = qt.calibrate({"serving_default": [{"input": x} for x in inputs]}, num_threads=os.cpu_count() or 1)
    print(f"calibrated {len(qsvs)} tensors on {len(inputs)} inputs in {time.perf_counter() - t0:.1f} s")
    # the letterboxed input spans exactly [-1, 1] (black border = -1); say so rather than trust the sample
    qsvs["input"] = {**qsvs["input"], "min": np.full_like(qsvs["input"]["min"], -1.0),
                     "max": np.full_like(qsvs["input"]["max"], 1.0)}
    for name in OUTPUT_NAMES.values():
        print(f"  {name}: calibrated range [{float(np.min(qsvs[name]['min'])):.2f}, {float(np.max(qsvs[name]['max'])):.2f}]")
    return bytes(qt.quantize(qsvs, enable_progress_report=False).quantized_model)


# ------------------------------------------------------------------------------------------ 4. checks
def check_integer(path: Path) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    tensors = it.get_tensor_details()
    ops = Counter(o["op_name"] for o in it._get_ops_details())
    dtypes = Counter(np.dtype(t["dtype"]).name for t in tensors)
    io = {"inputs": [(d["name"], np.dtype(d["dtype"]).name, [float(d["quantization"][0]), int(d["quantization"][1])])
                     for d in it.get_input_details()],
          "outputs": [(d["name"], np.dtype(d["dtype"]).name, [float(d["quantization"][0]), int(d["quantization"][1])])
                      for d in it.get_output_details()]}
    report = {"ops": dict(ops), "tensor_dtypes": dict(dtypes),
              "float32_tensors": sum(np.dtype(t["dtype"]) == np.float32 for t in tensors), **io}
    print(json.dumps(report, indent=1))
    bad = [d for d in tensors if np.dtype(d["dtype"]).kind == "f"]
    if bad or ops.get("QUANTIZE") or ops.get("DEQUANTIZE") or \
            any(dt not in ("int8", "uint8") for _, dt, _ in io["inputs"] + io["outputs"]):
        raise SystemExit(f"{path} is not full-integer: {len(bad)} float tensors, ops {dict(ops)}")
    return report


def compare(photos: list[tuple[str, np.ndarray]], int8_path: Path) -> None:
    """Float vs INT8 detector on the calibration (training) photos: faces matched, box differences."""
    from pipnet_edge.runtime.detectors.base import box_iou
    from pipnet_edge.runtime.detectors.blazeface import BlazeFaceDetector

    fdet = BlazeFaceDetector("short")
    qdet = BlazeFaceDetector("short-int8", model_path=int8_path)
    nf = nq = both = 0
    errs = []
    for _, img in photos:
        a, b = fdet.detect(img), qdet.detect(img)
        nf, nq = nf + len(a), nq + len(b)
        if len(a) and len(b):
            iou = box_iou(a.boxes, b.boxes)
            for i in range(len(a)):
                j = int(np.argmax(iou[i]))
                if iou[i, j] >= 0.5:
                    both += 1
                    side = float(max(a.boxes[i, 2] - a.boxes[i, 0], a.boxes[i, 3] - a.boxes[i, 1]))
                    errs.append(np.abs(a.boxes[i] - b.boxes[j]).max() / side)
    e = np.asarray(errs)
    print(f"training photos: float finds {nf} faces, INT8 {nq}, matched (IoU >= 0.5) {both}; box corner error / box side: "
          f"median {np.median(e):.4f}, p95 {np.percentile(e, 95):.4f}, max {e.max():.4f}")


# ------------------------------------------------------------------------------------------ 5. Vela
def run_vela(model: Path, out_dir: Path, vela: str = "vela") -> dict:
    import csv

    results = {}
    for accel, (system, memory) in VELA_TARGETS.items():
        d = out_dir / accel
        cmd = [vela, str(model), "--accelerator-config", accel, "--config", "Arm/vela.ini", "--system-config", system,
               "--memory-mode", memory, "--show-cpu-operations", "--output-dir", str(d)]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        cpu = [line.strip() for line in p.stdout.splitlines() if line.strip().startswith("CPU operators =")]
        npu = [line.strip() for line in p.stdout.splitlines() if line.strip().startswith("NPU operators =")]
        row = next(csv.DictReader(open(next(d.glob("*_summary_*.csv"))))) if p.returncode == 0 else {}
        results[accel] = {
            "command": " ".join(["vela", model.name] + cmd[2:]),
            "returncode": p.returncode,
            "cpu_operators": cpu[0] if cpu else None,
            "npu_operators": npu[0] if npu else None,
            "inference_time_ms": round(float(row["inference_time"]) * 1e3, 4) if row else None,
            "sram_memory_used_kib": float(row["sram_memory_used"]) if row else None,
            "off_chip_flash_memory_used_kib": float(row["off_chip_flash_memory_used"]) if row else None,
            "dram_memory_used_kib": float(row["dram_memory_used"]) if row else None,
            "nn_macs": int(float(row["nn_macs"])) if row else None,
            "system_config": system,
            "memory_mode": memory,
        }
        if p.returncode:
            results[accel]["stderr"] = p.stderr[-2000:]
        print(accel, json.dumps(results[accel]))
    v = subprocess.run([vela, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    out = {"vela_version": v, "targets": results}
    (out_dir / "vela.json").write_text(json.dumps(out, indent=1))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", default=str(SRC), help="the float BlazeFace short range .tflite")
    p.add_argument("--out", default=str(DST))
    p.add_argument("--train", default=str(SHARED / "data" / "300w" / "train"), help="300W TRAINING photos")
    p.add_argument("--crops-every", type=int, default=2, help="take every k-th training crop (0: none)")
    p.add_argument("--canvases", type=int, default=200, help="multi-face canvases built from training faces")
    p.add_argument("--cache-dir", default=str(ROOT / "benchmarks" / ".multiface-train"))
    p.add_argument("--vela", metavar="DIR", help="also compile with Arm Vela for Ethos-U55/U65/U85 into DIR")
    p.add_argument("--vela-bin", default="vela")
    args = p.parse_args(argv)

    from pipnet_edge.runtime.detectors.blazeface import BlazeFaceDetector

    src, out = Path(args.src), Path(args.out)
    photos = calibration_photos(Path(args.train), args.crops_every, args.canvases, Path(args.cache_dir))
    letterbox = BlazeFaceDetector("short", model_path=src)
    inputs = [letterbox.model_input(img) for _, img in photos]
    print(f"{len(inputs)} calibration photos ({sum(not n.startswith(CALIB_SET) for n, _ in photos)} crops, "
          f"{sum(n.startswith(CALIB_SET) for n, _ in photos)} canvases)")

    prepared = prepare_float_model(src)
    check_prepared(src, prepared, inputs)
    out.write_bytes(quantize(prepared, inputs))
    print(f"wrote {out} ({out.stat().st_size / 1024:.1f} KiB)")
    check_integer(out)
    compare(photos, out)
    if args.vela:
        run_vela(out, Path(args.vela), args.vela_bin)
    return 0


if __name__ == "__main__":
    sys.exit(main())

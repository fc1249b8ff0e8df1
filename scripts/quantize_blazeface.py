"""Make the bundled full-integer INT8 BlazeFace short range from the float one, with Google's LiteRT quantizer.

Runs in its OWN virtual environment (the quantizer is not a dependency of pipnet-edge; only the .tflite it
writes ships in the package). Tools used for the bundled file (2026-12-06, Python 3.11, x86-64):

    python3 -m venv /tmp/venv-npu
    /tmp/venv-npu/bin/pip install litert-quantizer==0.11.0 ai-edge-litert==2.3.0 ethos-u-vela==5.2.0 \\
        opencv-python-headless==5.1.0.95 numpy==2.4.6
    /tmp/venv-npu/bin/python scripts/quantize_blazeface.py                 # writes the bundled asset
    /tmp/venv-npu/bin/python scripts/quantize_blazeface.py --vela /tmp/vela # ... and compiles it for Ethos-U

(``litert-quantizer`` is the newer name of ``ai-edge-quantizer``, whose last release is 0.10.0, module
``ai_edge_quantizer``; the script imports that module when ``litert_quantizer`` is missing, but only 0.11.0 made the
bundled file.) The script imports ``pipnet_edge`` and ``benchmarks.multiface`` from this checkout (numpy, OpenCV
and LiteRT only, no torch). It takes about 6 minutes on 2 CPU cores the first time (building the canvases), 1 after.

Input: ``pipnet_edge/assets/detectors/blazeface/face_detection_short_range.tflite`` (MediaPipe 0.10.14, Apache-2.0:
float16 weights behind DEQUANTIZE ops, float32 I/O, input 128x128 RGB in [-1, 1]).
Output: ``face_detection_short_range_int8.tflite`` beside it: int8 input (the same [-1, 1] input, quantized),
int8 outputs, int8 activations (per-tensor, asymmetric), int8 weights (per-channel, symmetric), int32 biases;
no float tensor and no QUANTIZE / DEQUANTIZE op anywhere (checked at the end).

Steps:

1. Rewrite the float model for the quantizer (``ai_edge_litert.tools.flatbuffer_utils`` object API; a-e leave the
   outputs bit-identical to the original's on every calibration input, f to float rounding, both checked):

   a. operator codes: MediaPipe's file sets only ``deprecated_builtin_code`` (``builtin_code`` is 0 = ADD), and the
      quantizer reads ``builtin_code`` alone, so it took every op for an ADD (per-tensor weights, int8 biases, which
      Vela rejects). The code is copied into ``builtin_code``, as newer converters write it.
   b. float16 weights: the 74 constant float16 -> float32 DEQUANTIZE ops are folded into float32 constants (the
      quantizer cannot quantize a weight that a DEQUANTIZE produces: it fails on a weight without data). Exact.
   c. outputs: the model ends in two CONCATENATIONs joining the stride-8 (512 anchors) and stride-16 (384 anchors)
      heads. The quantizer gives a concatenation one scale for all its inputs and, a RESHAPE sitting before each,
      adds int8 -> int8 QUANTIZE (requantize) ops to get there; one scale would also cost the small-face head most
      of its precision. So they are dropped: four outputs, ``classificators_0`` (1, 512, 1), ``classificators_1``
      (1, 384, 1), ``regressors_0`` (1, 512, 16), ``regressors_1`` (1, 384, 16), each with its own scale;
      :class:`pipnet_edge.runtime.detectors.BlazeFaceDetector` joins them (by shape) in anchor order.
   d. a ``serving_default`` SignatureDef (MediaPipe's file has none; the quantizer calibrates through one).
   e. the 17 RELU ops are fused into the ADD / CONV_2D before them (the file keeps them apart, so each ADD's int8
      output would spend half its range on negatives the RELU then drops).
   f. cross-layer equalization (Nagel et al. 2019) of the 16 depthwise -> 1x1 convolution pairs, from the
      per-channel ranges on the calibration photos (:func:`equalize_depthwise`): the depthwise outputs have a few
      channels 15-40x wider than the median, which per-tensor int8 cannot hold. Without it the INT8 boxes were
      ~6 % of a face off the float ones (median), with it ~1 %.

2. Calibration data, TRAINING photos only (never ``test`` / ``test_full``): every ``--crops-every``-th 300W
   training crop (``../shared/data/300w/train``; default every 2nd: 1,006) and ``--canvases`` (200) multi-face
   photos made from the training faces by ``benchmarks/multiface.py`` (the benchmark's ``group`` recipe: 2-8 faces
   of 8-35 % of the longer side, own seed; git-ignored cache ``benchmarks/.multiface-train/blazeface-calib``).
   Each photo is letterboxed exactly as the detector does at run time (``BlazeFaceDetector.model_input``).

3. Quantize with recipe :data:`RECIPE` (the quantizer's ``default_a8w8_recipe.json``: min/max, int8 activations
   asymmetric per tensor, int8 weights symmetric per channel, int32 biases). ``Quantizer.calibrate`` is called
   once per photo (its own accumulation is a moving average that keeps only the last few dozen photos); each
   tensor's range is the 5th / 95th percentile of the per-photo minima / maxima (:data:`PERCENTILE`). Then, in the
   calibration result handed to ``Quantizer.quantize``: the input's range is set to exactly [-1, 1], and the four
   head convolutions' to the values the decoder reads (:func:`head_ranges`: the anchors the float model scores
   >= 0.05, widened 1.25x; logits from logit(0.001)), instead of background values of up to +-29,000.

4. Checks (the script stops otherwise): no float tensor, integer I/O, no QUANTIZE / DEQUANTIZE op.

5. Float vs INT8 (at 0.5) on the calibration photos: faces found by both, box agreement, printed (for the bundled
   file: float 1,584 faces, INT8 1,586, 1,579 matched; box corner difference / box side median 0.011, p95 0.027).

6. The INT8 variant's default score threshold (:func:`threshold_table`), on ``--threshold-canvases`` (300) other
   training canvases (the same recipe, seed 11, ``benchmarks/.multiface-train/blazeface-threshold``): at the float
   model's 0.5 the INT8 model loses some of the float model's borderline faces and gains about as many (its logits
   differ from the float ones by ~0.12-0.15 at random), so ``BLAZEFACE_VARIANTS["short-int8"]`` takes the highest
   round threshold that loses none there: 0.4. The table for the bundled file (845 faces the float model finds):
   at 0.50, 9 lost / 7 gained; 0.44-0.45: 2 lost; 0.42-0.43: 1 lost; 0.40-0.41: none lost, 34 / 33 gained; false
   detections 0 for both models from 0.40 up (INT8 1-2 below 0.40).

7. ``--vela DIR``: Arm Vela (``ethos-u-vela``) for every Ethos-U configuration of the export targets, through the
   project's ``pipnet_edge.converters.vela.compile_vela``; prints each report and writes them to ``DIR/vela.json``.

The file is reproducible: the same inputs and tool versions give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # pipnet_edge and the benchmarks package of this checkout (its own venv)
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
THRESHOLD_SET = "blazeface-threshold"
PERCENTILE = 95.0  # activation ranges: the 5th / 95th percentile of the per-photo minima / maxima
CANDIDATE_SCORE = 0.05  # head ranges: anchors the float model scores at least this
HEAD_MARGIN = 1.25  # ... widened by this factor
LOGIT_FLOOR = 0.001  # scores below this are all one value
HEAD_CONVS = {"classificators_0": "classificator_8", "classificators_1": "classificator_16",
              "regressors_0": "regressor_8", "regressors_1": "regressor_16"}
OUTPUT_NAMES = {("classificators", 0): "classificators_0", ("classificators", 1): "classificators_1",
                ("regressors", 0): "regressors_0", ("regressors", 1): "regressors_1"}


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
def _consumers(sg) -> dict[int, list[int]]:
    """tensor -> the ops that read it (-1: a graph output)."""
    out: dict[int, list[int]] = {}
    for i, op in enumerate(sg.operators):
        for t in op.inputs:
            out.setdefault(t, []).append(i)
    for t in sg.outputs:
        out.setdefault(t, []).append(-1)
    return out


def _prune(model) -> None:
    """Drop the tensors no op and no graph input / output uses, and the buffers only they used."""
    sg = model.subgraphs[0]
    used = sorted({i for op in sg.operators for i in list(op.inputs) + list(op.outputs) if i >= 0}
                  | set(sg.inputs) | set(sg.outputs))
    remap = {old: new for new, old in enumerate(used)}
    sg.tensors = [sg.tensors[i] for i in used]
    for op in sg.operators:
        op.inputs = [remap[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
    sg.inputs, sg.outputs = [remap[i] for i in sg.inputs], [remap[i] for i in sg.outputs]
    for sd in model.signatureDefs or []:
        for tm in list(sd.inputs or []) + list(sd.outputs or []):
            tm.tensorIndex = remap[tm.tensorIndex]
    live = {t.buffer for t in sg.tensors}
    for i, b in enumerate(model.buffers):
        if i and i not in live:
            b.data = None


def _constant(model, sg, t: int) -> np.ndarray:
    tensor = sg.tensors[t]
    return np.frombuffer(np.asarray(model.buffers[tensor.buffer].data, np.uint8).tobytes(), np.float32).reshape(tensor.shape)


def _set_constant(model, sg, t: int, values: np.ndarray) -> None:
    fb, _ = _schema()
    buf = fb.BufferT()
    buf.data = np.frombuffer(np.ascontiguousarray(values, np.float32).tobytes(), np.uint8).copy()
    model.buffers.append(buf)
    sg.tensors[t].buffer = len(model.buffers) - 1


def prepare_float_model(src: Path) -> bytes:
    """Steps 1a-1e above: the float32, four-output, signed model (exactly the original's function)."""
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
                _set_constant(model, sg, op.outputs[0], values)
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
    concatenations = len(drop)

    # e. fuse each RELU into the ADD / CONV_2D before it (when that op alone reads the op's output)
    cons = _consumers(sg)
    producer = {o: i for i, op in enumerate(sg.operators) for o in op.outputs}
    fusable = (fb.BuiltinOperator.ADD, fb.BuiltinOperator.CONV_2D, fb.BuiltinOperator.DEPTHWISE_CONV_2D)
    drop, fused = set(), 0
    for i, op in enumerate(sg.operators):
        src_i = producer.get(op.inputs[0])
        if code[op.opcodeIndex] != fb.BuiltinOperator.RELU or src_i is None:
            continue
        src_op = sg.operators[src_i]
        if code[src_op.opcodeIndex] in fusable and cons[op.inputs[0]] == [i] \
                and src_op.builtinOptions.fusedActivationFunction == fb.ActivationFunctionType.NONE:
            src_op.builtinOptions.fusedActivationFunction = fb.ActivationFunctionType.RELU
            src_op.outputs = [op.outputs[0]]
            drop.add(i)
            fused += 1
    sg.operators = [op for i, op in enumerate(sg.operators) if i not in drop]
    _prune(model)

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
    print(f"prepared float model: {folded} float16 weights folded, {concatenations} CONCATENATIONs removed, {fused} RELUs "
          f"fused, outputs {[_name(sg.tensors[i]) for i in sg.outputs]}")
    return bytes(fbu.convert_object_to_bytearray(model))


def _depthwise_pairs(model) -> list[tuple[int, int, str]]:
    """(depthwise op, 1x1 conv op, depthwise output name) where a linear DEPTHWISE_CONV_2D feeds only a 1x1 CONV_2D."""
    fb, _ = _schema()
    sg = model.subgraphs[0]
    code = [oc.builtinCode for oc in model.operatorCodes]
    cons = _consumers(sg)
    pairs = []
    for i, op in enumerate(sg.operators):
        if code[op.opcodeIndex] != fb.BuiltinOperator.DEPTHWISE_CONV_2D or op.builtinOptions.fusedActivationFunction:
            continue
        readers = cons.get(op.outputs[0], [])
        if len(readers) != 1 or readers[0] < 0:
            continue
        nxt = sg.operators[readers[0]]
        if code[nxt.opcodeIndex] == fb.BuiltinOperator.CONV_2D and list(sg.tensors[nxt.inputs[1]].shape[1:3]) == [1, 1]:
            pairs.append((i, readers[0], _name(sg.tensors[op.outputs[0]])))
    return pairs


def equalize_depthwise(prepared: bytes, inputs: list[np.ndarray]) -> bytes:
    """Step 1f: cross-layer equalization of every depthwise -> 1x1 convolution pair (Nagel et al., 2019).

    BlazeFace's depthwise outputs have a few channels hundreds of times wider than the rest (-579 .. 1100 against a
    typical +-10 on the training photos), so one int8 scale per tensor leaves the others a handful of levels. Each
    block is depthwise (no activation) -> 1x1 conv (no activation), so scaling depthwise channel ``c`` (weights and
    bias) by ``1 / s_c`` and the 1x1 conv's input channel ``c`` by ``s_c`` leaves the function unchanged; with
    ``s_c = sqrt(r_c / w_c)`` (``r_c``: the channel's largest |activation| on the calibration inputs, ``w_c``: the
    largest |1x1 weight| it meets), normalised to geometric mean 1, the two ranges meet in the middle.
    """
    from ai_edge_litert.interpreter import Interpreter

    _, fbu = _schema()
    model = fbu.convert_bytearray_to_object(bytearray(prepared))
    sg = model.subgraphs[0]
    pairs = _depthwise_pairs(model)
    it = Interpreter(model_content=prepared, experimental_preserve_all_tensors=True, num_threads=os.cpu_count() or 1)
    it.allocate_tensors()
    index = {d["name"]: d["index"] for d in it.get_tensor_details()}
    ranges = {name: np.zeros(1, np.float32) for _, _, name in pairs}
    for x in inputs:
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        for _, _, name in pairs:
            ranges[name] = np.maximum(ranges[name], np.abs(it.get_tensor(index[name])).max(axis=(0, 1, 2)))
    spread = []
    for dw_i, pw_i, name in pairs:
        dw, pw = sg.operators[dw_i], sg.operators[pw_i]
        w1, b1, w2 = (_constant(model, sg, dw.inputs[1]), _constant(model, sg, dw.inputs[2]),
                      _constant(model, sg, pw.inputs[1]))
        r = np.maximum(ranges[name], 1e-6)
        w = np.maximum(np.abs(w2).max(axis=(0, 1, 2)), 1e-12)
        s = np.sqrt(r / w)
        s = s / np.exp(np.mean(np.log(s)))
        _set_constant(model, sg, dw.inputs[1], w1 / s)  # (1, kh, kw, C): the channel is the last axis
        _set_constant(model, sg, dw.inputs[2], b1 / s)
        _set_constant(model, sg, pw.inputs[1], w2 * s)  # (O, 1, 1, C)
        spread.append((float(r.max() / np.median(r)), float((r / s).max() / np.median(r / s))))
    _prune(model)
    print(f"equalized {len(pairs)} depthwise -> 1x1 pairs; widest channel / median channel range, before -> after: "
          + ", ".join(f"{a:.0f}->{b:.1f}" for a, b in spread))
    return bytes(fbu.convert_object_to_bytearray(model))


def _run(interpreter, x: np.ndarray) -> dict[str, np.ndarray]:
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()}


def check_float(original: Path, rewritten: bytes, inputs: list[np.ndarray], what: str, tolerance: float) -> float:
    """The rewritten float model's outputs, joined, against the original's: the largest |difference|."""
    from ai_edge_litert.interpreter import Interpreter

    a = Interpreter(model_path=str(original), num_threads=1)
    b = Interpreter(model_content=rewritten, num_threads=1)
    a.allocate_tensors()
    b.allocate_tensors()
    worst = 0.0
    for x in inputs:
        ra, rb = _run(a, x), _run(b, x)
        for base in ("classificators", "regressors"):
            joined = np.concatenate([rb[f"{base}_0"], rb[f"{base}_1"]], axis=1)
            worst = max(worst, float((np.abs(joined - ra[base]) / (1.0 + np.abs(ra[base]))).max()))
    print(f"{what} vs the original float model on {len(inputs)} inputs: max |difference| / (1 + |value|) {worst:.3g}")
    if worst > tolerance:
        raise SystemExit(f"the {what} does not reproduce the original float model")
    return worst


# ------------------------------------------------------------------------------------------ 2. calibration data
def calibration_photos(train: Path, crops_every: int, canvases: int, cache_dir: Path) -> list[tuple[str, np.ndarray]]:
    """(name, RGB photo) of the training crops (every ``crops_every``-th) and multi-face training canvases."""
    import cv2

    from benchmarks.multiface import SETS, SetSpec, build_set, load_set, sources_from_folder

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
def head_ranges(model: bytes, inputs: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    """Ranges of the four head convolutions over the anchors that matter (float score >= CANDIDATE_SCORE).

    Elsewhere the heads reach -29,000 (logits) and +11,000 (regressors) on some training photos; min/max would spend
    the int8 range on values the decoder never reads. Regressors: the candidates' range widened by HEAD_MARGIN;
    logits: from logit(LOGIT_FLOOR) (scores below it are all "no face") to the candidates' highest x HEAD_MARGIN.
    """
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=os.cpu_count() or 1)
    it.allocate_tensors()
    lo, hi = {}, {}
    threshold = float(np.log(CANDIDATE_SCORE / (1.0 - CANDIDATE_SCORE)))
    for x in inputs:
        out = _run(it, x)
        for piece in "01":
            logits, regs = out[f"classificators_{piece}"][0, :, 0], out[f"regressors_{piece}"][0]
            keep = logits >= threshold
            for name, v in ((f"classificators_{piece}", logits[keep]), (f"regressors_{piece}", regs[keep])):
                if v.size:
                    lo[name], hi[name] = min(lo.get(name, np.inf), float(v.min())), max(hi.get(name, -np.inf), float(v.max()))
    floor = float(np.log(LOGIT_FLOOR / (1.0 - LOGIT_FLOOR)))
    out = {}
    for name in OUTPUT_NAMES.values():
        if name.startswith("classificators"):
            out[name] = (floor, HEAD_MARGIN * hi[name])
        else:
            out[name] = (HEAD_MARGIN * lo[name], HEAD_MARGIN * hi[name])
    return out


def quantize(model: bytes, inputs: list[np.ndarray]) -> bytes:
    """Calibrate photo by photo, keep the PERCENTILE-th of the per-photo extremes, set the input and head ranges,
    quantize."""
    quantizer = _quantizer_module()
    qt = quantizer.Quantizer(bytearray(model))
    qt.load_quantization_recipe(RECIPE)
    t0 = time.perf_counter()
    lows: dict[str, list[float]] = {}
    highs: dict[str, list[float]] = {}
    for x in inputs:
        # one photo per call: the quantizer's own update is a moving average (weight 0.95 on the past), which would
        # keep only the last few dozen photos
        for name, qsv in qt.calibrate({"serving_default": [{"input": x}]}, num_threads=os.cpu_count() or 1).items():
            lows.setdefault(name, []).append(float(np.min(qsv["min"])))
            highs.setdefault(name, []).append(float(np.max(qsv["max"])))
    qsvs = {name: {"min": np.array(np.percentile(lows[name], 100 - PERCENTILE), np.float32),
                   "max": np.array(np.percentile(highs[name], PERCENTILE), np.float32)} for name in lows}
    print(f"calibrated {len(qsvs)} tensors on {len(inputs)} photos in {time.perf_counter() - t0:.0f} s")
    # the letterboxed input spans exactly [-1, 1] (black border = -1)
    qsvs["input"] = {"min": np.array(-1.0, np.float32), "max": np.array(1.0, np.float32)}
    # the heads: the convolutions' outputs (the RESHAPEs after them keep their scale)
    for name, (lo, hi) in head_ranges(model, inputs).items():
        conv = HEAD_CONVS[name]
        print(f"  {conv} -> {name}: min/max percentile range [{float(qsvs[conv]['min']):.1f}, "
              f"{float(qsvs[conv]['max']):.1f}], set to [{lo:.2f}, {hi:.2f}]")
        for t in (conv, name):
            qsvs[t] = {"min": np.array(lo, np.float32), "max": np.array(hi, np.float32)}
    return bytes(qt.quantize(qsvs, enable_progress_report=False).quantized_model)


# ------------------------------------------------------------------------------------------ 4-5. checks
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
    qdet = BlazeFaceDetector("short-int8", model_path=int8_path, min_confidence=0.5)  # the float model's threshold
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


# ------------------------------------------------------------------------------------------ 6. score threshold
def _found(boxes: np.ndarray, points: np.ndarray, used: np.ndarray) -> int:
    """The first unused detection whose centre lies in the face's landmark box, longer side 0.5-2x its; or -1."""
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    side = max(x1 - x0, y1 - y0)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    long = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    hit = np.flatnonzero((cx > x0) & (cx < x1) & (cy > y0) & (cy < y1) & (long >= 0.5 * side) & (long <= 2 * side) & ~used)
    return int(hit[0]) if len(hit) else -1


def threshold_table(int8_path: Path, train: Path, canvases: int, cache_dir: Path) -> None:
    """Step 6: the INT8 variant's default score threshold, on multi-face TRAINING canvases (not the calibration ones).

    Per threshold t: the faces the float model finds at its 0.5 that the INT8 model misses at t, the faces only the
    INT8 model finds, and both models' false detections at t (every face of a canvas is known). The default is the
    highest round t that misses none.
    """
    import cv2

    from benchmarks.multiface import SETS, SetSpec, build_set, load_set, sources_from_folder
    from pipnet_edge.runtime.detectors.blazeface import BlazeFaceDetector

    group = SETS["group"]
    spec = SetSpec(count=canvases, faces=group.faces, height_frac=group.height_frac, seed=11)
    folder = cache_dir / THRESHOLD_SET
    manifest = folder / "manifest.json"
    if not (manifest.is_file() and json.loads(manifest.read_text()).get("spec", {}).get("count") == canvases):
        print(f"building {canvases} threshold-check canvases from {train} into {folder} ...")
        build_set(THRESHOLD_SET, sources_from_folder(train), cache_dir, spec, progress=False)
    thresholds = [round(0.35 + 0.01 * i, 2) for i in range(16)]
    fdet = BlazeFaceDetector("short", min_confidence=min(thresholds))
    qdet = BlazeFaceDetector("short-int8", model_path=int8_path, min_confidence=min(thresholds))
    best_float, best_int8 = [], []
    false = {"float": dict.fromkeys(thresholds, 0), "int8": dict.fromkeys(thresholds, 0)}
    for c in load_set(folder):
        img = cv2.cvtColor(cv2.imread(str(c.image_path)), cv2.COLOR_BGR2RGB)
        for key, det, best in (("float", fdet, best_float), ("int8", qdet, best_int8)):
            d = det.detect(img)
            for pts in c.faces:  # the best score of a detection that finds this face
                ok = [j for j in range(len(d)) if _found(d.boxes[j : j + 1], pts, np.zeros(1, bool)) == 0]
                best.append(max((float(d.scores[j]) for j in ok), default=0.0))
            for t in thresholds:
                boxes = d.boxes[d.scores >= t]
                used = np.zeros(len(boxes), bool)
                for pts in c.faces:
                    j = _found(boxes, pts, used)
                    if j >= 0:
                        used[j] = True
                false[key][t] += int((~used).sum())
    f, q = np.asarray(best_float), np.asarray(best_int8)
    print(f"threshold check on {len(load_set(folder))} training canvases, {len(f)} faces; float finds {(f >= 0.5).sum()} at 0.5")
    for t in thresholds:
        print(f"  INT8 at {t:.2f}: misses {int(((f >= 0.5) & (q < t)).sum())} of the float model's faces, finds "
              f"{int(((f < 0.5) & (q >= t)).sum())} it does not; false detections float {false['float'][t]}, "
              f"INT8 {false['int8'][t]}")


# ------------------------------------------------------------------------------------------ 7. Vela
def run_vela(model: Path, out_dir: Path) -> dict:
    """The INT8 file compiled by the project's Vela converter (:func:`pipnet_edge.converters.vela.compile_vela`) for
    every Ethos-U configuration of the export targets; the reports in ``out_dir/vela.json``."""
    from pipnet_edge.converters.vela import ETHOS_U_CONFIGS, compile_vela, vela_version

    out_dir.mkdir(parents=True, exist_ok=True)
    results = {name: compile_vela(model, out_dir / f"{model.stem}_{name}.tflite", cfg) for name, cfg in ETHOS_U_CONFIGS.items()}
    for name, rep in results.items():
        print(name, json.dumps(rep))
    out = {"vela_version": vela_version(), "targets": results}
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
    p.add_argument("--threshold-canvases", type=int, default=300,
                   help="training canvases for the INT8 score-threshold table (step 6; 0: skip)")
    p.add_argument("--vela", metavar="DIR", help="also compile with Arm Vela for Ethos-U55/U65/U85 into DIR")
    args = p.parse_args(argv)

    from pipnet_edge.runtime.detectors.blazeface import BlazeFaceDetector

    src, out = Path(args.src), Path(args.out)
    photos = calibration_photos(Path(args.train), args.crops_every, args.canvases, Path(args.cache_dir))
    letterbox = BlazeFaceDetector("short", model_path=src)
    inputs = [letterbox.model_input(img) for _, img in photos]
    print(f"{len(inputs)} calibration photos ({sum(not n.startswith(CALIB_SET) for n, _ in photos)} crops, "
          f"{sum(n.startswith(CALIB_SET) for n, _ in photos)} canvases)")

    prepared = prepare_float_model(src)
    check_float(src, prepared, inputs, "prepared float model", 0.0)
    equalized = equalize_depthwise(prepared, inputs)
    check_float(src, equalized, inputs, "equalized float model", 1e-3)  # float rounding
    out.write_bytes(quantize(equalized, inputs))
    print(f"wrote {out} ({out.stat().st_size / 1024:.1f} KiB)")
    from pipnet_edge.assets import ASSETS_DIR, write_manifest

    if out.resolve().is_relative_to(ASSETS_DIR):
        write_manifest()  # the bundled file changed: its SHA-256 in pipnet_edge/assets/SHA256SUMS
    check_integer(out)
    compare(photos, out)
    if args.threshold_canvases:
        threshold_table(out, Path(args.train), args.threshold_canvases, Path(args.cache_dir))
    if args.vela:
        run_vela(out, Path(args.vela))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every export target on a tiny model: runs in its runtime, matches torch, carries metadata."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("litert_torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")

from tiny import tiny_model  # noqa: E402

from pipnet_edge.calibration import CalibrationSet  # noqa: E402
from pipnet_edge.converters.targets import TARGETS  # noqa: E402
from pipnet_edge.export import ExportRecord, export  # noqa: E402
from pipnet_edge.models.edge import EdgePIPNet  # noqa: E402
from pipnet_edge.runtime.decode import DecodeTables, decode  # noqa: E402
from pipnet_edge.runtime.artifact import read_artifact_info  # noqa: E402
from pipnet_edge.evaluation.predictors import open_predictor  # noqa: E402

SIZE = 64


def _crops(n=6, seed=0):
    rng = np.random.default_rng(seed)
    # smooth random images (blurred noise) look more like photos than white noise
    import cv2

    imgs = [cv2.GaussianBlur(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8), (0, 0), 2) for _ in range(n)]
    return np.stack(imgs)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every target of the tiny model through the Python API, counting how often each ONNX graph is built."""
    import pipnet_edge.converters.onnx as onnx_converter

    torch.set_num_threads(1)
    model = tiny_model()
    calib = CalibrationSet(_crops(32, seed=1), {"source": "synthetic", "count": 32, "seed": 1})
    out = tmp_path_factory.mktemp("exports")
    builds: list[str] = []
    build = onnx_converter.build_onnx_module

    def counting_build(module, *args, **kwargs):
        builds.append("float" if isinstance(module, EdgePIPNet) else "int8")  # else: the PT2E QDQ graph
        return build(module, *args, **kwargs)

    source = {"weights": "tiny test model"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(onnx_converter, "build_onnx_module", counting_build)
        all_targets = export(model, "all", out, calib=calib, name="tiny", source_info=source)
        uint8 = export(model, "tflite-int8", out, calib=calib, name="tiny", io_dtype="uint8", source_info=source)
    records = {r.target: r for r in all_targets}
    records["tflite-int8-uint8"] = uint8[0]
    return model, records, builds


def _torch_points(model, crops):
    with torch.no_grad():
        heads = {k: v.numpy() for k, v in EdgePIPNet(model).eval()(torch.from_numpy(crops).float()).items()}
    return decode(heads, DecodeTables.from_spec(model.spec))[0] * SIZE, heads


@pytest.mark.parametrize("target", ["onnx", "openvino", "tflite", "openvino-fp16", "tflite-fp16"])
def test_float_artifacts_match_torch(exported, target):
    model, records, _ = exported
    crops = _crops()
    ref, _ = _torch_points(model, crops)
    pred = open_predictor(records[target].path)
    got = pred.predict_crops(crops).points * SIZE
    tol = 1e-3 if target in ("onnx", "openvino", "tflite") else 0.05  # pixels; fp16 weights are coarser
    assert np.abs(got - ref).max() < tol, f"{target}: {np.abs(got - ref).max()} px from torch"


@pytest.mark.parametrize("target", ["onnx-int8", "openvino-int8", "tflite-int8", "tflite-int8-uint8"])
def test_int8_artifacts_track_the_quantized_graph(exported, target):
    """INT8 artifacts agree with the torch Q/DQ graph they were made from (outputs within a few int8 steps)."""
    model, records, _ = exported
    crops = _crops()
    pred = open_predictor(records[target].path)
    got = pred.backend.run(crops)
    _, ref = _torch_points(model, crops)
    for name in ("score", "offset_x", "nb_x"):
        g, r = got[name], ref[name]
        rng = float(np.abs(r).max())
        assert np.abs(g - r).mean() < 0.05 * rng, f"{target} {name}: mean deviation {np.abs(g - r).mean():.4f} of range {rng:.3f}"


def test_metadata_round_trip(exported):
    model, records, _ = exported
    for name, rec in records.items():
        info = read_artifact_info(rec.path)
        assert info.spec == model.spec, name
        target = TARGETS[name if name in TARGETS else "tflite-int8"]
        assert info.export["precision"] == target.precision
        assert info.export["input"]["layout"] == "NHWC"
        if target.int8:
            assert info.export["quantization"]["method"] == "ptq"
            assert info.export["quantization"]["calibration"]["count"] == 32


def test_tflite_int8_has_integer_io(exported):
    from pipnet_edge.converters.tflite_flatbuffer import io_dtypes

    _, records, _ = exported
    ins, outs = io_dtypes(records["tflite-int8"].path)
    assert ins == ["int8"] and set(outs) == {"int8"}
    ins, outs = io_dtypes(records["tflite-int8-uint8"].path)
    assert ins == ["uint8"] and set(outs) == {"uint8"}
    ins, outs = io_dtypes(records["tflite"].path)
    assert ins == ["float32"]


def test_int8_artifacts_are_about_4x_smaller(exported):
    _, records, _ = exported
    for fmt, f32, i8 in (("onnx", "onnx", "onnx-int8"), ("tflite", "tflite", "tflite-int8")):
        ratio = records[f32].size_bytes / records[i8].size_bytes
        assert ratio > 1.8, f"{fmt}: int8 only {ratio:.1f}x smaller"  # tiny model: metadata and graph overhead dominate


def test_export_returns_typed_records(exported):
    import dataclasses

    from pipnet_edge.runtime.artifact import artifact_size

    _, records, _ = exported
    for key, rec in records.items():
        assert isinstance(rec, ExportRecord), key
        target = TARGETS[rec.target]
        assert rec.path.is_file() and rec.path.name == target.file_name("tiny", rec.io_dtype)
        assert rec.size_bytes == artifact_size(rec.path) > 0 and rec.seconds >= 0
        assert rec.summary["check"] == "no labels: the bundled check set"  # no --data: the check without labels
        assert (rec.quantization is not None) == target.int8, key
        d = rec.to_dict()  # the --json layout
        assert list(d) == ["target", "path", "size_bytes", "seconds", "io_dtype"] + (
            ["quantization", "summary", "integer_check"] if target.int8 else ["summary"])
        assert (rec.integer_check is not None and rec.integer_check["full_integer"]) == target.int8, key
        assert d["path"] == str(rec.path)
    assert records["tflite-int8"].io_dtype == "int8" and records["tflite-int8-uint8"].io_dtype == "uint8"
    assert records["tflite-int8-uint8"].path.name == "tiny_tflite-int8_uint8io.tflite"
    assert records["openvino"].size_bytes > records["openvino"].path.stat().st_size  # the weights .bin counts
    with pytest.raises(dataclasses.FrozenInstanceError):
        records["onnx"].size_bytes = 0  # type: ignore[misc]


def test_target_all_builds_each_onnx_graph_once(exported):
    """onnx, openvino and openvino-fp16 share one float ONNX graph; onnx-int8 and openvino-int8 one QDQ graph."""
    _, _, builds = exported
    assert sorted(builds) == ["float", "int8"], builds


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "pipnet_edge.export", *args], capture_output=True, text=True, timeout=timeout)


def test_cli_bad_arguments_fail_before_any_work(tmp_path):
    r = _cli("--target", "tflite-int9", "--data", "none")
    assert r.returncode == 2 and "unknown target 'tflite-int9'" in r.stderr
    r = _cli("--target", "onnx", "--weights", str(tmp_path / "missing.safetensors"), "--data", "none")
    assert r.returncode == 2 and "does not exist" in r.stderr
    from pipnet_edge import ModelSpec
    from pipnet_edge.models import create_model
    from pipnet_edge.models.checkpoint import save_model

    spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(size=(68, 2)), backbone="mobilenet_v3_small", input_size=64)
    w = save_model(create_model(spec), tmp_path / "small.safetensors")
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _cli("--target", "onnx-int8", "--weights", str(w), "--calib", str(empty), "--data", "none", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no images" in r.stderr
    assert not (tmp_path / "o").exists(), "nothing may be written before the arguments are checked"
    r = _cli("--target", "onnx-int8", "--weights", str(w), "--data", "none")
    assert r.returncode == 2 and "--calib" in r.stderr
    r = _cli("--target", "onnx", "--weights", str(w), "--imgsz", "70", "--data", "none")
    assert r.returncode == 2 and "multiple of the net stride" in r.stderr


def test_cli_exports_a_bundled_model_by_name(tmp_path):
    """``--model lite`` exports the bundled lite model under its own name; an unknown name is a clear error."""
    from pipnet_edge.assets import ASSETS_DIR, CARDS

    r = _cli("--target", "onnx", "--model", "tiny", "--data", "none")
    assert r.returncode == 2 and "unknown bundled model 'tiny' (--model)" in r.stderr and "lite" in r.stderr
    if not (ASSETS_DIR / CARDS["lite"].files["fp16"]).exists():
        pytest.skip("the bundled lite model is not in this checkout")
    r = _cli("--target", "onnx", "--model", "lite", "--data", "none", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    # our progress only: no third-party warnings (torch.onnx, torchao, litert) without --verbose
    lines = r.stderr.strip().splitlines()
    assert lines and all(" INFO pipnet_edge.export: " in line for line in lines), r.stderr
    assert "| onnx | pipnet_lite_300w68_onnx.onnx |" in r.stdout
    from pipnet_edge.runtime.artifact import read_artifact_info

    info = read_artifact_info(tmp_path / "pipnet_lite_300w68_onnx.onnx")
    assert info.spec.input_size == 112 and info.spec.backbone == "mobilenet_v2_s16_c512" and info.spec.num_nb == 5


def test_int8_onnx_runs_every_activation_clip_on_integers(exported):
    """No Clip on constants (OpenCV cannot read one) and no float ReLU6 between a dequantize and a quantize
    (onnxruntime cannot fuse one): the exporter's leftovers are folded / moved into the quantized domain."""
    import onnx

    graph = onnx.load(str(exported[1]["onnx-int8"].path)).graph
    inits = {t.name for t in graph.initializer}
    producer = {o: n.op_type for n in graph.node for o in n.output}
    clips = [n for n in graph.node if n.op_type == "Clip"]
    assert not [n.name for n in clips if all(i in inits for i in n.input if i)], "Clip on constants left in the graph"
    assert not [n.name for n in clips if producer.get(n.input[0]) == "DequantizeLinear"], "float Clip between DQ and Q"


def _qdq_clip_graph(scale: float, zero: int, lo: float | None, hi: float | None):
    """x -> Q(s, z) -> DQ -> Clip(lo, hi) -> Q(s, z) -> DQ -> y, uint8, the pattern PT2E exports for conv + ReLU6."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array(scale, np.float32), "s"), numpy_helper.from_array(np.array(zero, np.uint8), "z")]
    clip_in = ["dq1"]
    for name, v in (("lo", lo), ("hi", hi)):
        if v is None:
            clip_in.append("")
        else:
            inits.append(numpy_helper.from_array(np.array(v, np.float32), name))
            clip_in.append(name)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q1"]),
        helper.make_node("DequantizeLinear", ["q1", "s", "z"], ["dq1"]),
        helper.make_node("Clip", clip_in, ["c"], name="relu6"),
        helper.make_node("QuantizeLinear", ["c", "s", "z"], ["q2"]),
        helper.make_node("DequantizeLinear", ["q2", "s", "z"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 64])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("scale,zero,lo,hi", [(0.0294, 79, 0.0, 6.0), (0.0934, 70, 0.0, 6.0), (0.01, 200, -1.0, 0.5),
                                              (0.05, 10, 0.0, None)])
def test_clips_to_quantized_domain_is_exact(scale, zero, lo, hi):
    import onnx
    import onnxruntime as ort

    from pipnet_edge.converters.onnx import clips_to_quantized_domain

    model = _qdq_clip_graph(scale, zero, lo, hi)
    x = np.random.default_rng(0).uniform(-20, 20, (256, 64)).astype(np.float32)
    x[0, :3] = [lo or 0.0, hi or 0.0, 6.0]  # on the bounds
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert clips_to_quantized_domain(model) == 1
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["QuantizeLinear", "Clip", "DequantizeLinear"], ops
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(got, want)


def test_clips_with_other_parameters_are_left_alone():
    from onnx import numpy_helper

    from pipnet_edge.converters.onnx import clips_to_quantized_domain

    model = _qdq_clip_graph(0.03, 80, 0.0, 6.0)
    model.graph.initializer.append(numpy_helper.from_array(np.array(0.02, np.float32), "s2"))
    model.graph.node[3].input[1] = "s2"  # the second quantize has another scale: not the same grid
    assert clips_to_quantized_domain(model) == 0
    assert [n.op_type for n in model.graph.node].count("Clip") == 1


def test_fold_constant_clips():
    from onnx import TensorProto, helper, numpy_helper

    from pipnet_edge.converters.onnx import fold_constant_clips

    w = np.array([[-128, -5, 3, 127]], np.int8)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array(-127, np.int8), "lo"),
             numpy_helper.from_array(np.array(127, np.int8), "hi"), numpy_helper.from_array(np.array(0.1, np.float32), "s"),
             numpy_helper.from_array(np.array(0, np.int8), "z")]
    nodes = [helper.make_node("Clip", ["w", "lo", "hi"], ["wq"]), helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert fold_constant_clips(model) == 1
    assert [n.op_type for n in model.graph.node] == ["DequantizeLinear"]
    folded = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}["wq"]
    np.testing.assert_array_equal(folded, [[-127, -5, 3, 127]])

"""Full-integer INT8, pinned: no float tensor and no inner (de)quantize op in any INT8 TFLite (the bundled files and a
fresh export), a complete QDQ around every Add of the INT8 ONNX, export refusing a graph that is not integer, and
Arm's Vela placing every operator on the Ethos-U NPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("litert_torch")
pytest.importorskip("onnx")

from tiny import TinyResidualBackbone, tiny_residual_model  # noqa: E402

from pipnet_edge.assets import CARDS, bundled_model_path  # noqa: E402
from pipnet_edge.calibration import CalibrationSet  # noqa: E402
from pipnet_edge.converters.full_integer import check_onnx_qdq, check_tflite  # noqa: E402
from pipnet_edge.errors import ExportError, ModelLoadError  # noqa: E402
from pipnet_edge.export import export  # noqa: E402
from pipnet_edge.runtime.artifact import read_artifact_info  # noqa: E402

SIZE = 64


def _calib(n=16):
    import cv2

    rng = np.random.default_rng(1)
    crops = np.stack([cv2.GaussianBlur(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8), (0, 0), 2) for _ in range(n)])
    return CalibrationSet(crops, {"source": "synthetic", "count": n, "seed": 1})


def _float_tensors_and_ops(path):
    """Independent of check_tflite: the interpreter's own view of the file."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    floats = [d["name"] for d in it.get_tensor_details() if d["dtype"] == np.float32]
    ops = [o["op_name"] for o in it._get_ops_details()]
    return floats, ops


@pytest.mark.parametrize("name", sorted(CARDS))
def test_bundled_int8_tflite_is_integer_throughout(name):
    path = bundled_model_path(name)
    floats, ops = _float_tensors_and_ops(path)
    assert floats == [], f"{path.name}: float32 tensors {floats[:5]}"
    assert not {"QUANTIZE", "DEQUANTIZE"} & set(ops), f"{path.name}: (de)quantize ops inside the graph"
    assert ops.count("ADD") > 0  # the residual Adds are there, and integer
    check = check_tflite(path)
    assert check.ok and check.integer_operators == check.operators == len(ops), check.problems


@pytest.fixture(scope="module")
def npu_exports(tmp_path_factory):
    """A fresh export of a model with chained residual Adds: TFLite INT8 (int8 and float I/O), INT8 ONNX, two Vela targets."""
    import torch

    pytest.importorskip("ethosu", reason="Arm's Vela compiler (pip install 'pipnet-edge[ethos-u]')")
    torch.set_num_threads(1)
    model = tiny_residual_model()
    out = tmp_path_factory.mktemp("npu")
    calib = _calib()
    records = export(model, ["tflite-int8", "onnx-int8", "ethos-u55-128", "ethos-u65-256"], out, calib=calib, name="res", data="none")
    floatio = export(model, "tflite-int8", out, calib=calib, name="res", io_dtype="float32", data="none")
    return {r.target: r for r in records} | {"tflite-int8-float": floatio[0]}


def test_fresh_tflite_int8_export_is_integer_throughout(npu_exports):
    rec = npu_exports["tflite-int8"]
    floats, ops = _float_tensors_and_ops(rec.path)
    assert floats == []
    assert not {"QUANTIZE", "DEQUANTIZE"} & set(ops)
    assert ops.count("ADD") == TinyResidualBackbone.residual_adds
    assert rec.integer_check["full_integer"] and rec.integer_check["problems"] == []


def test_float_io_keeps_its_quantize_ops_at_the_edges_only(npu_exports):
    rec = npu_exports["tflite-int8-float"]
    floats, ops = _float_tensors_and_ops(rec.path)
    assert len(floats) == 6  # the image in, the five heads out
    assert ops[0] == "QUANTIZE" and ops.count("DEQUANTIZE") == 5 and ops.count("QUANTIZE") == 1
    check = check_tflite(rec.path)
    assert check.ok and check.edge_operators == 6


def test_int8_onnx_has_a_complete_qdq_around_every_add(npu_exports):
    import onnx

    g = onnx.load(str(npu_exports["onnx-int8"].path)).graph
    producer = {o: n.op_type for n in g.node for o in n.output}
    adds = [n for n in g.node if n.op_type == "Add"]
    assert len(adds) == TinyResidualBackbone.residual_adds
    for n in adds:
        assert [producer[i] for i in n.input] == ["DequantizeLinear", "DequantizeLinear"]
        assert {c.op_type for c in g.node if n.output[0] in c.input} == {"QuantizeLinear"}
    assert check_onnx_qdq(npu_exports["onnx-int8"].path).ok


def test_export_refuses_a_graph_that_is_not_integer(tmp_path, monkeypatch):
    """The quantizer of pipnet-edge <= 0.1.0 (chained Adds left float): the export names the float ops and writes nothing."""
    import pipnet_edge.quantization.graph as graph
    from pipnet_edge.quantization import quantizer

    monkeypatch.setattr(graph, "make_quantizer", lambda qat, **kw: quantizer.make_quantizer(qat, integer_adds=False))
    with pytest.raises(ExportError, match="not full-integer") as err:
        export(tiny_residual_model(), "tflite-int8", tmp_path, calib=_calib(), name="legacy")
    assert "ADD" in str(err.value) or "DEQUANTIZE" in str(err.value)
    assert not list(tmp_path.glob("*.tflite"))
    with pytest.raises(ExportError, match="not full-integer"):
        export(tiny_residual_model(), "onnx-int8", tmp_path, calib=_calib(), name="legacy")
    assert not list(tmp_path.glob("*.onnx"))


@pytest.mark.parametrize("target", ["ethos-u55-128", "ethos-u65-256"])
def test_vela_places_every_operator_on_the_npu(npu_exports, target):
    rec = npu_exports[target]
    rep = rec.compiler_report
    assert rep["cpu_operators"] == 0 and rep["npu_operators"] > 0, rep["cpu_operator_reasons"]
    assert rep["accelerator"] == target and rep["compiler"].startswith("vela ")
    assert rep["inference_time_ms"] > 0 and rep["nn_macs"] > 0 and rep["sram_kib"] > 0
    info = read_artifact_info(rec.path)  # our metadata survives Vela, with its report
    assert info.target == target and info.export["npu"]["cpu_operators"] == 0
    assert info.spec.input_size == SIZE
    assert json.loads(json.dumps(rec.to_dict()))["compiler_report"]["accelerator"] == target


def test_runtime_asks_for_the_npu_delegate(npu_exports):
    from pipnet_edge.runtime import Landmarker

    with pytest.raises(ModelLoadError, match="delegate"):
        Landmarker(str(npu_exports["ethos-u55-128"].path))


def test_npu_target_without_vela_says_what_to_install(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ethosu" else real(name, *a))
    with pytest.raises(ExportError, match=r"pipnet-edge\[ethos-u\]"):
        export(tiny_residual_model(), "ethos-u55-128", tmp_path, calib=_calib())

"""The Python export API: argument errors before any work, shared ONNX graphs, quiet third-party output."""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings

import numpy as np
import pytest

from pipnet_edge.converters.targets import TARGETS
from pipnet_edge.errors import ExportError
from pipnet_edge.export import ExportRecord, export


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("torch")
    from tiny import tiny_model

    return tiny_model()


# ---------------------------------------------------------------------------- errors
def test_unknown_target_and_io_dtype_fail_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=r"unknown target 'tflite-int9'; choose from: onnx, .*, ethos-u55-128, .* or a group: all, ethos-u"):
        export("default", ["onnx", "tflite-int9"], out)
    with pytest.raises(ExportError, match=r"unknown io_dtype 'int4'; choose from: float32, int8, uint8"):
        export("default", "tflite-int8", out, io_dtype="int4")
    with pytest.raises(ExportError, match=r"no target given"):
        export("default", [], out)
    assert not out.exists()


def test_missing_files_and_names_are_export_errors(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=r"weights file .*missing.safetensors does not exist"):
        export(tmp_path / "missing.safetensors", "onnx", out)
    with pytest.raises(ExportError, match=r"weights file .*q.safetensors does not exist"):
        export("default", "onnx-int8", out, qat=str(tmp_path / "q.safetensors"))
    with pytest.raises(ExportError, match=r"unknown bundled model 'medium' \(--model\); choose from: default, lite"):
        export("medium", "onnx", out)
    with pytest.raises(ExportError, match=r"labelled data \(--data\) .*nowhere does not exist"):
        export("default", "onnx", out, data=tmp_path / "nowhere")
    with pytest.raises(ExportError, match=r"nothing to export"):
        export(None, "onnx", out)
    assert not out.exists()


def test_int8_from_a_float_model_needs_calibration(tiny, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=r"INT8 targets from a float model need --calib DIR \(calib= in Python\)"):
        export(tiny, ["onnx", "tflite-int8"], out)
    with pytest.raises(ExportError, match=r"calibration faces \(--calib\) .*nowhere do not exist"):
        export(tiny, "onnx-int8", out, calib=tmp_path / "nowhere")
    with pytest.raises(ExportError, match=r"imgsz \(--imgsz\) 70 must be a multiple of the net stride 32"):
        export(tiny, "onnx", out, imgsz=70)
    with pytest.raises(ExportError, match=r"model must be a bundled name, a weights file, a PIPNet or a QATModel, not int"):
        export(3, "onnx", out)
    assert not out.exists()


# ---------------------------------------------------------------------------- shared ONNX graph
def test_openvino_float_targets_share_one_onnx_graph_when_onnx_is_not_asked_for(tiny, tmp_path, monkeypatch):
    pytest.importorskip("openvino")
    import pipnet_edge.converters.onnx as onnx_converter
    from pipnet_edge.runtime.artifact import read_artifact_info

    builds = []
    build = onnx_converter.build_onnx_module
    monkeypatch.setattr(onnx_converter, "build_onnx_module", lambda *a, **k: builds.append(1) or build(*a, **k))
    records = export(tiny, ["openvino", "openvino-fp16"], tmp_path, name="t", json_path=tmp_path / "export.json")
    assert len(builds) == 1
    assert [r.target for r in records] == ["openvino", "openvino-fp16"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export.json", "reports", "t_openvino-fp16.bin", "t_openvino-fp16.xml", "t_openvino.bin", "t_openvino.xml",
    ]  # no temporary ONNX left behind (reports/: the accuracy check on the bundled check set)
    assert [read_artifact_info(r.path).precision for r in records] == ["fp32", "fp16"]
    doc = json.loads((tmp_path / "export.json").read_text())
    assert list(doc) == ["records", "total_seconds"] and doc["records"] == [r.to_dict() for r in records]


# ---------------------------------------------------------------------------- quiet unless verbose
def _noisy_builder(ctx, target, path, io_dtype, metadata):
    print("stdout noise")
    warnings.warn("a converter's warning", UserWarning)
    logging.getLogger("torch.onnx").warning("torch noise")
    logging.getLogger("torchao").warning("torchao noise")
    logging.getLogger().warning("root noise")  # what litert-torch's logging.warning(...) does
    logging.getLogger("pipnet_edge.export").info("our line")
    path.write_bytes(b"x")
    return path


@pytest.mark.parametrize("verbose", [False, True])
def test_third_party_output_is_silenced_unless_verbose(tiny, tmp_path, monkeypatch, capsys, caplog, verbose):
    pytest.importorskip("onnx")
    monkeypatch.setitem(TARGETS, "onnx", dataclasses.replace(TARGETS["onnx"], builder=_noisy_builder))
    caplog.set_level(logging.INFO, logger="pipnet_edge")
    levels = {name: logging.getLogger(name).level for name in ("torch.onnx", "torchao", "")}
    handlers = {name: _Messages() for name in ("", "torch.onnx")}
    for name, h in handlers.items():
        logging.getLogger(name).addHandler(h)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            records = export(tiny, "onnx", tmp_path, name="n", verbose=verbose)
    finally:
        for name, h in handlers.items():
            logging.getLogger(name).removeHandler(h)
    assert isinstance(records[0], ExportRecord) and records[0].size_bytes == 1
    seen = handlers[""].messages + handlers["torch.onnx"].messages
    assert "our line" in seen and any(m.startswith("onnx ") for m in seen), seen  # ours always
    noise = {"torch noise", "torchao noise", "root noise"}
    assert (noise <= set(seen)) if verbose else not (noise & set(seen)), seen
    assert any("a converter's warning" in str(w.message) for w in caught) == verbose
    assert ("stdout noise" in capsys.readouterr().out) == verbose
    # and the logging setup is back as it was
    assert {name: logging.getLogger(name).level for name in levels} == levels and not logging.getLogger().filters


def test_real_onnx_export_is_quiet_and_leaves_the_callers_model_alone(tiny, tmp_path):
    """torch.onnx logs a warning per missing torchvision operator on every export; none gets through."""
    pytest.importorskip("onnx")
    import importlib.util

    from pipnet_edge.runtime.artifact import read_artifact_info

    handler = _Messages()
    logging.getLogger("torch.onnx").addHandler(handler)
    try:
        records = export(tiny, "onnx", tmp_path / "q", imgsz=96)
        assert handler.messages == []
        if importlib.util.find_spec("torchvision") is None:
            export(tiny, "onnx", tmp_path / "v", verbose=True)
            assert any("torchvision" in m for m in handler.messages), handler.messages
    finally:
        logging.getLogger("torch.onnx").removeHandler(handler)
    assert read_artifact_info(records[0].path).spec.input_size == 96
    assert tiny.spec.input_size == 64  # imgsz exported a copy
    assert np.isfinite(records[0].seconds)


@pytest.mark.parametrize("verbose", [False, True])
def test_ai_edge_quantizers_progress_bar_is_hidden_unless_verbose(capsys, verbose):
    """litert-torch's fp16 recipe runs ai-edge-quantizer, whose tqdm bar ("Applying Transformations to tensors:")
    is drawn for graphs of 100 tensors or more: the bar itself, without a full export."""
    progress_utils = pytest.importorskip("ai_edge_quantizer.utils.progress_utils")
    import tqdm

    from pipnet_edge.converters.quiet import quiet

    original = tqdm.tqdm
    with quiet(verbose):
        with progress_utils.ProgressBar(total_steps=200, description="Applying Transformations to tensors:") as bar:
            for _ in range(200):
                bar.update_single_step()
    assert ("Applying Transformations" in capsys.readouterr().err) == verbose
    assert tqdm.tqdm is original

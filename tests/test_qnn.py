"""Qualcomm Hexagon NPU (HTP) through onnxruntime-qnn: ``Landmarker(int8.onnx, device=["QNNExecutionProvider"])`` runs the
whole model on the HTP (on x86-64 Linux, Qualcomm's simulator in the wheel) or refuses it with a ModelLoadError, and
``compile_qnn_context`` writes an ahead-of-time context binary ONNX that the same backend loads.

The HTP tests skip without onnxruntime-qnn (``pip install 'pipnet-edge[qnn]'``); the option checks and the refusal when
it is missing run everywhere. Measured on a tiny residual model and 8 synthetic crops (onnxruntime-qnn 2.7.0, QNN SDK
2.51): HTP heads 1.4x as far from the QDQ graph's exact semantics as onnxruntime CPU's (0.030 vs 0.021 mean), 94-97 % of
heatmap cells agree; the context binary's outputs equal a just-in-time session's for the same SoC exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pipnet_edge.errors import ExportError, InputError, ModelLoadError
from pipnet_edge.runtime.backends.qnn import QNN_EP, QNN_SOCS, qnn_provider_options, soc_model_id

try:
    import onnxruntime_qnn  # noqa: F401  (sets up its library path only)

    HAVE_QNN = True
except ImportError:
    HAVE_QNN = False
needs_qnn = pytest.mark.skipif(
    not HAVE_QNN, reason="onnxruntime-qnn is not installed (pip install 'pipnet-edge[qnn]'): its HTP simulator runs these")
SIZE = 64


# --------------------------------------------------------------------------- options (no onnxruntime needed)
def test_soc_model_names_and_ids():
    assert soc_model_id("SM8650") == soc_model_id("sm8650") == soc_model_id(57) == soc_model_id("57") == 57
    assert QNN_SOCS["SM8550"].soc_model == 43 and QNN_SOCS["SM8750"].soc_model == 69
    assert len({s.soc_model for s in QNN_SOCS.values()}) == len(QNN_SOCS)  # one id per SoC
    with pytest.raises(InputError, match="unknown soc_model 'SM9999'.*SM8650"):
        soc_model_id("SM9999")  # onnxruntime-qnn itself would compile for "unknown SoC" with a log warning only


def test_provider_forms():
    assert qnn_provider_options(None) is None
    assert qnn_provider_options(["CPUExecutionProvider"]) is None
    assert qnn_provider_options([QNN_EP]) == {}
    opts = {"soc_model": "SM8650", "htp_performance_mode": "burst"}
    want = {"soc_model": "57", "htp_performance_mode": "burst"}
    assert qnn_provider_options([(QNN_EP, opts)]) == want
    assert qnn_provider_options([QNN_EP, opts]) == want  # Landmarker(device=("QNNExecutionProvider", {...})) flattens
    with pytest.raises(InputError, match="CPU fallback is disabled.*CPUExecutionProvider"):
        qnn_provider_options([QNN_EP, "CPUExecutionProvider"])


# --------------------------------------------------------------------------- models
def _crops(n=8, seed=3):
    import cv2

    rng = np.random.default_rng(seed)
    return np.stack([cv2.GaussianBlur(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8), (0, 0), 2) for _ in range(n)])


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """Float and INT8 (QDQ) ONNX of a tiny model with residual Adds (MobileNetV2's blocks in miniature)."""
    for module in ("onnx", "onnxruntime", "litert_torch"):
        pytest.importorskip(module)
    import torch

    import tiny
    from pipnet_edge.calibration import CalibrationSet
    from pipnet_edge.export import export

    torch.set_num_threads(2)
    make = getattr(tiny, "tiny_residual_model", tiny.tiny_model)
    calib = CalibrationSet(_crops(16, seed=1), {"source": "synthetic", "count": 16, "seed": 1})
    records = export(make(), ["onnx", "onnx-int8"], tmp_path_factory.mktemp("qnn"), calib=calib, name="tiny", data="none")
    return {r.target: Path(r.path) for r in records}


def _lm(path, device=None, **kw):
    from pipnet_edge.runtime import Landmarker

    return Landmarker(str(path), device=device, detector=None, **kw)


def test_missing_onnxruntime_qnn_names_the_package(exports, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime_qnn", None)  # import onnxruntime_qnn -> ImportError
    with pytest.raises(ModelLoadError, match=r"onnxruntime-qnn.*pip install 'pipnet-edge\[qnn\]'"):
        _lm(exports["onnx-int8"], [QNN_EP])
    from pipnet_edge.converters.qnn import compile_qnn_context

    with pytest.raises(ExportError, match="onnxruntime-qnn"):
        compile_qnn_context(exports["onnx-int8"], exports["onnx-int8"].with_name("x_ctx.onnx"), "SM8650")


@needs_qnn
def test_int8_runs_whole_on_htp_and_agrees_with_cpu(exports):
    """CPU fallback is disabled, so loading at all means every node is on the HTP; its heads stay as close to the QDQ
    graph's exact semantics as onnxruntime CPU's (a lost scale or a float fallback would be far off)."""
    crops = _crops()
    htp = _lm(exports["onnx-int8"], [QNN_EP])
    assert "QNN HTP" in htp.backend.describe() and htp.backend.one_at_a_time
    cpu = _lm(exports["onnx-int8"])
    exact = _lm(exports["onnx-int8"], backend_options={"optimize": False})  # no integer kernels, no fusion
    h, c, e = htp.backend.run(crops), cpu.backend.run(crops), exact.backend.run(crops)
    for name in h:
        d_htp, d_cpu = np.abs(h[name] - e[name]).mean(), np.abs(c[name] - e[name]).mean()
        assert d_htp <= 2.0 * d_cpu + 1e-3, f"{name}: HTP {d_htp:.4f} from the exact semantics, CPU {d_cpu:.4f}"
    agree = (htp.predict_crops(crops).cells == cpu.predict_crops(crops).cells).mean()
    assert agree > 0.85, f"only {agree:.1%} of heatmap cells agree between HTP and CPU"


@needs_qnn
def test_batches_run_one_face_at_a_time(exports):
    crops = _crops(5)
    htp = _lm(exports["onnx-int8"], [QNN_EP])
    whole = htp.backend.run(crops)
    single = [htp.backend.run(crops[i : i + 1]) for i in range(len(crops))]
    for name, out in whole.items():
        assert out.shape[0] == len(crops)
        np.testing.assert_array_equal(out, np.concatenate([s[name] for s in single]))


@needs_qnn
def test_float_model_refused_without_a_soc(exports):
    """Measured: QNN fails to finalize a float graph for no SoC (QNN_COMMON_ERROR_MEM_ALLOC); refused up front."""
    with pytest.raises(ModelLoadError, match="fp32 model.*soc_model.*onnx-int8"):
        _lm(exports["onnx"], [QNN_EP])


@needs_qnn
def test_float_model_runs_in_fp16_for_a_soc(exports):
    crops = _crops(4)
    htp = _lm(exports["onnx"], [(QNN_EP, {"soc_model": "SM8650"})])
    assert "soc_model 57" in htp.backend.describe()
    h, c = htp.backend.run(crops), _lm(exports["onnx"]).backend.run(crops)
    for name in h:
        assert np.abs(h[name] - c[name]).max() < 0.05, name  # fp16 (measured < 0.011)


@needs_qnn
def test_bad_provider_lists_refused(exports):
    with pytest.raises(InputError, match="CPU fallback"):
        _lm(exports["onnx-int8"], [QNN_EP, "CPUExecutionProvider"])
    with pytest.raises(InputError, match="unknown soc_model"):
        _lm(exports["onnx-int8"], [(QNN_EP, {"soc_model": "SM1234"})])


@needs_qnn
def test_context_binary_compiles_and_loads(exports, tmp_path):
    import onnx

    from pipnet_edge.converters.qnn import COMPAT_KEY, compile_qnn_context
    from pipnet_edge.runtime.artifact import read_artifact_info

    src, ctx = exports["onnx-int8"], tmp_path / "tiny_qnn-sm8650_ctx.onnx"
    report = compile_qnn_context(src, ctx, "SM8650")
    assert ctx.is_file() and report["context_bytes"] == ctx.stat().st_size
    assert report["soc_model"] == 57 and report["soc"] == "SM8650" and report["binary_bytes"] > 0
    model = onnx.load(str(ctx))
    assert [n.op_type for n in model.graph.node] == ["EPContext"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1  # batch fixed to 1
    assert {p.key: p.value for p in model.metadata_props}[COMPAT_KEY].split(":")[5] == "57"
    assert read_artifact_info(ctx) == read_artifact_info(src)  # our metadata travels

    crops = _crops(3)
    aot = _lm(ctx, [QNN_EP])
    jit = _lm(src, [(QNN_EP, {"soc_model": "SM8650"})])
    a, j = aot.backend.run(crops), jit.backend.run(crops)
    for name in a:
        np.testing.assert_array_equal(a[name], j[name])
    with pytest.raises(ModelLoadError, match="QNN context binary.*QNNExecutionProvider"):
        _lm(ctx)  # onnxruntime CPU cannot run an EPContext node
    with pytest.raises(ExportError, match="unknown soc_model"):
        compile_qnn_context(src, tmp_path / "x_ctx.onnx", "SM0000")


def test_qnn_context_export_target(exports, tmp_path):
    """``export(..., "qnn-context", qnn_soc=...)``: the context binary for that SoC, QNN's report in the record and the
    artifact's metadata, and a bad SoC refused before any work."""
    import tiny
    from pipnet_edge.calibration import CalibrationSet
    from pipnet_edge.export import export
    from pipnet_edge.runtime.artifact import read_artifact_info

    calib = CalibrationSet(_crops(16, seed=1), {"source": "synthetic", "count": 16, "seed": 1})
    model = tiny.tiny_residual_model()
    (rec,) = export(model, "qnn-context", tmp_path, calib=calib, name="tiny", qnn_soc="SM8550")
    assert rec.path.name == "tiny_qnn-context_sm8550.onnx"
    assert rec.integer_check["full_integer"] and rec.compiler_report["soc"] == "SM8550"
    info = read_artifact_info(rec.path)
    assert info.target == "qnn-context" and info.export["npu"]["soc_model"] == 43
    out = _lm(rec.path, [QNN_EP]).backend.run(_crops(2))
    assert out["score"].shape[0] == 2
    with pytest.raises(ExportError, match="qnn_soc"):
        export(model, "qnn-context", tmp_path / "bad", calib=calib, qnn_soc="SM0000")
    assert not (tmp_path / "bad").exists()

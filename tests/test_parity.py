"""Parity of the bundled default model across runtimes, on real training faces.

Float artifacts must land on the torch float model's landmarks (to 2e-4 px; measured < 1e-4); INT8 artifacts
must agree with each other (one quantized graph) and stay within a stated NME bound of float.
A failure names the backend, the face, the landmark and the distance.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipnet_edge.assets import ASSETS_DIR, BUNDLED_MODELS

if not (ASSETS_DIR / BUNDLED_MODELS["default-fp16"]).exists():
    pytest.skip("the bundled model is not in this checkout", allow_module_level=True)
pytest.importorskip("litert_torch")

from pipnet_edge.evaluation.report import worst_difference  # noqa: E402
from pipnet_edge.evaluation import open_predictor, predict_faces  # noqa: E402
from pipnet_edge.metrics import summarize  # noqa: E402

FACES = 24
INT8_NME_BOUND = 0.30  # % NME over float on these faces (measured +0.006 on the 554 test faces, tflite-int8)
INT8_AGREEMENT_PX = {"onnx-int8": 0.5, "openvino-int8": 2.0}  # mean px from the tflite-int8 points
INT8_EXACT_PX = 1.5  # mean px of every INT8 runtime from the graph's exact semantics (onnxruntime, optimisations off)
INT8_NME_AGREEMENT = 0.1  # % NME between each INT8 runtime and TFLite INT8 on these faces
# Measured on these 24 faces with the bundled default model of 2026-11-30 13:30 UTC (the self-trained one): onnxruntime
# 0.41 px from TFLite (0.36 px on the 554 test faces; 0.06 px with the model of 10:40 UTC, 0.45-0.64 px with the one
# before, when this bound was 1.0), OpenVINO 1.15 px (1.08 px on the test faces); from the exact semantics TFLite 1.07,
# onnxruntime 1.12, OpenVINO 1.12 px; NME 3.658 % on TFLite, 3.665 onnxruntime, 3.678 OpenVINO, 3.640 exact.
# Why (`python -m benchmarks int8_agreement --artifacts exports/`): no runtime runs the QDQ graph exactly; each rounds
# its integer arithmetic its own way (OpenVINO, for one, drops the rounding of the convolution before each residual
# Add), and this model turns one-step differences in its head outputs into about a pixel (0.4 px per offset step,
# 1.1 px per neighbour-offset step at its 32-px cells). Forcing OpenVINO to keep that rounding, in f32, still leaves it
# 1.0 px from TFLite. So the OpenVINO bound holds its measured gap, INT8_EXACT_PX holds every runtime to the graph and
# INT8_NME_AGREEMENT holds them to the same accuracy.


@pytest.fixture(scope="module")
def setup(train_dir, tmp_path_factory):
    import torch

    from pipnet_edge.assets import bundled_model_path
    from pipnet_edge.data.annotations import load_300w_folder
    from pipnet_edge.export import export
    from pipnet_edge.models.checkpoint import load_model
    from pipnet_edge.quantization import QATModel

    torch.set_num_threads(2)
    records = load_300w_folder(train_dir)[::80][:FACES]
    float_model = load_model(bundled_model_path("default-fp16"))
    qat = QATModel.load(bundled_model_path("default-qat"))
    out = tmp_path_factory.mktemp("parity")
    artifacts = export(float_model, ["onnx", "openvino", "tflite", "onnx-int8", "openvino-int8"], out, qat=qat, name="default",
                       source_info={"weights": "bundled"}, data="none")  # the parity checks below are the check
    paths = {r.target: str(r.path) for r in artifacts}
    paths["tflite-int8"] = str(bundled_model_path("default"))
    from pipnet_edge.evaluation.predictors import torch_predictor

    ref = predict_faces(torch_predictor(float_model, "torch float"), records)
    preds = {t: predict_faces(open_predictor(p), records) for t, p in paths.items()}
    # the same float and INT8 ONNX files on OpenCV's DNN (nothing but OpenCV installed on a device)
    for t in ("onnx", "onnx-int8"):
        preds[f"{t}-opencv"] = predict_faces(open_predictor(paths[t], "opencv", num_threads=1), records)
    # the INT8 graph's exact semantics: onnxruntime with every graph optimisation off (no integer kernels, no fusion)
    preds["exact"] = predict_faces(open_predictor(paths["onnx-int8"], "onnxruntime", optimize=False), records)
    return records, ref, preds, float_model.spec.scheme


@pytest.mark.parametrize("target", ["onnx", "openvino", "tflite"])
def test_float_artifacts_equal_torch(setup, target):
    records, ref, preds, _ = setup
    d = np.linalg.norm(preds[target].points - ref.points, axis=-1)
    assert d.max() < 2e-4, worst_difference(ref.points, preds[target].points, ref.names, f"{target} vs torch float")


@pytest.mark.parametrize("target", ["onnx-int8", "openvino-int8", "tflite-int8"])
def test_int8_artifacts_close_to_float(setup, target):
    records, ref, preds, scheme = setup
    nme_f = summarize(ref.points, ref.truth, scheme).nme
    nme_q = summarize(preds[target].points, preds[target].truth, scheme).nme
    assert nme_q - nme_f < INT8_NME_BOUND, (
        f"{target}: NME {nme_q:.3f} % vs float {nme_f:.3f} %; "
        + worst_difference(ref.points, preds[target].points, ref.names, f"{target} vs torch float")
    )


@pytest.mark.parametrize("target", ["onnx-int8", "openvino-int8"])
def test_int8_runtimes_agree(setup, target):
    records, _, preds, _ = setup
    a, b = preds["tflite-int8"].points, preds[target].points
    assert np.linalg.norm(a - b, axis=-1).mean() < INT8_AGREEMENT_PX[target], worst_difference(a, b, [r.name for r in records], f"{target} vs tflite-int8")


@pytest.mark.parametrize("target", ["onnx-int8", "openvino-int8"])
def test_int8_runtimes_same_accuracy(setup, target):
    """However far apart their points land, the INT8 runtimes are equally accurate (NME within INT8_NME_AGREEMENT)."""
    _, _, preds, scheme = setup
    nme_ref = summarize(preds["tflite-int8"].points, preds["tflite-int8"].truth, scheme).nme
    nme = summarize(preds[target].points, preds[target].truth, scheme).nme
    assert abs(nme - nme_ref) < INT8_NME_AGREEMENT, f"{target}: NME {nme:.3f} % vs TFLite INT8 {nme_ref:.3f} %"


@pytest.mark.parametrize("target", ["onnx-int8", "openvino-int8", "tflite-int8"])
def test_int8_runtimes_run_the_graph(setup, target):
    """Every INT8 runtime lands within INT8_EXACT_PX of the quantized graph's exact semantics (a wrong scale, a lost
    quantizer or a float fallback would move the points by many pixels)."""
    records, _, preds, _ = setup
    a, b = preds["exact"].points, preds[target].points
    d = np.linalg.norm(a - b, axis=-1).mean()
    assert d < INT8_EXACT_PX, worst_difference(a, b, [r.name for r in records], f"{target} vs the exact QDQ semantics")


@pytest.mark.parametrize("target", ["onnx", "onnx-int8"])
def test_opencv_dnn_matches_onnxruntime(setup, target):
    """backend="opencv" runs the float ONNX of the bundled default model at onnxruntime's NME (+-0.02) and the INT8 ONNX
    as the other INT8 runtimes, within INT8_NME_AGREEMENT: OpenCV's integer kernels round their own way. Measured with
    the full-integer graph of 2026-12-06: 0.022 apart on these 24 faces, 3.066 vs 3.068 % on the 554 test faces."""
    records, _, preds, scheme = setup
    nme_ort = summarize(preds[target].points, preds[target].truth, scheme).nme
    nme_cv = summarize(preds[f"{target}-opencv"].points, preds[target].truth, scheme).nme
    assert abs(nme_cv - nme_ort) < (INT8_NME_AGREEMENT if target.endswith("int8") else 0.02), (
        f"{target}: OpenCV NME {nme_cv:.4f} % vs onnxruntime {nme_ort:.4f} %; "
        + worst_difference(preds[target].points, preds[f"{target}-opencv"].points, [r.name for r in records], f"{target} opencv vs onnxruntime")
    )

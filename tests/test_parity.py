"""Parity of the bundled default model across runtimes, on real training faces.

Float artifacts must land on the torch float model's landmarks (to 2e-4 px; measured < 1e-4); INT8 artifacts
must agree with each other (one quantized graph) and stay within a stated NME bound of float.
A failure names the backend, the face, the landmark and the distance.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipnet_edge.assets import ASSETS_DIR, BUNDLED_MODELS

if not (ASSETS_DIR / BUNDLED_MODELS["default-float"]).exists():
    pytest.skip("the bundled model is not in this checkout", allow_module_level=True)
pytest.importorskip("litert_torch")

from pipnet_edge.evaluation.report import worst_difference  # noqa: E402
from pipnet_edge.evaluation import open_predictor, predict_faces  # noqa: E402
from pipnet_edge.metrics import summarize  # noqa: E402

FACES = 24
INT8_NME_BOUND = 0.30  # % NME over float on these faces (measured +0.006 on the 554 test faces, tflite-int8)
INT8_AGREEMENT_PX = {"onnx-int8": 0.5, "openvino-int8": 2.0}  # mean px from the tflite-int8 points
INT8_EXACT_PX = 1.5  # mean px of every INT8 runtime from the graph's exact semantics (onnxruntime, optimisations off)
# Measured on these 24 faces with the bundled default model of 2026-11-30 10:40 UTC: onnxruntime 0.06 px from TFLite
# (0.08 px on the 554 test faces; 0.45-0.64 px with the model before, when this bound was 1.0), OpenVINO 1.20 px
# (1.13 px on the test faces, at the same NME); from the exact semantics onnxruntime 1.05, OpenVINO 1.20, TFLite 1.07.
# Why (`python benchmarks/int8_agreement.py --artifacts exports/`): no runtime runs the QDQ graph exactly. OpenVINO
# follows the graph through the convolutions but fuses the convolution before each residual Add into the Add and drops
# its requantization; onnxruntime's and TFLite's integer kernels round differently too (44 % of onnxruntime's values
# after the first Add differ from the graph's), but alike; and this model turns a step anywhere into about a pixel at
# its 32-px cells. So the OpenVINO bound holds its measured gap, and INT8_EXACT_PX holds every runtime to the graph.


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
    float_model = load_model(bundled_model_path("default-float"))
    qat = QATModel.load(bundled_model_path("default-qat"))
    out = tmp_path_factory.mktemp("parity")
    artifacts = export(float_model, ["onnx", "openvino", "tflite", "onnx-int8", "openvino-int8"], out, qat=qat, name="default",
                       source_info={"weights": "bundled"})
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
    """backend="opencv" runs the float and the INT8 ONNX of the bundled default model at onnxruntime's NME (+-0.02)."""
    records, _, preds, scheme = setup
    nme_ort = summarize(preds[target].points, preds[target].truth, scheme).nme
    nme_cv = summarize(preds[f"{target}-opencv"].points, preds[target].truth, scheme).nme
    assert abs(nme_cv - nme_ort) < 0.02, (
        f"{target}: OpenCV NME {nme_cv:.4f} % vs onnxruntime {nme_ort:.4f} %; "
        + worst_difference(preds[target].points, preds[f"{target}-opencv"].points, [r.name for r in records], f"{target} opencv vs onnxruntime")
    )

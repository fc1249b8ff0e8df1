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
INT8_AGREEMENT_PX = {"onnx-int8": 1.0, "openvino-int8": 2.0}  # mean px from the tflite-int8 points
# With ReLU6 fused into its convolution (the QAT scheme since 2026-11-30) onnxruntime and TFLite land 0.64 px apart
# on these faces (0.45 px on the 554 test faces; 0.17 px with the older shared-grid scheme, whose INT8 cost was
# +0.08 NME instead of +0.01). OpenVINO runs the same QDQ graph with its own low-precision transformations and lands
# 1.11 px (1.04 px with the f32 hint) from TFLite on the test faces at the same NME: a known gap (issue 15), bounded
# here so that it cannot silently grow. `python benchmarks/int8_agreement.py --artifacts exports/` measures all of it.


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

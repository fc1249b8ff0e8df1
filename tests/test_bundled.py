"""The bundled models (default and lite): work with no download, track video, their INT8 matches their float model."""

from __future__ import annotations

import numpy as np
import pytest

from pipnet_edge.assets import ASSETS_DIR, BUNDLED_MODELS

if not (ASSETS_DIR / BUNDLED_MODELS["default"]).exists():
    pytest.skip("the bundled model is not in this checkout", allow_module_level=True)

from pipnet_edge.runtime import Landmarker, geometry  # noqa: E402


def _faces(train_dir, n):
    from pipnet_edge.data.annotations import load_300w_folder

    return load_300w_folder(train_dir)[:n]


def _rgb(path):
    import cv2

    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("model", [None, "lite"])
def test_three_lines_on_a_photo_without_the_300w_data(model):
    """The README's three lines, on a public-domain photo that ships with the repository."""
    import cv2

    from conftest import ROOT

    image = cv2.imread(str(ROOT / "docs" / "astronaut.png"))
    faces = Landmarker(model).detect(image, color_order="BGR")
    assert len(faces) == 1
    face = faces[0]
    x0, y0, x1, y1 = face.box
    assert face.points.shape == (68, 2) and face.score > 0.3
    inside = (face.points[:, 0] > x0 - 0.3 * (x1 - x0)) & (face.points[:, 0] < x1 + 0.3 * (x1 - x0))
    assert inside.all()
    # anatomy: the subject's right eye (36-41) is on the image's left, the mouth below the nose tip, chin lowest
    assert face.points[36:42, 0].mean() < face.points[42:48, 0].mean()
    assert face.points[30, 1] < face.points[62, 1] < face.points[8, 1]


def test_bare_landmarker_on_a_real_photo(train_dir):
    rec = _faces(train_dir, 1)[0]
    lm = Landmarker()
    assert lm.info.precision == "int8" and lm.spec.num_points == 68
    result = lm.detect(_rgb(rec.image_path))  # default YuNet detector, no boxes
    assert len(result) >= 1
    best = min(result, key=lambda f: np.abs(f.points - rec.points).mean())
    iod = np.linalg.norm(rec.points[36] - rec.points[45])
    assert np.linalg.norm(best.points - rec.points, axis=1).mean() / iod < 0.08
    assert best.score > 0.3


@pytest.mark.parametrize("name", ["default", "lite"])
def test_int8_matches_float_on_real_faces(train_dir, name):
    """The shipped full-INT8 TFLite vs the shipped float model, 32 training faces, GT-box crops."""
    pytest.importorskip("torch")
    from pipnet_edge.evaluation import open_predictor, predict_faces
    from pipnet_edge.metrics import summarize

    recs = _faces(train_dir, 32)
    f = predict_faces(open_predictor(f"{name}-fp16"), recs)
    q = predict_faces(open_predictor(name), recs)
    scheme = open_predictor(name).spec.scheme
    nme_f, nme_q = summarize(f.points, f.truth, scheme).nme, summarize(q.points, q.truth, scheme).nme
    disp = np.linalg.norm(q.points - f.points, axis=-1) / np.linalg.norm(f.truth[:, 36] - f.truth[:, 45], axis=-1)[:, None]
    assert nme_q - nme_f < 0.25, f"INT8 NME {nme_q:.3f} vs float {nme_f:.3f}"
    assert disp.mean() < 0.02, f"INT8 points move {disp.mean() * 100:.2f} % of the inter-ocular distance from float"


def test_video_mode_follows_a_moving_turning_face(train_dir):
    """The face moves 4 px and turns 1 degree per frame: the track follows without drifting away."""
    import cv2

    rec = _faces(train_dir, 1)[0]
    img = _rgb(rec.image_path)
    h, w = img.shape[:2]
    lm_video = Landmarker(running_mode="video")
    errs = []
    for t in range(15):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), t * 1.0, 1.0)
        m[0, 2] += 4 * t
        frame = cv2.warpAffine(img, m, (w, h))
        truth = geometry.apply(m, rec.points)
        res = lm_video.detect_for_video(frame, 33 * (t + 1))
        assert len(res) == 1, f"lost the face at frame {t}"
        assert res[0].track_id == 0
        errs.append(np.linalg.norm(res.points[0] - truth, axis=1).mean())
    iod = np.linalg.norm(rec.points[36] - rec.points[45])
    assert max(errs) / iod < 0.10, [round(e / iod, 3) for e in errs]


@pytest.mark.parametrize("name", ["default", "lite"])
def test_bundled_qat_model_re_exports_the_bundled_int8_tflite(tmp_path, name):
    """The INT8 TFLite comes from the QAT model's learned quantization: exporting the bundled
    QAT model again gives the same outputs as the shipped file (nothing re-calibrated)."""
    pytest.importorskip("litert_torch")
    from pipnet_edge.assets import bundled_model_path
    from pipnet_edge.evaluation import open_predictor
    from pipnet_edge.export import export
    from pipnet_edge.quantization import QATModel

    qat = QATModel.load(bundled_model_path(f"{name}-qat"))
    (record,) = export(qat, "tflite-int8", tmp_path, name="again", source_info={"weights": "bundled QAT"}, data="none")
    path = str(record.path)
    size = qat.spec.input_size
    crops = (np.random.default_rng(0).random((2, size, size, 3)) * 255).astype(np.uint8)
    shipped = open_predictor(name).backend.run(crops)
    again = open_predictor(path).backend.run(crops)
    for name in ("score", "offset_x", "nb_y"):
        np.testing.assert_array_equal(again[name], shipped[name])


@pytest.mark.parametrize("name, bound", [("default", 0.6), ("lite", 0.2)])
def test_bundled_qat_model_computes_what_its_int8_tflite_computes(train_dir, name, bound):
    """The QAT model's fake quantization runs on the exported grids (quantizer.export_grid_weights): its points are
    the shipped INT8 file's up to the kernels' own rounding. Measured on these 32 training faces: 0.46 / 0.14 crop px
    (default, 256 px / lite, 112 px), as far as XNNPACK is from TFLite's reference kernels (0.45 / 0.14); on the fused
    kernel's weight grids, 0.94 / 0.27 (docs/experiments/2026-12-06-large-pose/fake_quant_vs_int8.py)."""
    pytest.importorskip("torchao")
    from pipnet_edge.assets import bundled_model_path
    from pipnet_edge.evaluation import open_predictor
    from pipnet_edge.evaluation.runner import read_face_crops

    fq, int8 = open_predictor(bundled_model_path(f"{name}-qat")), open_predictor(name)
    crops, _ = read_face_crops(_faces(train_dir, 32), fq.spec)
    size = fq.spec.input_size
    d = np.linalg.norm(fq.predict_crops(crops).points - int8.predict_crops(crops).points, axis=-1) * size
    assert d.mean() < bound, f"{name}: fake-quant points {d.mean():.3f} crop px (mean) from the INT8 file's"


def test_bundled_torch_weights_are_not_runtime_models():
    from pipnet_edge.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="use 'lite' or 'lite-int8'"):
        Landmarker("lite-fp16")
    with pytest.raises(ModelLoadError, match="use 'default' or 'default-int8'"):
        Landmarker("default-qat")
    with pytest.raises(ModelLoadError, match="unknown|does not exist"):
        Landmarker("medium")

"""Runtime: the three backends agree, and every bad input gets a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("litert_torch")

from tiny import tiny_model  # noqa: E402

from pipnet_edge.export import export  # noqa: E402
from pipnet_edge.errors import InputError, ModelLoadError  # noqa: E402
from pipnet_edge.runtime import Landmarker  # noqa: E402


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    torch.set_num_threads(1)
    model = tiny_model(input_size=64)
    out = tmp_path_factory.mktemp("rt")
    return {r.target: str(r.path) for r in export(model, ["onnx", "openvino", "tflite"], out, name="tiny", data="none")}


def _photo(seed=0, h=120, w=160):
    import cv2

    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 3)


def test_three_backends_give_the_same_points(artifacts):
    img = _photo()
    boxes = np.array([[30, 20, 90, 95], [100, 40, 150, 110]], float)
    results = {t: Landmarker(p, detector=None).detect(img, boxes) for t, p in artifacts.items()}
    ref = results["onnx"].points
    assert ref.shape == (2, 68, 2)
    for t, r in results.items():
        assert np.abs(r.points - ref).max() < 1e-3, f"{t} differs by {np.abs(r.points - ref).max()} px"
        np.testing.assert_allclose([f.box for f in r], boxes)


def test_opencv_dnn_runs_the_float_onnx(artifacts, tmp_path):
    """OpenCV's DNN (a core dependency) runs a float ONNX artifact with onnxruntime's points."""
    img = _photo()
    boxes = np.array([[30, 20, 90, 95], [100, 40, 150, 110]], float)
    ref = Landmarker(artifacts["onnx"], detector=None).detect(img, boxes).points
    lm = Landmarker(artifacts["onnx"], backend="opencv", detector=None, num_threads=1)
    assert "opencv" in lm.backend.describe()
    assert np.abs(lm.detect(img, boxes).points - ref).max() < 1e-3
    with pytest.raises(ModelLoadError, match="backend 'opencv' runs .onnx"):
        Landmarker(artifacts["tflite"], backend="opencv")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(open(artifacts["onnx"], "rb").read()[:4096])
    with pytest.raises(ModelLoadError):
        Landmarker(bad, backend="opencv")


def test_bgr_and_rgb_and_gray_inputs(artifacts):
    lm = Landmarker(artifacts["tflite"], detector=None)
    img = _photo(1)
    box = [20, 20, 100, 100]
    rgb = lm.detect(img, box).points
    bgr = lm.detect(np.ascontiguousarray(img[:, :, ::-1]), box, color_order="BGR").points
    np.testing.assert_allclose(rgb, bgr, atol=1e-5)
    rgba = np.dstack([img, np.full(img.shape[:2], 255, np.uint8)])
    np.testing.assert_allclose(lm.detect(rgba, box).points, rgb, atol=1e-5)
    gray = img[:, :, 0]
    assert lm.detect(gray, box).points.shape == (1, 68, 2)


def test_batch_of_faces_equals_one_by_one(artifacts):
    lm = Landmarker(artifacts["tflite"], detector=None)
    img = _photo(2)
    boxes = np.array([[10, 10, 70, 70], [60, 30, 130, 110], [5, 50, 60, 115]], float)
    together = lm.detect(img, boxes).points
    alone = np.concatenate([lm.detect(img, b).points for b in boxes])
    np.testing.assert_allclose(together, alone, atol=1e-4)


@pytest.mark.parametrize(
    "image, boxes, match",
    [
        (np.zeros((50, 50, 3), np.float32), [0, 0, 10, 10], "uint8"),
        (np.zeros((50, 50, 5), np.uint8), [0, 0, 10, 10], "shape"),
        (np.zeros((0, 50, 3), np.uint8), [0, 0, 10, 10], "empty"),
        ([[1, 2, 3]], [0, 0, 10, 10], "numpy array"),
        (np.zeros((50, 50, 3), np.uint8), [np.nan, 0, 10, 10], "NaN"),
        (np.zeros((50, 50, 3), np.uint8), [10, 10, 5, 20], "empty"),
        (np.zeros((50, 50, 3), np.uint8), [60, 60, 90, 90], "outside"),
        (np.zeros((50, 50, 3), np.uint8), [[0, 0, 10]], r"\(K, 4\)"),
    ],
)
def test_bad_images_and_boxes(artifacts, image, boxes, match):
    lm = Landmarker(artifacts["onnx"], detector=None)
    with pytest.raises(InputError, match=match):
        lm.detect(image, boxes)


def test_no_boxes_without_detector_and_no_face_found(artifacts):
    lm = Landmarker(artifacts["onnx"], detector=None)
    with pytest.raises(InputError, match="no face detector"):
        lm.detect(_photo())
    with_detector = Landmarker(artifacts["onnx"])
    result = with_detector.detect(np.full((240, 320, 3), 128, np.uint8))
    assert len(result) == 0 and result.points.shape == (0, 0, 2)
    assert len(with_detector.detect(_photo(), boxes=np.zeros((0, 4)))) == 0


def test_bad_model_files(artifacts, tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        Landmarker(tmp_path / "nope.tflite")
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelLoadError, match="not a TFLite model"):
        Landmarker(corrupt)
    good = open(artifacts["tflite"], "rb").read()
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(good[: len(good) // 3])
    with pytest.raises(ModelLoadError):
        Landmarker(truncated)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        Landmarker(empty)
    bad_onnx = tmp_path / "bad.onnx"
    bad_onnx.write_bytes(b"not a protobuf at all")
    with pytest.raises(ModelLoadError, match="ONNX"):
        Landmarker(bad_onnx)
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_text("<html></html>")
    with pytest.raises(ModelLoadError, match="OpenVINO"):
        Landmarker(bad_xml)
    with pytest.raises(ModelLoadError, match="unsupported model format"):
        Landmarker(tmp_path.joinpath("m.pth").write_bytes(b"x") and tmp_path / "m.pth")
    with pytest.raises(ModelLoadError, match="backend 'onnxruntime' runs .onnx"):
        Landmarker(artifacts["tflite"], backend="onnxruntime")


def test_model_without_metadata_is_rejected(artifacts, tmp_path):
    import onnx

    m = onnx.load(artifacts["onnx"])
    del m.metadata_props[:]
    plain = tmp_path / "plain.onnx"
    onnx.save(m, str(plain))
    with pytest.raises(ModelLoadError, match="no pipnet-edge metadata"):
        Landmarker(plain)


def test_video_timestamps_must_increase(artifacts):
    lm = Landmarker(artifacts["onnx"], running_mode="video")
    lm.detect_for_video(_photo(), 100)
    with pytest.raises(InputError, match="increase"):
        lm.detect_for_video(_photo(), 100)


def test_tflite_graph_that_cannot_resize_its_batch_runs_faces_one_at_a_time(tmp_path):
    """MobileNetV3's squeeze-excite reshape is traced with batch 1, so XNNPACK cannot resize the
    graph: several faces then run one at a time, with the same points as one-by-one calls."""
    from pipnet_edge import ModelSpec
    from pipnet_edge.models import create_model

    spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(0.2, 0.8, (68, 2)), backbone="mobilenet_v3_small",
                            input_size=64)
    torch.manual_seed(0)
    path = str(export(create_model(spec).eval(), "tflite", tmp_path, name="se")[0].path)
    lm = Landmarker(path, detector=None)
    img = _photo()
    boxes = np.array([[10, 10, 60, 60], [50, 20, 110, 80], [90, 30, 150, 100]], float)
    many = lm.detect(img, boxes=boxes)
    one = [lm.detect(img, boxes=b[None])[0] for b in boxes]
    assert lm.backend._per_image, "this graph was expected to reject a batch of 3"
    for a, b in zip(many, one):
        np.testing.assert_array_equal(a.points, b.points)


def test_opencv_only_device_reads_and_runs_the_onnx(artifacts):
    """With neither onnxruntime nor onnx installed, the metadata is still read (straight off the protobuf fields)
    and OpenCV's DNN runs the model: a device needs nothing but OpenCV for .onnx."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("torch", "onnx", "onnxruntime", "openvino"):
                    raise ImportError(f"blocked: {{name}}")
        sys.meta_path.insert(0, Block())
        import numpy as np
        from pipnet_edge.runtime import Landmarker
        lm = Landmarker({str(artifacts["onnx"])!r}, backend="opencv", detector=None)
        pts = lm.detect(np.full((80, 80, 3), 128, np.uint8), [[10, 10, 70, 70]]).points
        print("OK", pts.shape)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "OK (1, 68, 2)" in r.stdout

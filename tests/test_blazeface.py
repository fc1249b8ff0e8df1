"""MediaPipe BlazeFace in numpy over LiteRT: anchors, decoding, weighted NMS, the bundled models (two float, one
full-integer INT8), bad input."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import ROOT

from pipnet_edge.errors import InputError, ModelLoadError
from pipnet_edge.runtime.detectors.base import Detections, weighted_nms
from pipnet_edge.runtime.detectors.blazeface import (
    BLAZEFACE_FULL_CROP_RULE,
    BLAZEFACE_SHORT_CROP_RULE,
    BLAZEFACE_SHORT_INT8_CROP_RULE,
    BLAZEFACE_VARIANTS,
    BlazeFaceDetector,
    blazeface_model_path,
    decode_blazeface,
    ssd_anchors,
)
from pipnet_edge.spec import CropRule

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)


def _has_interpreter() -> bool:
    from pipnet_edge.runtime.backends.tflite import import_interpreter

    try:
        import_interpreter()
    except ModelLoadError:
        return False
    return True


needs_tflite = pytest.mark.skipif(not _has_interpreter(), reason="no TFLite interpreter installed (pip install ai-edge-litert)")


def _anchors(variant: str) -> np.ndarray:
    v = BLAZEFACE_VARIANTS[variant]
    return ssd_anchors((v.input_size, v.input_size), v.strides, interpolated_scale_aspect_ratio=v.interpolated_scale_aspect_ratio)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(ROOT / "docs" / "astronaut.png")), cv2.COLOR_BGR2RGB))


def _photo(name: str) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(ROOT / "docs" / name)), cv2.COLOR_BGR2RGB))


@pytest.fixture(scope="module", params=["short", "full", "short-int8"])
def detector(request) -> BlazeFaceDetector:
    if not _has_interpreter():
        pytest.skip("no TFLite interpreter installed (pip install ai-edge-litert)")
    return BlazeFaceDetector(request.param)


# ---------------------------------------------------------------------------------------------- anchors
def test_anchor_counts_and_golden_values():
    short, full = _anchors("short"), _anchors("full")
    assert short.shape == (896, 4) and full.shape == (2304, 4)
    assert short.dtype == np.float32
    np.testing.assert_array_equal(short[:, 2:], 1.0)  # fixed_anchor_size
    # stride 8: 16x16 cells, 2 anchors each (aspect 1 + interpolated), cell-major, x fastest
    np.testing.assert_allclose(short[0, :2], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[1, :2], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[2, :2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[32, :2], [0.5 / 16, 1.5 / 16])
    np.testing.assert_allclose(short[511, :2], [15.5 / 16, 15.5 / 16])
    # three stride-16 layers merged: 8x8 cells, 6 anchors each
    np.testing.assert_allclose(short[512:518, :2], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(short[518, :2], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(short[895, :2], [7.5 / 8, 7.5 / 8])
    # full range: one 48x48 layer, one anchor per cell
    np.testing.assert_allclose(full[0, :2], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(full[1, :2], [1.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(full[48, :2], [0.5 / 48, 1.5 / 48])
    np.testing.assert_allclose(full[-1, :2], [47.5 / 48, 47.5 / 48])


def test_anchor_sizes_when_not_fixed():
    a = ssd_anchors((128, 128), (8, 16, 16, 16), fixed_anchor_size=False)
    s0 = 0.1484375
    s1 = s0 + (0.75 - s0) / 3
    np.testing.assert_allclose(a[0, 2:], [s0, s0], rtol=1e-6)
    np.testing.assert_allclose(a[1, 2:], [np.sqrt(s0 * s1)] * 2, rtol=1e-6)  # interpolated (aspect 1)
    np.testing.assert_allclose(a[517, 2:], [np.sqrt(0.75 * 1.0)] * 2, rtol=1e-6)  # last layer: next scale is 1
    b = ssd_anchors((64, 64), (16,), aspect_ratios=(1.0, 4.0), interpolated_scale_aspect_ratio=0.0, fixed_anchor_size=False)
    assert b.shape == (32, 4)
    s = (0.1484375 + 0.75) / 2  # a single layer takes the mean scale
    np.testing.assert_allclose(b[1, 2:], [s * 2, s / 2], rtol=1e-6)


# ---------------------------------------------------------------------------------------------- decoding
def test_decode_synthetic_regressors():
    anchors = _anchors("short")
    n, i = len(anchors), 600
    raw = np.zeros((n, 16), np.float32)
    logits = np.full(n, -50.0, np.float32)
    ax, ay = anchors[i, :2]
    raw[i, :4] = [6.4, -3.2, 32.0, 64.0]  # dx, dy, w, h in input pixels (x before y)
    raw[i, 4:] = np.arange(12, dtype=np.float32) - 6.0  # 6 keypoints (dx, dy)
    logits[i] = 2.0
    boxes, scores, kp = decode_blazeface(raw, logits[:, None], anchors, 128, 0.5)
    assert boxes.shape == (1, 4) and kp.shape == (1, 6, 2)
    cx, cy = ax + 6.4 / 128, ay - 3.2 / 128
    np.testing.assert_allclose(boxes[0], [cx - 16 / 128, cy - 32 / 128, cx + 16 / 128, cy + 32 / 128], atol=1e-6)
    expected_kp = (np.arange(12, dtype=np.float32) - 6.0).reshape(6, 2) / 128 + [ax, ay]
    np.testing.assert_allclose(kp[0], expected_kp, atol=1e-6)
    np.testing.assert_allclose(scores, [1 / (1 + np.exp(-2.0))], rtol=1e-6)


def test_decode_clips_scores_and_drops_negative_sizes():
    anchors = _anchors("short")
    raw = np.zeros((896, 16), np.float32)
    raw[:, 2:4] = 10.0
    raw[5, 2] = -4.0  # negative width: dropped, as in MediaPipe
    logits = np.full(896, -1000.0, np.float32)
    logits[[3, 5, 7]] = [1000.0, 1000.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from exp of the clipped logits
        boxes, scores, _ = decode_blazeface(raw, logits, anchors, 128, 0.5)
    np.testing.assert_array_equal(scores, [1.0, 0.5])  # anchors 3 and 7, in anchor order; score >= threshold kept
    np.testing.assert_allclose(boxes[:, 0], anchors[[3, 7], 0] - 5 / 128, atol=1e-6)
    assert decode_blazeface(raw, logits, anchors, 128, 0.51)[1].tolist() == [1.0]


def test_weighted_nms_merges_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0.5, 0, 10.5, 10]], np.float32)
    scores = np.array([0.9, 0.6, 0.8, 0.3], np.float32)
    kp = np.stack([b.reshape(2, 2) for b in boxes])  # keypoints = box corners, merged the same way
    out = weighted_nms(boxes, scores, kp, 0.3)
    assert len(out) == 2
    merged = (0.9 * boxes[0] + 0.6 * boxes[1] + 0.3 * boxes[3]) / 1.8
    np.testing.assert_allclose(out.boxes[0], merged, rtol=1e-6)
    np.testing.assert_allclose(out.keypoints[0], merged.reshape(2, 2), rtol=1e-6)
    np.testing.assert_allclose(out.scores, [0.9, 0.8])  # the best score of each cluster, best first
    np.testing.assert_allclose(out.boxes[1], boxes[2])


# ---------------------------------------------------------------------------------------------- the real models
@needs_tflite
def test_letterbox_maps_input_pixel_centres_back_to_the_photo_pixels_they_sample():
    det = BlazeFaceDetector("short")
    photo = np.zeros((256, 512, 3), np.uint8)  # 4 photo pixels per input pixel, 64 input rows of black above
    photo[32, 40] = 255  # input pixel (row 40, column 10) samples exactly photo (x 40, y 32)
    scale, x_offset, y_offset = det._letterbox(photo)
    lit = np.argwhere(det._canvas[..., 0] > 0)
    assert lit.tolist() == [[40, 10]]
    assert det._tensor.min() == -1.0 and det._tensor.max() == 1.0
    u, v = (10 + 0.5) / 128, (40 + 0.5) / 128
    assert (u * scale + x_offset, v * scale + y_offset) == pytest.approx((40.0, 32.0))


def test_finds_the_astronaut(detector, astronaut):
    found = detector.detect(astronaut)
    assert isinstance(found, Detections)
    assert len(found) == 1
    assert found.boxes.dtype == np.float32 and found.keypoints.shape == (1, 6, 2)
    assert found.scores[0] > 0.8
    x0, y0, x1, y1 = found.boxes[0]
    assert 150 < x0 < 200 and 240 < x1 < 300 and 50 < y0 < 100 and 150 < y1 < 200, found.boxes
    eyes = found.keypoints[0, :2]
    assert ((eyes >= [x0, y0]) & (eyes <= [x1, y1])).all()
    assert eyes[0, 0] < eyes[1, 0]  # the image-left eye first
    assert eyes[0, 0] < found.keypoints[0, 2, 0] < eyes[1, 0]  # nose tip between the eyes
    rules = {"short": BLAZEFACE_SHORT_CROP_RULE, "full": BLAZEFACE_FULL_CROP_RULE, "short-int8": BLAZEFACE_SHORT_INT8_CROP_RULE}
    assert detector.crop_rule is rules[detector.variant]


def test_two_faces_best_first_and_max_faces(detector, astronaut):
    crop = astronaut[30:230, 125:325]
    photo = np.ascontiguousarray(np.hstack([crop, np.full((200, 40, 3), 128, np.uint8), crop[:, ::-1]]))
    found = detector.detect(photo)
    assert len(found) == 2
    assert found.scores[0] >= found.scores[1]
    assert sorted(((found.boxes[:, 0] + found.boxes[:, 2]) / 2 > 220).tolist()) == [False, True]  # one face per half
    assert (found.keypoints[:, 0, 0] < found.keypoints[:, 1, 0]).all()  # image-left eye first, mirrored face too
    old = detector.max_faces
    try:
        detector.max_faces = 1
        one = detector.detect(photo)
    finally:
        detector.max_faces = old
    assert len(one) == 1 and one.scores[0] == found.scores[0]


def test_flat_grey_finds_nothing(detector):
    found = detector.detect(np.full((240, 320, 3), 128, np.uint8))
    assert len(found) == 0 and found.keypoints.shape == (0, 6, 2)


@needs_tflite
def test_defaults_follow_mediapipe_graphs():
    short, full = BlazeFaceDetector(), BlazeFaceDetector("full", min_confidence=None)
    assert (short.variant, short.min_confidence, short.nms_threshold) == ("short", 0.5, 0.3)
    assert full.min_confidence == 0.6
    assert BlazeFaceDetector(crop_rule=CropRule(scale=1.3)).crop_rule.scale == 1.3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"variant": "medium"},
        {"variant": None},
        {"min_confidence": "high"},
        {"min_confidence": float("nan")},
        {"min_confidence": 1.5},
        {"min_confidence": -0.1},
        {"max_faces": 0},
        {"max_faces": 2.5},
        {"num_threads": 0},
        {"num_threads": True},
        {"nms_threshold": 2.0},
        {"crop_rule": (1.1, 0, 0)},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(InputError):
        BlazeFaceDetector(**kwargs)


@needs_tflite
@pytest.mark.parametrize(
    "image", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 64, 3), np.float32), np.zeros((0, 5, 3), np.uint8)]
)
def test_bad_images(image):
    with pytest.raises(InputError):
        BlazeFaceDetector().detect(image)


@needs_tflite
def test_bad_model_files(tmp_path):
    missing = tmp_path / "nothing.tflite"
    with pytest.raises(ModelLoadError, match="nothing.tflite"):
        BlazeFaceDetector(model_path=missing)
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty.tflite"):
        BlazeFaceDetector(model_path=str(empty))
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ModelLoadError, match="corrupt.tflite"):
        BlazeFaceDetector(model_path=corrupt)
    with pytest.raises(ModelLoadError, match="empty"):
        BlazeFaceDetector(model_bytes=b"")
    with pytest.raises(ModelLoadError, match="wrong variant"):  # the short-range file as the full-range model
        BlazeFaceDetector("full", model_path=blazeface_model_path("short"))
    found = BlazeFaceDetector(model_bytes=blazeface_model_path("short").read_bytes()).detect(np.zeros((32, 32, 3), np.uint8))
    assert len(found) == 0


# ---------------------------------------------------------------------------------------------- the INT8 model
# Largest corner / keypoint difference from the float model, over the face's box side, on the docs photos:
# measured 0.007 / 0.010 (grace_hopper.jpg) and 0.017 / 0.017 (astronaut.png); on the 554 test_full photos the box
# difference is 0.0095 median, 0.020 p95 (benchmarks/results/int8_detector.json). The tolerance leaves room for
# other LiteRT builds' integer rounding.
INT8_TOLERANCE = 0.03


@needs_tflite
def test_bundled_int8_file_is_full_integer():
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(blazeface_model_path("short-int8")))
    tensors = it.get_tensor_details()
    assert [d for d in tensors if d["dtype"] == np.float32] == []
    assert {np.dtype(d["dtype"]).name for d in tensors} <= {"int8", "int32"}  # int32: biases, shapes
    ops = {o["op_name"] for o in it._get_ops_details()}
    assert not ops & {"QUANTIZE", "DEQUANTIZE"}, ops
    ins, outs = it.get_input_details(), it.get_output_details()
    assert [(tuple(d["shape"]), np.dtype(d["dtype"]).name) for d in ins] == [((1, 128, 128, 3), "int8")]
    assert sorted((tuple(d["shape"]), np.dtype(d["dtype"]).name) for d in outs) == [
        ((1, 384, 1), "int8"), ((1, 384, 16), "int8"), ((1, 512, 1), "int8"), ((1, 512, 16), "int8")]
    assert all(d["quantization"][0] > 0 for d in ins + outs)
    assert BLAZEFACE_VARIANTS["short-int8"].file == blazeface_model_path("short-int8").name


@needs_tflite
def test_int8_input_is_the_float_input_quantized():
    photo = _photo("grace_hopper.jpg")
    fdet, qdet = BlazeFaceDetector("short"), BlazeFaceDetector("short-int8")
    x, q = fdet.model_input(photo), qdet.model_input(photo)
    assert x.dtype == np.float32 and q.dtype == np.int8 and q.shape == x.shape == (1, 128, 128, 3)
    scale, zero = qdet._interpreter.get_input_details()[0]["quantization"]
    np.testing.assert_allclose((q.astype(np.float32) - zero) * scale, x, atol=scale / 2 + 1e-6)
    np.testing.assert_array_equal(qdet.model_input(np.ascontiguousarray(photo[:, :, ::-1]), color_order="BGR"), q)


@needs_tflite
@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.png"])
def test_int8_finds_the_face_where_the_float_model_does(name):
    photo = _photo(name)
    a, b = BlazeFaceDetector("short").detect(photo), BlazeFaceDetector("short-int8").detect(photo)
    assert len(a) == len(b) == 1
    assert abs(float(a.scores[0]) - float(b.scores[0])) < 0.05
    side = float(max(a.boxes[0, 2] - a.boxes[0, 0], a.boxes[0, 3] - a.boxes[0, 1]))
    assert np.abs(a.boxes[0] - b.boxes[0]).max() / side < INT8_TOLERANCE, (a.boxes, b.boxes)
    assert np.abs(a.keypoints[0] - b.keypoints[0]).max() / side < INT8_TOLERANCE, (a.keypoints, b.keypoints)


@needs_tflite
def test_int8_detector_in_the_landmarker_end_to_end():
    from pipnet_edge.runtime import Landmarker

    photo = _photo("grace_hopper.jpg")
    lm = Landmarker("lite", detector="blazeface-short-int8")
    assert isinstance(lm.detector, BlazeFaceDetector) and lm.detector.variant == "short-int8"
    faces = lm.detect(photo)
    assert len(faces) == 1
    ref = Landmarker("lite", detector="blazeface-short").detect(photo)
    side = float(np.ptp(ref[0].points, axis=0).max())
    # the crops differ by the boxes' ~1 % and the crop rules; the landmarks by 0.6 % of the face here (measured)
    assert np.linalg.norm(faces[0].points - ref[0].points, axis=1).mean() / side < 0.02


@needs_tflite
def test_int8_file_layout_checks():
    with pytest.raises(ModelLoadError, match="wrong variant"):  # the INT8 short-range file as the full-range model
        BlazeFaceDetector("full", model_path=blazeface_model_path("short-int8"))
    # the float short-range file under the INT8 variant's settings works: the layout is the same
    found = BlazeFaceDetector("short-int8", model_path=blazeface_model_path("short")).detect(_photo("astronaut.png"))
    assert len(found) == 1
    assert BlazeFaceDetector("short-int8").min_confidence == 0.4  # chosen on training canvases (quantize_blazeface.py)


def test_missing_interpreter_says_what_to_install(monkeypatch):
    for name in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter", "tensorflow"):
        monkeypatch.setitem(sys.modules, name, None)  # import of these now raises ImportError
    with pytest.raises(ModelLoadError, match="pip install"):
        BlazeFaceDetector()


def test_imports_no_torch():
    code = "import sys, pipnet_edge.runtime.detectors.blazeface; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0

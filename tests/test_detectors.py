"""Face detectors: the typed result, NMS, the bundled YuNet and Haar detectors, crop-rule calibration, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pipnet_edge.calibration.crop_rules import calibrate_crop_rule
from pipnet_edge.errors import DataError, InputError, ModelLoadError
from pipnet_edge.runtime.detectors import (
    DETECTORS,
    Detections,
    HaarFaceDetector,
    YuNetFaceDetector,
    as_detections,
    box_iou,
    create_detector,
    nms,
    weighted_nms,
)
from pipnet_edge.runtime.detectors.yunet import YUNET_CROP_RULE, yunet_model_path
from pipnet_edge.runtime.preprocess import box_regions, roll_angles
from pipnet_edge.spec import CropRule

from conftest import ROOT

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)


def _astronaut():
    import cv2

    return cv2.cvtColor(cv2.imread(str(ROOT / "docs" / "astronaut.png")), cv2.COLOR_BGR2RGB)


class ShiftedDetector:
    """Returns each face's landmark box shrunk to 80 % and moved down by 10 % of its height."""

    crop_rule = CropRule()

    def __init__(self, boxes):
        self.boxes = iter(boxes)

    def detect(self, image):
        x0, y0, x1, y1 = next(self.boxes)
        w, h = x1 - x0, y1 - y0
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + 0.1 * h
        return np.array([[cx - 0.4 * w, cy - 0.4 * h, cx + 0.4 * w, cy + 0.4 * h, 1.0]])


def test_calibration_recovers_the_box_mapping():
    rng = np.random.default_rng(0)
    boxes = []
    for _ in range(20):
        x0, y0 = rng.uniform(0, 100, 2)
        s = rng.uniform(50, 150)
        boxes.append(np.array([x0, y0, x0 + s, y0 + s]))
    rule, stats = calibrate_crop_rule(ShiftedDetector(boxes), [None] * 20, boxes, CropRule(scale=1.1))
    # detector box side = 0.8 s; the target crop side is 1.1 s -> scale 1.375; centre 0.1 s above -> -0.125 box heights
    assert rule.scale == pytest.approx(1.375)
    assert rule.shift_y == pytest.approx(-0.125)
    assert rule.shift_x == pytest.approx(0.0, abs=1e-6)  # boxes are float32
    assert stats["matched"] == 20


def test_calibration_finds_nothing():
    class Blind:
        crop_rule = CropRule()

        def detect(self, image):
            return np.zeros((0, 5))

    with pytest.raises(DataError, match="found none"):
        calibrate_crop_rule(Blind(), [None], [np.array([0, 0, 10, 10.0])], CropRule())


def test_box_iou_and_nms():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 1 / 3, 0.0])
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], float)
    np.testing.assert_array_equal(nms(boxes, np.array([0.5, 0.9, 0.7]), 0.3), [1, 2])


def test_weighted_nms_averages_a_cluster_by_score():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.3, 0.8])
    kps = np.array([[[1, 1]], [[3, 1]], [[55, 55]]], float)
    out = weighted_nms(boxes, scores, kps, 0.3)
    assert len(out) == 2
    np.testing.assert_allclose(out.boxes[0], [0.5, 0, 10.5, 10])  # (0.9 * 0 + 0.3 * 2) / 1.2
    np.testing.assert_allclose(out.keypoints[0, 0], [1.5, 1])
    np.testing.assert_allclose(out.scores, [0.9, 0.8])


def test_detections_type():
    d = Detections(np.array([[0, 0, 10, 10], [5, 5, 50, 50]]), [0.2, 0.9], np.zeros((2, 5, 2)))
    assert len(d.sorted()) == 2 and d.sorted().scores[0] == pytest.approx(0.9)
    assert len(d.filtered(min_score=0.5)) == 1
    assert len(d.filtered(max_faces=1)) == 1 and d.filtered(max_faces=1).scores[0] == pytest.approx(0.9)
    assert len(d.filtered(min_size=20)) == 1
    np.testing.assert_allclose(d.scaled(2, 3).boxes[1], [10, 15, 100, 150])
    assert as_detections(d.as_array()).keypoints is None
    assert len(as_detections(np.zeros((0, 5)))) == 0
    with pytest.raises(InputError, match=r"\(K, 5\)"):
        as_detections(np.zeros((3, 7)))
    with pytest.raises(InputError, match="scores"):
        Detections(np.zeros((2, 4)), [1.0])
    with pytest.raises(InputError, match="keypoints"):
        Detections(np.zeros((2, 4)), [1.0, 1.0], np.zeros((3, 5, 2)))


def test_roll_turns_the_crop_with_the_face():
    # the eye on the image's right is higher: the face leans counter-clockwise on screen by 45 degrees
    assert roll_angles(np.array([[0.0, 0.0]]), np.array([[10.0, -10.0]]))[0] == pytest.approx(45)
    upright = box_regions(np.array([[0, 0, 100, 100.0]]), CropRule(1.0, 0.0, 0.1))
    np.testing.assert_allclose(upright[0], [50, 60, 100, 0])
    turned = box_regions(np.array([[0, 0, 100, 100.0]]), CropRule(1.0, 0.0, 0.1), np.array([90.0]))
    np.testing.assert_allclose(turned[0], [60, 50, 100, 90], atol=1e-9)  # the face's "down" points to screen right


def test_yunet_finds_the_face_with_keypoints():
    det = YuNetFaceDetector()
    assert det.crop_rule == YUNET_CROP_RULE != CropRule()  # calibrated, not the landmark-box default
    found = det.detect(_astronaut())
    assert len(found) == 1 and found.scores[0] > 0.8
    x0, y0, x1, y1 = found.boxes[0]
    assert 150 < x0 < x1 < 300 and 40 < y0 < y1 < 200
    kp = found.keypoints[0]
    assert kp.shape == (5, 2)
    assert kp[0, 0] < kp[1, 0], "the eye on the image's left comes first"
    assert kp[2, 1] > kp[:2, 1].max() and kp[3:, 1].min() > kp[2, 1]  # nose below the eyes, mouth below the nose
    assert len(det.detect(np.full((240, 320, 3), 127, np.uint8))) == 0


@pytest.mark.parametrize("engine", ["opencv", "onnxruntime"])
def test_yunet_engines_agree(engine):
    """onnxruntime with our numpy decode gives OpenCV FaceDetectorYN's faces (to float rounding)."""
    if engine == "onnxruntime":
        pytest.importorskip("onnxruntime")
    import cv2

    rgb = _astronaut()
    # two faces: the photo and a smaller, mirrored copy side by side
    wide = np.concatenate([rgb, cv2.resize(rgb[:, ::-1], (256, 256)).repeat(2, 0)[:512]], axis=1)
    ref = YuNetFaceDetector(engine="opencv").detect(wide)
    det = YuNetFaceDetector(engine=engine)
    assert det.engine == engine
    got = det.detect(wide)
    assert len(ref) == len(got) >= 2
    np.testing.assert_allclose(got.boxes, ref.boxes, atol=0.01)
    np.testing.assert_allclose(got.keypoints, ref.keypoints, atol=0.01)
    np.testing.assert_allclose(got.scores, ref.scores, atol=1e-4)


def test_decode_yunet_golden():
    from pipnet_edge.runtime.detectors.yunet import decode_yunet

    h, w = 64, 96
    outs = {}
    for s in (8, 16, 32):
        n = (h // s) * (w // s)
        outs[f"cls_{s}"], outs[f"obj_{s}"] = np.zeros((1, n, 1)), np.zeros((1, n, 1))
        outs[f"bbox_{s}"], outs[f"kps_{s}"] = np.zeros((1, n, 4)), np.zeros((1, n, 10))
    # one face on the stride-16 map, cell (row 1, col 2): centre ((2, 1) + (0.5, 0.25)) * 16, size e^0 * 16 x e^1 * 16
    idx = 1 * (w // 16) + 2
    outs["cls_16"][0, idx, 0], outs["obj_16"][0, idx, 0] = 0.81, 1.0
    outs["bbox_16"][0, idx] = [0.5, 0.25, 0.0, 1.0]
    outs["kps_16"][0, idx] = [0.1, 0.2] * 5
    found = decode_yunet(outs, h, w, min_score=0.5, nms_threshold=0.3)
    assert len(found) == 1 and found.scores[0] == pytest.approx(0.9)
    cx, cy, bw, bh = 40.0, 20.0, 16.0, 16.0 * np.e
    np.testing.assert_allclose(found.boxes[0], [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], rtol=1e-5)
    np.testing.assert_allclose(found.keypoints[0, 0], [(2 + 0.1) * 16, (1 + 0.2) * 16], rtol=1e-5)
    assert len(decode_yunet(outs, h, w, min_score=0.95, nms_threshold=0.3)) == 0


def test_yunet_min_face_size_raises_the_working_resolution():
    det = YuNetFaceDetector()
    assert det.working_size(1080, 1920) == (512, 288)
    det_small = YuNetFaceDetector(min_face_size=40)
    assert det_small.working_size(1080, 1920) == (1536, 864)  # a 40-px face reaches 32 px
    assert det.working_size(100, 80) == (80, 100)  # never enlarged


def test_yunet_from_bytes_and_bad_files(tmp_path):
    data = yunet_model_path().read_bytes()
    assert len(YuNetFaceDetector(model_bytes=data).detect(_astronaut())) == 1
    with pytest.raises(ModelLoadError, match="does not exist"):
        YuNetFaceDetector(model_path=tmp_path / "missing.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        YuNetFaceDetector(model_path=empty)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(data[: len(data) // 3])
    for engine in ("opencv", "auto"):
        with pytest.raises(ModelLoadError, match="not a YuNet ONNX model"):
            YuNetFaceDetector(model_path=corrupt, engine=engine)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"max_faces": 0}, "max_faces"),
        ({"min_face_size": -3}, "min_face_size"),
        ({"num_threads": 0}, "num_threads"),
        ({"engine": "tensorrt"}, "engine"),
    ],
)
def test_yunet_bad_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        YuNetFaceDetector(**kwargs)


def test_registry_and_create_detector():
    assert set(DETECTORS) == {"yunet", "blazeface-short", "blazeface-short-int8", "blazeface-full", "haar"}
    assert isinstance(create_detector(), YuNetFaceDetector)
    assert isinstance(create_detector("default"), YuNetFaceDetector)
    assert create_detector("yunet", min_confidence=0.9, max_faces=None).min_confidence == 0.9
    with pytest.raises(InputError, match="unknown detector 'retina'"):
        create_detector("retina")
    with pytest.raises(InputError, match="does not take min_face_size"):
        create_detector("blazeface-short", min_face_size=40)


def test_haar_detector_ships_with_a_calibrated_rule():
    det = HaarFaceDetector()
    assert det.crop_rule != CropRule()  # calibrated, not the landmark-box default
    assert len(det.detect(np.full((200, 200, 3), 127, np.uint8))) == 0
    assert len(det.detect(_astronaut())) >= 1


@pytest.mark.parametrize("name", ["yunet", "blazeface-short", "blazeface-full", "haar"])
def test_bgr_photos_are_not_converted_but_give_the_same_faces(name):
    """Every bundled detector takes a BGR photo as it is; the faces equal those of the RGB photo."""
    if name.startswith("blazeface"):
        pytest.importorskip("ai_edge_litert")
    from pipnet_edge.runtime import Landmarker

    rgb = _astronaut()
    lm = Landmarker("lite", detector=name)
    assert lm.detector.takes_color_order
    a = lm.detect(rgb)
    b = lm.detect(np.ascontiguousarray(rgb[:, :, ::-1]), color_order="BGR")
    assert len(a) == len(b) >= 1
    np.testing.assert_allclose(a.points, b.points, atol=1e-3)


def test_a_custom_detector_gets_rgb():
    """A plugged-in detector without takes_color_order always receives RGB."""
    from pipnet_edge.runtime import Landmarker

    seen = []

    class Custom:
        crop_rule = YUNET_CROP_RULE

        def detect(self, image):
            seen.append(image[0, 0].copy())
            return np.zeros((0, 5))

    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 0] = 200  # red
    Landmarker("lite", detector=Custom()).detect(np.ascontiguousarray(rgb[:, :, ::-1]), color_order="BGR")
    np.testing.assert_array_equal(seen[0], [200, 0, 0])


@pytest.mark.parametrize("side", [None, 224])
def test_a_tight_portrait_and_a_small_crop_are_found(side):
    """The Haar front end found no face in a photo the face fills, nor in a 224-px face crop; YuNet does."""
    import cv2

    from pipnet_edge.runtime import Landmarker

    rgb = _astronaut()
    x0, y0, x1, y1 = YuNetFaceDetector().detect(rgb).boxes[0]
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.5 * max(x1 - x0, y1 - y0)  # the face box fills the frame
    tight = np.ascontiguousarray(rgb[int(cy - half) : int(cy + half), int(cx - half) : int(cx + half)])
    if side:
        tight = cv2.resize(tight, (side, side), interpolation=cv2.INTER_AREA)
    faces = Landmarker("lite").detect(tight)
    assert len(faces) == 1
    assert (faces[0].points >= -0.1 * tight.shape[0]).all() and (faces[0].points <= 1.1 * tight.shape[0]).all()

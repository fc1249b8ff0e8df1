"""Detector front-ends: the crop-rule calibration recovers a known box offset; YuNet needs a calibrated rule."""

from __future__ import annotations

import numpy as np
import pytest

from pipnet_edge.errors import ModelLoadError
from pipnet_edge.runtime.detectors import HaarFaceDetector, YuNetFaceDetector, box_iou, calibrate_crop_rule
from pipnet_edge.spec import CropRule


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
    assert rule.shift_x == pytest.approx(0.0, abs=1e-9)
    assert stats["matched"] == 20


def test_box_iou():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 1 / 3, 0.0])


def test_haar_detector_ships_with_a_calibrated_rule():
    det = HaarFaceDetector()
    assert det.crop_rule != CropRule()  # calibrated, not the landmark-box default
    assert len(det.detect(np.full((200, 200, 3), 127, np.uint8))) == 0


def test_yunet_requires_a_calibrated_rule(tmp_path):
    f = tmp_path / "yunet.onnx"
    f.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="calibrated crop_rule"):
        YuNetFaceDetector(str(f))
    with pytest.raises(ModelLoadError, match="does not exist"):
        YuNetFaceDetector(str(tmp_path / "missing.onnx"), crop_rule=CropRule())

"""The yaw-like warp (pipnet_edge/data/yaw_warp.py): labels agree with the warped image, the face turns the way the
angle says, nothing folds, bad input is refused, and it is off unless asked for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipnet_edge.data.augment import AugmentConfig, sample_yaw
from pipnet_edge.data.yaw_warp import _min_jacobian, render, sample_yaw_warp
from pipnet_edge.errors import DataError
from pipnet_edge.runtime import geometry
from pipnet_edge.runtime.face_geometry import MEAN_FACE_3D, head_pose

pytestmark = pytest.mark.torch_free


def face_points(size: int = 256, roll: float = 0.0, yaw: float = 0.0) -> np.ndarray:
    """The 3D mean face turned by ``yaw``, rolled by ``roll`` degrees, seen orthographically, filling ~60 % of a
    ``size`` crop."""
    a, r = math.radians(yaw), math.radians(roll)
    m = MEAN_FACE_3D - MEAN_FACE_3D.mean(0)
    x = m[:, 0] * math.cos(a) - m[:, 2] * math.sin(a)
    p = np.stack([x, m[:, 1]], 1)
    p = p @ np.array([[math.cos(r), math.sin(r)], [-math.sin(r), math.cos(r)]])
    return p * (0.6 * size / np.ptp(m[:, 0])) + size / 2


def coordinate_image(h: int, w: int) -> np.ndarray:
    """An image whose two channels are each pixel's own x and y."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.dstack([xx, yy])


def test_no_turn_is_the_identity():
    p = face_points()
    w = sample_yaw_warp(p, 256, 0.0)
    np.testing.assert_allclose(w.points, p, atol=0.02)
    q = np.random.default_rng(0).uniform(0, 255, (50, 2))
    np.testing.assert_allclose(w.source(q), q, atol=0.05)


@settings(max_examples=25, deadline=None)
@given(yaw=st.floats(-40, 40), roll=st.floats(-30, 30), angle=st.floats(-20, 20), start=st.floats(-20, 20))
def test_labels_are_where_the_warped_image_shows_the_points(yaw, roll, angle, start):
    """Render an image of its own coordinates through crop affine + warp. Every pixel shows the photo position the
    warp's map gives, at the student's size and at a teacher's twice as large; the map takes each label back to its
    point; so the labels and the image agree (and end to end, the crop sampled at a label shows the point)."""
    import cv2

    pts_img = face_points(300, roll, start) + [40.0, 20.0]  # a face in a 380 x 340 photo
    box = geometry.box_from_points(pts_img)
    cx, cy, side = geometry.crop_square(box, 1.1)
    m = geometry.crop_matrix(cx, cy, side, 128, angle)
    crop_pts = geometry.apply(m, pts_img)
    w = sample_yaw_warp(crop_pts, 128, yaw)
    if w is None:  # folds even when halved three times: refused, nothing to check
        return
    np.testing.assert_allclose(w.source(w.points), crop_pts, atol=0.02)
    photo = coordinate_image(340, 380)
    inv = geometry.invert(m)
    q = np.stack(np.meshgrid(np.arange(128.0), np.arange(128.0)), -1).reshape(-1, 2)
    crop = render(photo, m, 128, w)
    np.testing.assert_allclose(crop.reshape(-1, 2), geometry.apply(inv, w.source(q)), atol=0.05)
    k = 2.0
    mt = geometry.compose(np.array([[k, 0.0, 0.5 * k - 0.5], [0.0, k, 0.5 * k - 0.5]]), m)
    big = render(photo, mt, 256, w)
    qt = np.stack(np.meshgrid(np.arange(256.0), np.arange(256.0)), -1).reshape(-1, 2)
    np.testing.assert_allclose(big.reshape(-1, 2), geometry.apply(inv, w.source((qt + 0.5) / k - 0.5)), atol=0.05)
    lab = w.points.astype(np.float32)
    inside = ((lab > 1) & (lab < 126)).all(1)
    got = cv2.remap(crop, lab[:, :1].copy(), lab[:, 1:].copy(), cv2.INTER_LINEAR)[:, 0]
    assert np.abs(got - pts_img)[inside].max() * 128 / side < 0.5  # crop pixels, bilinear between pixels


@pytest.mark.parametrize("yaw", [-25.0, -10.0, 10.0, 25.0])
def test_the_face_turns_the_way_the_angle_says(yaw):
    """Positive yaw turns the face to its own left, the nose towards the image's right, as HeadPose counts it; the
    head pose of the warped labels (a near-orthographic camera) moves by about the angle."""
    p = face_points()
    w = sample_yaw_warp(p, 256, yaw)
    assert w is not None and w.yaw == yaw
    eyes = (w.points[36:42].mean(0) + w.points[42:48].mean(0)) / 2
    eyes0 = (p[36:42].mean(0) + p[42:48].mean(0)) / 2
    assert np.sign((w.points[30] - eyes)[0] - (p[30] - eyes0)[0]) == np.sign(yaw)
    f = 256 * 50
    turned = head_pose(w.points, (256, 256), focal=f).yaw - head_pose(p, (256, 256), focal=f).yaw
    assert turned == pytest.approx(yaw, abs=3.0)


@settings(max_examples=30, deadline=None)
@given(yaw=st.floats(-80, 80), start=st.floats(-50, 50), roll=st.floats(-40, 40))
def test_a_warp_never_folds_the_image(yaw, start, roll):
    w = sample_yaw_warp(face_points(128, roll, start), 128, yaw)
    if w is not None:
        assert _min_jacobian(w) > 0.1
        assert abs(w.yaw) <= abs(yaw)
        assert np.isfinite(w.points).all()


def test_bad_points_are_refused():
    with pytest.raises(DataError, match="68 points"):
        sample_yaw_warp(np.zeros((5, 2)), 128, 10.0)
    p = face_points()
    p[3] = np.nan
    with pytest.raises(DataError, match="not finite"):
        sample_yaw_warp(p, 256, 10.0)


def test_the_warp_is_off_unless_asked_and_checks_its_settings():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert sample_yaw(AugmentConfig(), rng) is None
    assert rng.bit_generator.state == state  # off: no random number drawn, the other augmentations are unchanged
    drawn = [sample_yaw(AugmentConfig(yaw_prob=1.0, max_yaw=20.0), rng) for _ in range(200)]
    assert all(d is not None and -20 <= d <= 20 for d in drawn) and np.std(drawn) > 8
    with pytest.raises(ValueError, match="yaw_prob"):
        AugmentConfig(yaw_prob=1.5)
    with pytest.raises(ValueError, match="max_yaw"):
        AugmentConfig(max_yaw=90.0)


def test_dataset_items_carry_the_warp(tmp_path):
    """A training item with the warp: its labels are the warp's, its teacher crop is the same warped crop at twice
    the size, and ``yaw`` says the angle (0 without the warp)."""
    pytest.importorskip("torch")
    import cv2

    from pipnet_edge.data.annotations import load_300w_folder, write_pts
    from pipnet_edge.data.dataset import FaceDataset
    from pipnet_edge.meanface import compute_mean_face
    from pipnet_edge.spec import ModelSpec

    rng = np.random.default_rng(0)
    for i in range(3):
        pts = face_points(160, roll=rng.uniform(-10, 10), yaw=rng.uniform(-10, 10)) + 20
        img = cv2.GaussianBlur(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8), (0, 0), 3)
        for x, y in pts:
            cv2.circle(img, (int(x), int(y)), 2, (255, 255, 255), -1)
        cv2.imwrite(str(tmp_path / f"f{i}.png"), img)
        write_pts(tmp_path / f"f{i}.pts", pts)
    recs = load_300w_folder(tmp_path)
    spec = ModelSpec.create("300w-68", compute_mean_face(np.stack([r.points for r in recs])), input_size=64,
                            net_stride=16)
    quiet = {"occlusion_prob": 0.0, "blur_prob": 0.0, "gray_prob": 0.0}
    plain = FaceDataset(recs, spec, augment=AugmentConfig(**quiet, flip_prob=0.0, rotate_prob=0.0, shift_prob=0.0))
    warped = FaceDataset(recs, spec, augment=AugmentConfig(**quiet, flip_prob=0.0, rotate_prob=0.0, shift_prob=0.0,
                                                           yaw_prob=1.0, max_yaw=30.0), teacher_size=128)
    for i in range(len(recs)):
        a, b = plain[i], warped[i]
        assert float(a["yaw"]) == 0.0 and float(b["yaw"]) != 0.0
        moved = np.abs(a["points"].numpy() - b["points"].numpy()).max() * 64
        assert moved > 1.0  # the labels moved with the face (pixels of the 64 px crop)
        small = b["image"].numpy().astype(np.float32)
        down = cv2.resize(b["teacher_image"].numpy(), (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
        assert np.abs(small - down).mean() < 12.0

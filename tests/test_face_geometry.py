"""Face geometry of 68 points: head pose (solvePnP against the 3D mean face), the aligned crop (ArcFace's template),
eye and mouth openness; synthetic faces only (the real-data figures: ``python -m benchmarks head_pose``)."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from pipnet_edge.errors import InputError
from pipnet_edge.runtime import FaceLandmarks
from pipnet_edge.runtime import face_geometry as fg
from pipnet_edge.runtime.preprocess import roll_angles
from pipnet_edge.schemes import get_scheme

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)

W, H = 640, 480
FLIP = np.array(get_scheme("300w-68").flip_permutation)


def project(yaw: float, pitch: float, roll: float, t=(1.5, -2.0, 60.0), size=(W, H), focal=None) -> np.ndarray:
    """The mean face's 68 points seen by :func:`fg.camera_matrix` under a known pose."""
    r = fg.rotation_from_euler(yaw, pitch, roll)
    pts, _ = cv2.projectPoints(fg.MEAN_FACE_3D.reshape(-1, 1, 3), cv2.Rodrigues(r)[0], np.asarray(t, float),
                               fg.camera_matrix(size, focal), None)
    return pts.reshape(-1, 2)


def mirror(points: np.ndarray, width: int = W) -> np.ndarray:
    """The points of the mirrored photo, relabelled by the scheme (point i of the mirror image is point perm[i])."""
    return np.stack([width - 1 - points[FLIP, 0], points[FLIP, 1]], axis=1)


# ------------------------------------------------------------------------------------------------ the mean face
def test_mean_face_is_symmetric_upright_and_in_opencv_axes():
    m = fg.MEAN_FACE_3D
    assert m.shape == (68, 3) and not m.flags.writeable
    np.testing.assert_allclose(m[FLIP] * [-1, 1, 1], m, atol=1e-12)  # mirror symmetric
    assert m[45, 0] > m[36, 0]  # x towards the face's left = the image's right for a frontal face
    assert m[8, 1] > m[27, 1]  # y down: the chin below the nose bridge
    assert m[30, 2] < m[0, 2]  # z into the head: the nose tip nearest the camera
    # MediaPipe's vertex 4 (nose tip) in the file's axes, centimetres
    np.testing.assert_allclose(m[30], [0.0, 0.463170, -7.586580])


def test_euler_round_trip():
    for yaw, pitch, roll in itertools.product((-70, -15, 0, 33), (-50, 0, 12), (-120, -5, 0, 44)):
        assert fg.euler_from_rotation(fg.rotation_from_euler(yaw, pitch, roll)) == pytest.approx((yaw, pitch, roll), abs=1e-9)


# ------------------------------------------------------------------------------------------------ head pose
@pytest.mark.parametrize("yaw, pitch, roll", [(0, 0, 0), (25, -10, 8), (-40, 15, -20), (55, 25, 30), (-10, -30, 45),
                                              (5, 0, -60)])
def test_known_pose_is_recovered(yaw, pitch, roll):
    pose = fg.head_pose(project(yaw, pitch, roll), (W, H))
    assert pose.angles == pytest.approx((yaw, pitch, roll), abs=1.0)
    assert pose.reprojection_error < 0.01
    assert pose.translation[2] > 0  # in front of the camera


def test_known_pose_is_recovered_under_noise_and_other_cameras():
    rng = np.random.default_rng(0)
    for _ in range(40):
        angles = rng.uniform([-45, -25, -30], [45, 25, 30])
        size = (int(rng.integers(200, 2000)), int(rng.integers(200, 2000)))
        focal = float(rng.uniform(0.6, 1.5)) * size[0]
        t = (rng.uniform(-4, 4), rng.uniform(-4, 4), rng.uniform(40, 150))
        pts = project(*angles, t=t, size=size, focal=focal)
        eyes = np.linalg.norm(pts[45] - pts[36])
        pts = pts + rng.normal(0, 0.005 * eyes, pts.shape)  # 0.5 % of the eye distance
        pose = fg.head_pose(pts, size, focal=focal)
        assert pose.angles == pytest.approx(tuple(angles), abs=3.0)


def test_conventions_signs():
    # yaw > 0: the nose moves to the image's right; pitch > 0: up; roll > 0: counter-clockwise on screen
    p = project(20, 0, 0)
    assert p[30, 0] > p[27, 0] + 3
    p = project(0, 20, 0)
    assert p[30, 1] < project(0, 0, 0)[30, 1] - 3
    five = fg.five_from_68(project(0, 0, 20))
    assert roll_angles(five[None, 0], five[None, 1])[0] == pytest.approx(20.0, abs=0.5)


def test_roll_follows_the_runtimes_roll_and_a_turned_photo():
    pts = project(15, -5, 0, t=(0, 0, 60))
    base = fg.head_pose(pts, (W, H))
    c = np.array([(W - 1) / 2, (H - 1) / 2])
    for turn in (-20, -7, 12, 20):
        m = cv2.getRotationMatrix2D(tuple(c), turn, 1.0)  # counter-clockwise on screen
        turned = fg.head_pose(pts @ m[:, :2].T + m[:, 2], (W, H))
        assert turned.roll == pytest.approx(base.roll + turn, abs=1e-3)
        assert (turned.yaw, turned.pitch) == pytest.approx((base.yaw, base.pitch), abs=1e-3)


@pytest.mark.parametrize("yaw, pitch, roll", [(25, -10, 8), (-40, 15, -20), (12, 5, 0)])
def test_mirrored_points_flip_yaw_and_roll(yaw, pitch, roll):
    pts = project(yaw, pitch, roll)
    pose, flipped = fg.head_pose(pts, (W, H)), fg.head_pose(mirror(pts), (W, H))
    assert flipped.yaw == pytest.approx(-pose.yaw, abs=1e-3)
    assert flipped.roll == pytest.approx(-pose.roll, abs=1e-3)
    assert flipped.pitch == pytest.approx(pose.pitch, abs=1e-3)


def test_image_size_from_the_image_and_focal():
    pts = project(10, 5, -3)
    img = np.zeros((H, W, 3), np.uint8)
    assert fg.head_pose(pts, img).angles == pytest.approx(fg.head_pose(pts, (W, H)).angles)
    k = fg.camera_matrix((W, H))
    assert k[0, 0] == W and k[0, 2] == (W - 1) / 2 and k[1, 2] == (H - 1) / 2
    assert fg.camera_matrix((W, H), focal=500)[1, 1] == 500


# ------------------------------------------------------------------------------------------------ aligned crop
def test_aligned_crop_puts_the_five_points_on_the_template():
    pts = project(0, 0, 17, t=(3, 1, 50))  # a rolled, off-centre face
    m = fg.alignment_matrix(pts)
    five = fg.five_from_68(pts) @ m[:, :2].T + m[:, 2]
    # a similarity cannot fit five points exactly; on the mean face they land within 2 px of the template
    assert np.abs(five - fg.ARCFACE_TEMPLATE_112).max() < 2.0
    # exactly on it when the points are the template itself moved by a similarity
    a = np.radians(25)
    sim = 2.3 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    src = fg.ARCFACE_TEMPLATE_112 @ sim.T + [140.0, 75.0]
    m = fg.alignment_matrix(src)
    np.testing.assert_allclose(src @ m[:, :2].T + m[:, 2], fg.ARCFACE_TEMPLATE_112, atol=1e-9)


def test_aligned_crop_moves_the_pixels_there():
    # an image with a bright dot at each of the five points: the crop has them at the template
    a = np.radians(-12)
    sim = 3.0 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    src = fg.ARCFACE_TEMPLATE_112 @ sim.T + [200.0, 90.0]
    img = np.zeros((H, W, 3), np.uint8)
    for x, y in src:
        cv2.circle(img, (int(round(x)), int(round(y))), 6, (0, 255, 0), -1)
    crop = fg.aligned_crop(img, src)
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    for x, y in fg.ARCFACE_TEMPLATE_112:
        assert crop[int(round(y)), int(round(x)), 1] > 200 and crop[int(round(y)), int(round(x)), 0] == 0
    gray = fg.aligned_crop(img[..., 1], src, 224)
    assert gray.shape == (224, 224)
    for x, y in fg.arcface_template(224):
        assert gray[int(round(y)), int(round(x))] > 200


def test_template_sizes():
    np.testing.assert_allclose(fg.arcface_template(112), fg.ARCFACE_TEMPLATE_112)
    np.testing.assert_allclose(fg.arcface_template(224), fg.ARCFACE_TEMPLATE_112 * 2)
    np.testing.assert_allclose(fg.arcface_template(128), fg.ARCFACE_TEMPLATE_112 + [8.0, 0.0])  # InsightFace's 128
    with pytest.raises(InputError, match="size"):
        fg.arcface_template(0)
    with pytest.raises(InputError, match="size"):
        fg.alignment_matrix(project(0, 0, 0), 112.5)


# ------------------------------------------------------------------------------------------------ openness
def _face_with(eye_gap: float, mouth_gap: float) -> np.ndarray:
    """The frontal mean face with both eyes' lids and the inner lips opened by the given fraction of their width."""
    p = project(0, 0, 0, t=(0, 0, 60)).copy()
    for eye in fg.EYE_68:
        e = list(eye)
        corner_y = p[e[0], 1] = p[e[3], 1] = (p[e[0], 1] + p[e[3], 1]) / 2  # level corners
        width = abs(p[e[3], 0] - p[e[0], 0])
        p[e[1:3], 1] = corner_y - eye_gap * width / 2  # upper lid
        p[e[4:6], 1] = corner_y + eye_gap * width / 2  # lower lid
        p[e[4:6], 0] = p[e[2:0:-1], 0]  # the lower lid under the upper
    corner_y = p[60, 1] = p[64, 1] = (p[60, 1] + p[64, 1]) / 2
    width = abs(p[64, 0] - p[60, 0])
    p[[61, 62, 63], 1] = corner_y - mouth_gap * width / 2
    p[[67, 66, 65], 1] = corner_y + mouth_gap * width / 2
    p[[67, 66, 65], 0] = p[[61, 62, 63], 0]
    return p


def test_openness_closed_and_open():
    closed, open_ = fg.openness(_face_with(0.0, 0.0)), fg.openness(_face_with(0.3, 0.6))
    assert closed.left_eye == pytest.approx(0.0, abs=1e-9) and closed.right_eye == pytest.approx(0.0, abs=1e-9)
    assert closed.mouth == pytest.approx(0.0, abs=1e-9)
    assert open_.left_eye == pytest.approx(0.3) and open_.right_eye == pytest.approx(0.3) and open_.eyes == pytest.approx(0.3)
    assert open_.mouth == pytest.approx(0.6)
    # a blink of one eye
    p = _face_with(0.3, 0.0)
    p[[43, 44], 1] = p[[47, 46], 1] = (p[42, 1] + p[45, 1]) / 2
    o = fg.openness(p)
    assert o.right_eye == pytest.approx(0.0, abs=1e-9) and o.left_eye == pytest.approx(0.3)
    # the ratios do not change with the face's size, position or roll
    m = cv2.getRotationMatrix2D((100.0, 50.0), 33, 0.4)
    turned = fg.openness(_face_with(0.3, 0.6) @ m[:, :2].T + m[:, 2])
    assert (turned.left_eye, turned.right_eye, turned.mouth) == pytest.approx((0.3, 0.3, 0.6))


def test_the_mean_face_has_plausible_openness():
    o = fg.openness(project(0, 0, 0))
    assert o.left_eye == pytest.approx(o.right_eye, abs=0.02) and 0.15 < o.left_eye < 0.4


# ------------------------------------------------------------------------------------------------ on the result
def test_face_landmarks_convenience_methods():
    pts = project(20, -8, 6).astype(np.float32)
    face = FaceLandmarks(pts, np.array([0, 0, 10, 10], np.float32), 0.9, np.ones(68, np.float32))
    assert face.head_pose((W, H)).angles == pytest.approx((20, -8, 6), abs=1.0)
    img = np.zeros((H, W, 3), np.uint8)
    assert face.aligned_crop(img).shape == (112, 112, 3) and face.aligned_crop(img, 160).shape == (160, 160, 3)
    assert face.openness() == fg.openness(pts)
    np.testing.assert_allclose(face.five_points(), fg.five_from_68(pts))


def test_five_point_module_uses_the_same_mapping():
    from pipnet_edge import five_point

    assert five_point.five_from_68 is fg.five_from_68


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad", [np.zeros((98, 2)), np.zeros((68, 3)), np.zeros(136), np.zeros((5, 2)), "points", None])
def test_bad_points_raise(bad):
    with pytest.raises(InputError):
        fg.head_pose(bad, (W, H))
    with pytest.raises(InputError):
        fg.openness(bad)


def test_other_schemes_raise_a_clear_error():
    with pytest.raises(InputError, match="300W"):
        fg.head_pose(np.zeros((98, 2)), (W, H))
    with pytest.raises(InputError, match="300w-68.*wflw-98"):
        fg.head_pose(project(0, 0, 0), (W, H), scheme=get_scheme("wflw-98"))
    with pytest.raises(InputError, match="300w-68"):
        fg.openness(project(0, 0, 0), scheme="cofw-29")
    with pytest.raises(InputError, match="300w-68"):
        fg.aligned_crop(np.zeros((H, W, 3), np.uint8), project(0, 0, 0), scheme="aflw-19")
    fg.head_pose(project(0, 0, 0), (W, H), scheme="300w-68")  # the 300W scheme is fine
    face = FaceLandmarks(np.zeros((98, 2), np.float32), np.zeros(4, np.float32), 0.5, np.zeros(98, np.float32))
    for call in (lambda: face.head_pose((W, H)), face.openness, face.five_points,
                 lambda: face.aligned_crop(np.zeros((H, W, 3), np.uint8))):
        with pytest.raises(InputError, match="300W"):
            call()


def test_bad_values_raise():
    pts = project(0, 0, 0)
    nan = pts.copy()
    nan[3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fg.head_pose(nan, (W, H))
    with pytest.raises(InputError, match="one spot"):
        fg.head_pose(np.full((68, 2), 5.0), (W, H))
    with pytest.raises(InputError, match="image_size"):
        fg.head_pose(pts, (0, H))
    with pytest.raises(InputError, match="image_size"):
        fg.head_pose(pts, "640x480")
    with pytest.raises(InputError, match="focal"):
        fg.head_pose(pts, (W, H), focal=-1)
    with pytest.raises(InputError, match="image"):
        fg.aligned_crop(np.zeros(5), pts)
    with pytest.raises(InputError, match="corners coincide"):
        fg.openness(np.zeros((68, 2)))

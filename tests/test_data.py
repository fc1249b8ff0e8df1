"""Annotations, crop geometry and the training data set."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipnet_edge.data.annotations import load_300w_folder, load_pipnet_list, load_wflw_list, read_pts, write_pts
from pipnet_edge.errors import DataError, InputError
from pipnet_edge.runtime import geometry

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)


def test_pts_are_one_based_on_disk(tmp_path):
    p = tmp_path / "a.pts"
    p.write_text("version: 1\nn_points: 2\n{\n1 1\n10.5 20\n}\n")
    np.testing.assert_allclose(read_pts(p), [[0, 0], [9.5, 19]])
    write_pts(tmp_path / "b.pts", read_pts(p))
    np.testing.assert_allclose(read_pts(tmp_path / "b.pts"), read_pts(p))


def test_bad_pts_is_a_clear_error(tmp_path):
    p = tmp_path / "a.pts"
    p.write_text("version: 1\nn_points: 3\n{\n1 1\n2 2\n}\n")
    with pytest.raises(DataError, match="n_points: 3"):
        read_pts(p)
    p.write_text("garbage")
    with pytest.raises(DataError, match="not an iBUG"):
        read_pts(p)
    with pytest.raises(DataError, match="does not exist"):
        load_300w_folder(tmp_path / "nope")


def test_pipnet_and_wflw_lists(tmp_path, synthetic_faces):
    img = sorted(synthetic_faces.glob("*.jpg"))[0]
    pts = read_pts(img.with_suffix(".pts"))
    (tmp_path / "list.txt").write_text(f"{img.name} " + " ".join(f"{v / 96:.6f}" for v in pts.ravel()) + "\n")
    recs = load_pipnet_list(tmp_path / "list.txt", synthetic_faces)
    np.testing.assert_allclose(recs[0].points, pts, atol=1e-3)
    wpts = np.arange(196, dtype=float)
    line = " ".join(map(str, wpts)) + " 1 2 30 40 0 0 0 0 0 0 sub/img.jpg\n"
    (tmp_path / "wflw.txt").write_text(line)
    w = load_wflw_list(tmp_path / "wflw.txt", tmp_path)
    assert w[0].points.shape == (98, 2) and w[0].box.tolist() == [1, 2, 30, 40]
    (tmp_path / "wflw.txt").write_text("1 2 3\n")
    with pytest.raises(DataError, match="207 fields"):
        load_wflw_list(tmp_path / "wflw.txt", tmp_path)


@settings(max_examples=50, deadline=None)
@given(
    cx=st.floats(0, 500), cy=st.floats(0, 500), side=st.floats(10, 400), angle=st.floats(-45, 45),
    size=st.sampled_from([64, 256]),
)
def test_crop_affine_round_trip(cx, cy, side, angle, size):
    m = geometry.crop_matrix(cx, cy, side, size, angle)
    pts = np.random.default_rng(0).uniform(0, 500, size=(10, 2))
    back = geometry.apply(geometry.invert(m), geometry.apply(m, pts))
    np.testing.assert_allclose(back, pts, atol=1e-6)
    # the crop centre lands on the input centre; normalised coords round trip
    np.testing.assert_allclose(geometry.apply(m, np.array([[cx, cy]]))[0], [size / 2 - 0.5] * 2, atol=1e-6)
    u = geometry.to_normalized(pts, size)
    np.testing.assert_allclose(geometry.from_normalized(u, size), pts)


def test_crop_square_rejects_bad_boxes():
    assert geometry.crop_square([0, 0, 10, 20], 1.1) == (5.0, 10.0, pytest.approx(22.0))
    with pytest.raises(InputError, match="empty"):
        geometry.crop_square([5, 5, 5, 9], 1.1)
    with pytest.raises(InputError, match="NaN"):
        geometry.crop_square([np.nan, 5, 7, 9], 1.1)


def test_warp_samples_the_pixel_the_geometry_says():
    import cv2

    img = np.zeros((100, 100, 3), np.uint8)
    img[40, 60] = 255  # a single bright pixel at x=60, y=40
    m = geometry.crop_matrix(50.5, 50.5, 50, 50, 0.0)  # 1:1 scale, crop pixels on image pixels
    crop = cv2.warpAffine(img, m, (50, 50))
    y, x = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    np.testing.assert_allclose(geometry.apply(m, [[60, 40]])[0], [x, y])


def test_dataset_on_real_faces(train_dir):
    pytest.importorskip("torch")
    from pipnet_edge.data.augment import AugmentConfig
    from pipnet_edge.data.dataset import FaceDataset
    from pipnet_edge.meanface import compute_mean_face
    from pipnet_edge.spec import ModelSpec

    recs = load_300w_folder(train_dir)
    assert len(recs) == 2012 and recs[0].points.shape == (68, 2)
    sub = recs[:4]
    spec = ModelSpec.create("300w-68", compute_mean_face(np.stack([r.points for r in sub])))
    plain = FaceDataset(sub, spec)
    item = plain[0]
    assert item["image"].shape == (256, 256, 3) and item["image"].dtype.is_floating_point is False
    pts = item["points"].numpy()
    # 300W protocol: the landmark box fills 1/1.1 of the crop's longer side, centred
    side = (pts.max(0) - pts.min(0)).max()
    assert side == pytest.approx(1 / 1.1, abs=1e-3)
    np.testing.assert_allclose((pts.max(0) + pts.min(0)) / 2, 0.5, atol=1e-3)
    aug = FaceDataset(sub, spec, augment=AugmentConfig(flip_prob=1.0, rotate_prob=0.0, shift_prob=0.0, scale_range=(1, 1)))
    flipped = aug[0]["points"].numpy()
    # a mirrored crop: the subject's right eye corner (36) moves to where 45 was, mirrored
    np.testing.assert_allclose(flipped[36, 0], 1 - pts[45, 0], atol=1e-5)
    np.testing.assert_allclose(flipped[36, 1], pts[45, 1], atol=1e-5)


def test_teacher_crop_is_the_same_crop_at_the_teacher_size(synthetic_faces):
    """Distillation: the teacher's crop shows the same face region (same augmentation draws) at its size."""
    pytest.importorskip("torch")
    import cv2

    from pipnet_edge.data.annotations import load_300w_folder
    from pipnet_edge.data.augment import AugmentConfig
    from pipnet_edge.data.dataset import FaceDataset
    from pipnet_edge.meanface import compute_mean_face
    from pipnet_edge.spec import ModelSpec

    recs = load_300w_folder(synthetic_faces)
    mf = compute_mean_face(np.stack([r.points for r in recs]))
    spec = ModelSpec.create("300w-68", mf, input_size=32, net_stride=16)
    cfg = AugmentConfig(occlusion_prob=0.0, blur_prob=0.0)  # photometric draws are shared too, but resample differently
    for ds in (FaceDataset(recs, spec, teacher_size=64), FaceDataset(recs, spec, augment=cfg, teacher_size=64)):
        for i in range(len(recs)):
            item = ds[i]
            small = item["image"].numpy().astype(np.float32)
            big = item["teacher_image"].numpy()
            assert big.shape == (64, 64, 3)
            down = cv2.resize(big, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
            other = cv2.resize(ds[(i + 1) % len(recs)]["teacher_image"].numpy(), (32, 32), interpolation=cv2.INTER_AREA)
            # the downscaled teacher crop is much closer to the student crop than another face's crop is
            assert np.abs(down - small).mean() < 0.5 * np.abs(other.astype(np.float32) - small).mean()

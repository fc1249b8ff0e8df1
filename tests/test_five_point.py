"""Five-point faces: the 68 -> 5 mapping, the metric, the crop rule, the MTFL reader and its held-out split."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA_300W, SHARED, require

from pipnet_edge.data.annotations import FaceRecord
from pipnet_edge.data.five_point_crop import FIVE_POINT_BOX_RULE, fit_five_point_box_rule, landmark_box_from_five
from pipnet_edge.data.mtfl import (
    face_key,
    make_held_out_split,
    read_five_point_list,
    read_split,
    split_held_out,
    write_split,
)
from pipnet_edge.errors import DataError, InputError
from pipnet_edge.five_point import FIVE_POINT_SCHEME, five_from_68, five_point_summary

MTFL = SHARED / "data" / "mtfl"


def test_five_from_68_golden():
    pts = np.stack([np.arange(68), 2 * np.arange(68)], axis=1).astype(float)  # point i at (i, 2i)
    five = five_from_68(pts)
    np.testing.assert_allclose(five, [[38.5, 77], [44.5, 89], [30, 60], [48, 96], [54, 108]])
    batch = five_from_68(np.stack([pts, pts + 1]))
    assert batch.shape == (2, 5, 2)
    np.testing.assert_allclose(batch[1], five + 1)
    with pytest.raises(InputError, match="68, 2"):
        five_from_68(np.zeros((5, 2)))
    assert FIVE_POINT_SCHEME.flip_permutation == (1, 0, 2, 4, 3) and FIVE_POINT_SCHEME.norm_indices == (0, 1)


def test_five_point_metric_golden():
    truth = np.array([[[10, 10], [50, 10], [30, 30], [15, 45], [45, 45]]] * 2, dtype=float)  # eye centres 40 px apart
    pred = truth.copy()
    pred[0] += (3, 4)  # every point 5 px off: 12.5 % of 40 px
    pred[1, :2] += (0, 4)  # two points 4 px off: (2 * 10 %) / 5 = 4 %
    s = five_point_summary(pred, truth)
    assert s.per_face == pytest.approx([12.5, 4.0])
    assert s.nme == pytest.approx(8.25)
    assert s.failure_rate == pytest.approx(50.0)  # face 0 is above 0.10
    assert s.per_landmark == pytest.approx([(12.5 + 10) / 2, (12.5 + 10) / 2, 6.25, 6.25, 6.25])
    # 68-point predictions are mapped to five first: a face whose 68 points map onto the truth scores 0
    p68 = np.zeros((1, 68, 2))
    p68[0, 36:42], p68[0, 42:48] = truth[0, 0], truth[0, 1]
    p68[0, 30], p68[0, 48], p68[0, 54] = truth[0, 2], truth[0, 3], truth[0, 4]
    assert five_point_summary(p68, truth[:1]).nme == 0.0
    with pytest.raises(InputError, match="5, 2"):
        five_point_summary(p68, p68)


def _synthetic_68(count: int = 40, seed: int = 0) -> np.ndarray:
    """Faces of one 68-point shape (a frontal template) at random positions and scales."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([0.5 - 0.45 * np.cos(t), 0.35 + 0.6 * np.sin(t)], 1)
    brows = np.stack([np.r_[np.linspace(0.15, 0.42, 5), np.linspace(0.58, 0.85, 5)], np.full(10, 0.25)], 1)
    nose = np.stack([np.r_[np.full(4, 0.5), np.linspace(0.42, 0.58, 5)], np.r_[np.linspace(0.35, 0.6, 4), np.full(5, 0.65)]], 1)
    ring = np.stack([np.cos(np.linspace(0, 2 * np.pi, 7)[:-1]), np.sin(np.linspace(0, 2 * np.pi, 7)[:-1])], 1)
    eyes = np.r_[ring * (0.08, 0.03) + (0.3, 0.38), ring * (0.08, 0.03) + (0.7, 0.38)]
    mouth = np.r_[np.stack([np.cos(np.linspace(np.pi, 3 * np.pi, 13)[:-1]), np.sin(np.linspace(np.pi, 3 * np.pi, 13)[:-1])], 1)
                  * (0.17, 0.06) + (0.5, 0.8),
                  np.stack([np.cos(np.linspace(np.pi, 3 * np.pi, 9)[:-1]), np.sin(np.linspace(np.pi, 3 * np.pi, 9)[:-1])], 1)
                  * (0.12, 0.03) + (0.5, 0.8)]
    template = np.r_[jaw, brows, nose, eyes, mouth]
    assert template.shape == (68, 2)
    scale = rng.uniform(30, 300, size=(count, 1, 1))
    return template[None] * scale + rng.uniform(0, 400, size=(count, 1, 2))


def test_five_point_crop_rule_on_a_synthetic_face():
    faces = _synthetic_68()
    rule, stats = fit_five_point_box_rule(faces)
    assert stats["faces"] == 40 and stats["centre_error_of_side_median"] < 1e-3 and stats["side_abs_log_error_median"] < 1e-3
    # a face known by five points gets the box -- hence the crop -- a face with its 68 points gets
    five = five_from_68(faces)
    boxes = landmark_box_from_five(five, rule)
    for face, box in zip(faces, boxes):
        side = max(np.ptp(face[:, 0]), np.ptp(face[:, 1]))
        np.testing.assert_allclose((box[:2] + box[2:]) / 2, (face.min(0) + face.max(0)) / 2, atol=1e-3 * side)
        assert box[2] - box[0] == pytest.approx(side, rel=1e-3) and box[3] - box[1] == pytest.approx(side, rel=1e-3)
    # boxes move and scale with the face; a nose turned right moves the box left (the jaw line follows the turn)
    np.testing.assert_allclose(landmark_box_from_five(five[0] * 2 + 5), landmark_box_from_five(five[0]) * 2 + 5)
    turned = five[0].copy()
    turned[2, 0] += 0.1 * np.ptp(five[0][:, 0])
    assert np.mean(landmark_box_from_five(turned)[[0, 2]]) < np.mean(landmark_box_from_five(five[0])[[0, 2]])
    assert FIVE_POINT_BOX_RULE.yaw_gain < 0
    with pytest.raises(InputError, match="zero size"):
        landmark_box_from_five(np.zeros((5, 2)))


def test_five_point_face_crops_like_the_labelled_face(tmp_path):
    """Through the evaluation's crop code: the 68-point record and its 5-point twin give the same crop matrix."""
    import cv2

    from pipnet_edge import CropRule
    from pipnet_edge.evaluation.runner import read_face_crops
    from pipnet_edge.spec import ModelSpec

    faces = _synthetic_68(count=12, seed=1)
    rule, _ = fit_five_point_box_rule(faces)
    face = faces[0] - faces[0].min(0) + 20
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), np.zeros((int(face.max()) + 40, int(face.max()) + 40, 3), np.uint8))
    spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(0.2, 0.8, (68, 2)), input_size=64, crop=CropRule(1.1))
    labelled = FaceRecord(path, face.astype(np.float32))
    five = five_from_68(face)
    unlabelled = FaceRecord(path, five.astype(np.float32), landmark_box_from_five(five, rule))
    _, m68 = read_face_crops([labelled], spec)
    _, m5 = read_face_crops([unlabelled], spec)
    np.testing.assert_allclose(m5, m68, atol=0.05)  # crop pixels


def test_fitted_constants_reproduce_on_300w_training_faces():
    from pipnet_edge.data.annotations import load_300w_folder, stack_points

    rule, _ = fit_five_point_box_rule(stack_points(load_300w_folder(require(DATA_300W / "train", "300W training faces"))))
    assert rule == FIVE_POINT_BOX_RULE, "refit with `python -m pipnet_edge.data.five_point_crop --data ../shared/data/300w/train`"


def _write_list(folder, lines: list[str]):
    import cv2

    (folder / "faces").mkdir(parents=True, exist_ok=True)
    for i in range(3):
        cv2.imwrite(str(folder / "faces" / f"f{i}.jpg"), np.zeros((80, 80, 3), np.uint8))
    path = folder / "list.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = "faces/f{i}.jpg 30 50 40 32 48 35 35 45 55 55"


def test_mtfl_reader_reads_x_then_y_and_rejects_bad_lines(tmp_path):
    path = _write_list(tmp_path, [GOOD.format(i=0), "", GOOD.format(i=1)])
    recs = read_five_point_list(path)
    assert len(recs) == 2 and face_key(recs[0]) == "faces/f0.jpg"
    np.testing.assert_allclose(recs[0].points, [[30, 35], [50, 35], [40, 45], [32, 55], [48, 55]])
    assert recs[0].box is not None and recs[0].box[0] < 30 and recs[0].box[2] > 50
    bad = {
        "faces/f0.jpg 30 50 40 32 48 35 35 45 55": "11 fields",
        "faces/f0.jpg 30 50 40 32 48 35 35 45 55 abc": "must be numbers",
        "faces/f0.jpg 30 50 40 32 48 35 35 45 55 nan": "NaN",
        "faces/f0.jpg 40 40 40 40 40 45 45 45 45 45": "zero size",
        "faces/missing.jpg 30 50 40 32 48 35 35 45 55 55": "does not exist",
    }
    for line, message in bad.items():
        with pytest.raises(DataError, match=message) as info:
            read_five_point_list(_write_list(tmp_path, [GOOD.format(i=1), line]))
        assert "list.txt:2" in str(info.value)
    with pytest.raises(DataError, match="lists no faces"):
        read_five_point_list(_write_list(tmp_path, [""]))
    with pytest.raises(DataError, match="cannot read"):
        read_five_point_list(tmp_path / "nope.txt")
    # MTFL's misaligned net_7876/_<angle>_* faces are skipped unless asked for
    (tmp_path / "net_7876").mkdir()
    import cv2

    cv2.imwrite(str(tmp_path / "net_7876" / "_-20_5_0.jpg"), np.zeros((80, 80, 3), np.uint8))
    path = _write_list(tmp_path, [GOOD.format(i=0), "net_7876/_-20_5_0.jpg 30 50 40 32 48 35 35 45 55 55"])
    assert len(read_five_point_list(path)) == 1 and len(read_five_point_list(path, keep_misaligned=True)) == 2


def test_held_out_split_is_seeded_disjoint_and_round_trips(tmp_path):
    recs = [FaceRecord(tmp_path / "d" / f"{i}.jpg", np.zeros((5, 2), np.float32)) for i in range(50)]
    keys = make_held_out_split(recs, count=10, seed=3)
    assert keys == make_held_out_split(recs, count=10, seed=3) and keys != make_held_out_split(recs, count=10, seed=4)
    split = write_split(tmp_path / "split.txt", keys)
    assert read_split(split) == set(keys)
    train, held = split_held_out(recs, split)
    assert len(held) == 10 and len(train) == 40 and not {face_key(r) for r in train} & set(keys)
    with pytest.raises(DataError, match="cannot hold out"):
        make_held_out_split(recs, count=50)


def test_stored_split_is_the_seeded_one():
    from pipnet_edge.data.mtfl import HELD_OUT_COUNT, HELD_OUT_SPLIT, load_held_out_faces, load_unlabelled_faces

    listing = require(MTFL / "train_5pt.txt", "MTFL five-point faces")
    recs = read_five_point_list(listing)
    assert len(recs) == 7650
    assert sorted(read_split()) == make_held_out_split(recs), f"regenerate {HELD_OUT_SPLIT} (see pipnet_edge.data.mtfl)"
    held, train = load_held_out_faces(listing), load_unlabelled_faces(listing)
    assert len(held) == HELD_OUT_COUNT and len(train) == 6650
    assert not {face_key(r) for r in held} & {face_key(r) for r in train}


def test_lowres_augmentation_is_off_by_default_and_blurs_when_on():
    from pipnet_edge.data.augment import AugmentConfig, photometric

    img = np.random.default_rng(0).integers(0, 256, (112, 112, 3), dtype=np.uint8)
    quiet = {"occlusion_prob": 0.0, "blur_prob": 0.0, "gray_prob": 0.0}
    rng = np.random.default_rng(1)
    assert np.array_equal(photometric(img, AugmentConfig(**quiet), rng), img)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    photometric(img, AugmentConfig(), a)
    photometric(img, AugmentConfig(lowres_prob=0.0), b)
    assert a.random() == b.random(), "lowres_prob 0 draws no random numbers"
    out = photometric(img, AugmentConfig(lowres_prob=1.0, lowres_side=(32, 32), **quiet), np.random.default_rng(2))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(np.diff(out.astype(float), axis=1)).mean() < 0.5 * np.abs(np.diff(img.astype(float), axis=1)).mean()


def _face(nose_x: float = 0.0) -> np.ndarray:
    """Five points of a synthetic face, eyes 1 apart; the nose tip ``nose_x`` inter-ocular distances off-centre."""
    return np.array([[-0.5, 0.0], [0.5, 0.0], [nose_x, 0.45], [-0.35, 0.8], [0.35, 0.8]])


def test_pose_proxy_is_the_nose_offset_in_inter_ocular_distances():
    from pipnet_edge.five_point import pose_proxy

    assert pose_proxy(_face(0.0)) == pytest.approx(0.0)
    assert pose_proxy(_face(0.3)) == pytest.approx(0.3)
    assert pose_proxy(_face(-0.3)) == pytest.approx(0.3)  # either way
    with pytest.raises(InputError, match="five-point"):
        pose_proxy(np.zeros((68, 2)))
    with pytest.raises(InputError, match="same place"):
        pose_proxy(np.zeros((5, 2)))


@pytest.mark.parametrize("seed", range(5))
def test_pose_proxy_ignores_where_how_big_and_how_tilted_a_face_is(seed):
    from pipnet_edge.five_point import pose_proxy

    rng = np.random.default_rng(seed)
    face = _face(rng.uniform(-0.6, 0.6))
    a = rng.uniform(-np.pi, np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = face @ rot.T * rng.uniform(10, 300) + rng.uniform(-500, 500, 2)
    mirrored = face * [-1, 1]
    assert pose_proxy(moved) == pytest.approx(pose_proxy(face)) == pytest.approx(pose_proxy(mirrored))


def test_five_point_by_pose_bins_the_labelled_faces():
    """Faces go to bins by the proxy of their *labels*; each bin's NME is the five-point NME of its faces."""
    from pipnet_edge.five_point import five_point_by_pose

    truth = np.stack([_face(x) for x in (0.0, 0.05, 0.15, 0.3, 0.5, 0.6)]) * 40 + 100
    pred = truth.copy()
    pred[-1] += [2.0, 0.0]  # the most turned face is 2 px off: 5 % of its 40-px eye distance
    rows = dict(five_point_by_pose(pred, truth))
    assert [k for k in rows] == ["< 0.10", "0.10-0.20", "0.20-0.35", ">= 0.35", "all"]
    assert [rows[k].faces for k in rows] == [2, 1, 1, 2, 6]
    assert rows["< 0.10"].nme == pytest.approx(0.0) and rows[">= 0.35"].nme == pytest.approx(2.5)
    assert rows["all"].nme == pytest.approx(5.0 / 6)
    empty = dict(five_point_by_pose(truth[:2], truth[:2]))
    assert empty[">= 0.35"] is None and empty["all"].faces == 2

"""Pseudo-labels anchored to human five points (pipnet_edge/training/anchored_labels.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipnet_edge.errors import InputError
from pipnet_edge.five_point import five_from_68
from pipnet_edge.models.checkpoint import read_spec
from pipnet_edge.training.anchored_labels import anchor_points, convention_offset, face_frames

MEAN_FACE = np.asarray(read_spec("pipnet_edge/assets/pipnet_lite_300w68_fp16.safetensors").mean_face, np.float64) * 100


def _affine(points: np.ndarray, angle: float, scale: float, shear: float, shift) -> np.ndarray:
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    m = scale * np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    return points @ m.T + np.asarray(shift)


@settings(max_examples=30, deadline=None)
@given(angle=st.floats(-40, 40), scale=st.floats(0.7, 1.4), shear=st.floats(-0.2, 0.2),
       dx=st.floats(-20, 20), dy=st.floats(-20, 20), mode=st.sampled_from(["spline", "affine"]))
def test_a_teacher_off_by_an_affine_map_is_put_back_exactly(angle, scale, shear, dx, dy, mode):
    """Both warps reproduce affine maps: a teacher wrong by one is corrected at all 68 points, not just the five."""
    truth = MEAN_FACE[None]
    teacher = _affine(MEAN_FACE, angle, scale, shear, (dx, dy))[None]
    anchored, report = anchor_points(teacher, five_from_68(truth), offset=np.zeros((5, 2)), mode=mode)
    assert np.abs(anchored - truth).max() < 1e-3
    assert report.faces == 1 and report.offset == [[0.0, 0.0]] * 5 and report.mode == mode
    assert set(report.to_dict()) == {"faces", "median_move", "p90_move", "beyond_max_move", "max_move", "strength", "mode",
                                     "offset"}


def test_the_affine_mode_moves_the_face_by_one_map_and_leaves_its_shape():
    """Spline: the five derived points land exactly (the eye follows its human point alone); affine: all 68 points move
    by one affine map, so the teacher's shape stays and a single disagreeing point is matched only in part."""
    rng = np.random.default_rng(1)
    teacher = (MEAN_FACE + rng.normal(0, 0.8, (68, 2)))[None]  # a teacher with its own shape
    five = five_from_68(MEAN_FACE[None])
    five[0, 0, 0] += 4.0  # the image-left eye's human point 4 px (~0.1 IOD) right of the eyelids' mean
    spline, _ = anchor_points(teacher, five, offset=np.zeros((5, 2)))
    affine, _ = anchor_points(teacher, five, offset=np.zeros((5, 2)), mode="affine")
    assert np.abs(five_from_68(spline.astype(np.float64)) - five).max() < 1e-2
    a = np.concatenate([teacher[0], np.ones((68, 1))], axis=1)
    fit = a @ np.linalg.lstsq(a, affine[0].astype(np.float64), rcond=None)[0]
    assert np.abs(fit - affine[0]).max() < 1e-3  # exactly an affine image of the teacher's points
    assert 0.1 < np.abs(five_from_68(affine.astype(np.float64)) - five).max() < 4.0  # the eye's 4 px only partly


def test_anchoring_lands_the_five_derived_points_on_the_human_ones_plus_the_offset():
    rng = np.random.default_rng(0)
    truth = MEAN_FACE[None] + rng.normal(0, 1.0, (50, 68, 2))  # 50 faces (IOD ~ 40 px)
    five = five_from_68(truth) + rng.normal(0, 1.5, (50, 5, 2))  # human points with their own noise
    teacher = truth + rng.normal(0, 3.0, (50, 68, 2))  # a noisy teacher
    offset = np.array([[0.0, 0.02], [0.0, 0.02], [0.01, -0.02], [0.0, 0.01], [0.0, 0.01]])
    anchored, report = anchor_points(teacher, five, offset=offset)
    frame = face_frames(five)
    origin, ux, iod = frame
    derived = five_from_68(anchored.astype(np.float64))
    uy = np.stack([-ux[:, 1], ux[:, 0]], -1)
    want = five + iod[:, None, None] * (offset[None, :, :1] * ux[:, None] + offset[None, :, 1:] * uy[:, None])
    assert np.abs(derived - want).max() < 1e-2  # pixels (float32 output)
    assert report.p90_move <= report.max_move and report.beyond_max_move == 0 and report.moves.shape == (50,)
    assert np.isfinite(anchored).all() and anchored.dtype == np.float32
    # strength 0 keeps the teacher's points; the measured offset is the median of the teacher's derived points' offsets
    same, _ = anchor_points(teacher, five, strength=0.0)
    assert np.abs(same - teacher).max() < 1e-3
    assert convention_offset(teacher, five).shape == (5, 2)


def test_a_constant_convention_offset_is_measured_in_face_frames():
    """The same offset in IODs on faces of any size and roll is recovered; anchoring then leaves such faces alone."""
    faces = np.stack([_affine(MEAN_FACE, a, s, 0, (0, 0)) for a, s in [(0, 1), (20, 0.5), (-30, 2.0), (10, 1.3)]])
    truth5 = five_from_68(faces)
    shifted = faces.copy()  # the teacher's scheme puts its nose tip 0.05 IOD lower than the human labeller
    origin, ux, iod = face_frames(truth5)
    uy = np.stack([-ux[:, 1], ux[:, 0]], -1)
    shifted[:, 30] += 0.05 * iod[:, None] * uy
    off = convention_offset(shifted, truth5)
    assert off[2] == pytest.approx([0.0, 0.05], abs=1e-9) and np.abs(np.delete(off, 2, 0)).max() < 1e-9
    anchored, report = anchor_points(shifted, truth5)
    assert np.abs(anchored - shifted).max() < 1e-3 and report.median_move == 0


def test_bad_input_names_the_problem():
    five = five_from_68(MEAN_FACE[None])
    with pytest.raises(InputError, match=r"\(faces, 68, 2\)"):
        anchor_points(MEAN_FACE[None, :60], five)
    with pytest.raises(InputError, match="strength"):
        anchor_points(MEAN_FACE[None], five, strength=1.5)
    with pytest.raises(InputError, match="mode"):
        anchor_points(MEAN_FACE[None], five, mode="tps")
    with pytest.raises(InputError, match="coincident eyes"):
        anchor_points(MEAN_FACE[None], np.zeros((1, 5, 2)))


def test_train_cli_checks_anchor(tmp_path):
    from pipnet_edge.train import main

    assert main(["--data", str(tmp_path), "--anchor", "2"]) == 2
    assert main(["--data", str(tmp_path), "--anchor", "1"]) == 2  # without --unlabelled

"""The large-pose suite's point-score separation: its definition, on numbers whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.suites.large_pose import score_separation

pytestmark = pytest.mark.torch_free


def test_scores_that_track_the_error_separate_the_points():
    rng = np.random.default_rng(0)
    errors = rng.uniform(0, 10, (50, 20))
    scores = 1.0 - errors / 10 + rng.normal(0, 0.01, errors.shape)  # lower score, larger error
    s = score_separation(errors, scores)
    assert s["points_per_face_lowest"] == 2
    # each face's two lowest-scored points are (almost surely) its two largest errors
    top2 = np.sort(errors, axis=1)[:, -2:].mean()
    assert s["lowest"] == pytest.approx(top2, abs=0.05) and s["lowest"] > s["rest"]
    assert s["quintiles"] == sorted(s["quintiles"], reverse=True) and s["rank_correlation"] < -0.95


def test_scores_that_say_nothing_do_not_separate():
    rng = np.random.default_rng(1)
    errors = rng.uniform(0, 10, (400, 68))
    s = score_separation(errors, rng.uniform(0, 1, errors.shape))
    assert s["lowest"] == pytest.approx(s["rest"], abs=0.2) and abs(s["rank_correlation"]) < 0.02
    assert score_separation(errors[:, :5], rng.uniform(0, 1, (400, 5)), low_share=0.2)["points_per_face_lowest"] == 1

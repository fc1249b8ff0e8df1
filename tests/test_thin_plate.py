"""The thin-plate spline both the label anchoring and the yaw-like warp use."""

from __future__ import annotations

import numpy as np
import pytest

from pipnet_edge.data.thin_plate import ThinPlateSpline

pytestmark = pytest.mark.torch_free


def test_it_goes_through_its_points_and_reproduces_affine_maps():
    rng = np.random.default_rng(0)
    c = rng.uniform(0, 1, (12, 2))
    v = rng.normal(0, 1, (12, 2))
    np.testing.assert_allclose(ThinPlateSpline.fit(c, v)(c), v, atol=1e-9)
    a, t = np.array([[1.2, 0.3], [-0.2, 0.9]]), np.array([0.5, -1.0])
    f = ThinPlateSpline.fit(c, c @ a.T + t)
    q = rng.uniform(-1, 2, (50, 2))
    np.testing.assert_allclose(f(q), q @ a.T + t, atol=1e-9)  # an affine map needs no bending: it is exact anywhere


def test_smoothing_trades_the_fit_for_less_bending():
    rng = np.random.default_rng(1)
    c = rng.uniform(0, 1, (20, 2))
    v = rng.normal(0, 1, (20, 1))
    exact, smooth = ThinPlateSpline.fit(c, v), ThinPlateSpline.fit(c, v, reg=1.0)
    assert np.abs(smooth(c) - v).max() > 1e-3
    assert np.abs(smooth.coef[:20]).sum() < np.abs(exact.coef[:20]).sum()


def test_coincident_centres_give_an_answer():
    c = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    f = ThinPlateSpline.fit(c, np.array([[0.0], [1.0], [2.0], [2.0]]))
    assert np.isfinite(f(np.array([[0.5, 0.5]]))).all()

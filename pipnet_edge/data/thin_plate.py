"""Thin-plate splines in the plane: a smooth map through given points, for label anchoring and the yaw-like warp.

``f(q) = a0 + A q + sum_i w_i U(|q - c_i|)`` with ``U(r) = r^2 log r`` (Bookstein 1989), fitted so that ``f(c_i)``
is ``v_i`` (exactly with ``reg = 0``; ``reg > 0`` trades the fit for smoothness, as a ridge on the ``w_i``). Least
squares solves the system, so coincident or collinear centres give an answer instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ThinPlateSpline"]


def _kernel(r2: np.ndarray) -> np.ndarray:
    """``U`` of the squared distances: ``r^2 log r = 0.5 r2 log r2`` (0 at 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r2 > 0, 0.5 * r2 * np.log(np.maximum(r2, 1e-300)), 0.0)


@dataclass(frozen=True)
class ThinPlateSpline:
    """A fitted spline: ``centres`` ``(K, 2)`` and ``coef`` ``(K + 3, D)`` (the ``w_i``, then ``a0`` and ``A``)."""

    centres: np.ndarray
    coef: np.ndarray

    @classmethod
    def fit(cls, centres: np.ndarray, values: np.ndarray, reg: float = 0.0) -> ThinPlateSpline:
        """The spline taking ``centres`` ``(K, 2)`` to ``values`` ``(K, D)``, with ridge ``reg``."""
        c = np.asarray(centres, np.float64)
        k = len(c)
        kmat = _kernel(((c[:, None] - c[None]) ** 2).sum(-1)) + reg * np.eye(k)
        pmat = np.concatenate([np.ones((k, 1)), c], axis=1)
        a = np.zeros((k + 3, k + 3))
        a[:k, :k], a[:k, k:], a[k:, :k] = kmat, pmat, pmat.T
        v = np.asarray(values, np.float64)
        b = np.zeros((k + 3, v.shape[1]))
        b[:k] = v
        return cls(c, np.linalg.lstsq(a, b, rcond=None)[0])

    def __call__(self, q: np.ndarray) -> np.ndarray:
        """``f`` at the points ``q`` ``(Q, 2)``: ``(Q, D)``."""
        q = np.asarray(q, np.float64)
        k = len(self.centres)
        u = _kernel(((q[:, None] - self.centres[None]) ** 2).sum(-1))
        return u @ self.coef[:k] + self.coef[k] + q @ self.coef[k + 1 :]

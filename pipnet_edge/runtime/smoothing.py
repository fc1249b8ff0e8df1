"""One Euro filter (Casiez et al., CHI 2012), vectorised over points.

Low jitter at rest (low cutoff), little lag in fast motion (the cutoff rises with speed).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["OneEuroFilter"]


class OneEuroFilter:
    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t_seconds: float, scale: float = 1.0) -> np.ndarray:
        """Filter ``x`` observed at time ``t_seconds``; ``scale`` (e.g. face size) makes ``beta`` size-free."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t_seconds <= self._t or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t_seconds
            return x.copy()
        dt = t_seconds - self._t
        dx = (x - self._x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        speed = np.abs(self._dx) / max(scale, 1e-6)
        cutoff = self.min_cutoff + self.beta * speed * 100.0
        a = self._alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        self._t = t_seconds
        return self._x.copy()

"""Self-training curricula: which pseudo-labelled faces a round trains on.

* ``none``: the plain pseudo-label baseline: every unlabelled face, every round.
* ``stc``: self-training with a curriculum (PIPNet's STC, easy to hard by the model's own
  confidence): faces are ranked by the teacher's confidence in its pseudo-labels and each round
  trains on the most confident share, which grows round by round (``start`` ... 1.0); the
  student of a round becomes the next round's teacher, so later rounds re-label with a better
  model and admit harder faces.

Confidence (``--confidence``): ``nrm`` (mean disagreement of the NRM neighbour votes, lower is
easier; the default), ``peak`` (mean score-map peak, higher is easier) or ``both`` (the sum of the
two ranks). ``nrm`` ranks the teacher's real errors best: on 1,000 seeded unlabelled training faces
of MTFL, checked against their human five points, the rank correlation of the default model's
five-point error with its NRM spread is 0.46 (with its missing peak height 0.28), and the easiest
half by ``nrm`` / ``both`` / ``peak`` has a five-point NME of 4.58 / 4.64 / 4.79 % (all faces
5.27 %; the lite model: 4.50 / 4.51 / 4.58 of 5.10 %).
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError

__all__ = ["CONFIDENCES", "CURRICULA", "difficulty_order", "pose_balance_weights", "round_shares", "select_faces"]

CURRICULA = ("none", "stc")
CONFIDENCES = ("nrm", "peak", "both")


def _ranks(values: np.ndarray) -> np.ndarray:
    """0 for the smallest value; ties keep their list order (stable)."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks


def difficulty_order(peak: np.ndarray, spread: np.ndarray, confidence: str = "nrm") -> np.ndarray:
    """Face indices from easiest (most confident) to hardest."""
    peak, spread = np.asarray(peak, np.float64), np.asarray(spread, np.float64)
    if peak.shape != spread.shape or peak.ndim != 1:
        raise SpecError(f"peak {peak.shape} and spread {spread.shape} must be equal-length vectors")
    if confidence == "peak":
        difficulty = _ranks(-peak)
    elif confidence == "nrm":
        difficulty = _ranks(spread)
    elif confidence == "both":
        difficulty = _ranks(-peak) + _ranks(spread)
    else:
        raise SpecError(f"confidence must be one of {', '.join(CONFIDENCES)}, got {confidence!r}")
    return np.argsort(difficulty, kind="stable")


def round_shares(curriculum: str, rounds: int, start: float = 0.5) -> list[float]:
    """Share of the unlabelled faces each round trains on.

    ``none``: 1.0 every round. ``stc``: from ``start`` up to 1.0 in equal steps (a single round
    trains on the ``start`` share).
    """
    if rounds < 1:
        raise SpecError(f"--rounds must be at least 1, got {rounds}")
    if curriculum == "none":
        return [1.0] * rounds
    if curriculum != "stc":
        raise SpecError(f"curriculum must be one of {', '.join(CURRICULA)}, got {curriculum!r}")
    if not 0.0 < start <= 1.0:
        raise SpecError(f"--curriculum-start must be in (0, 1], got {start}")
    if rounds == 1:
        return [float(start)]
    return [round(float(s), 4) for s in np.linspace(start, 1.0, rounds)]


def select_faces(peak: np.ndarray, spread: np.ndarray, share: float, confidence: str = "nrm") -> np.ndarray:
    """Indices of the most confident ``share`` of the faces (at least one), easiest first."""
    if not 0.0 < share <= 1.0:
        raise SpecError(f"the selected share must be in (0, 1], got {share}")
    order = difficulty_order(peak, spread, confidence)
    count = max(1, round(share * len(order)))
    return order[:count]


def pose_balance_weights(points: np.ndarray, balance: float) -> np.ndarray:
    """Sampling weights of pseudo-labelled faces that even out how often each pose bin is drawn.

    ``points``: ``(F, 68, 2)`` pseudo-labels; each face's bin is that of its :func:`~pipnet_edge.five_point.pose_proxy`
    (:data:`~pipnet_edge.five_point.POSE_BINS`: frontal ... clearly turned). A face's weight is ``count(bin) **
    -balance``: 0 draws every face alike (frontal faces dominate, as they do in the data), 1 draws every bin alike.
    Returns weights summing to 1.
    """
    from ..five_point import POSE_BINS, five_from_68, pose_proxy

    if not 0.0 <= balance <= 1.0:
        raise SpecError(f"pose balance must be in [0, 1] (0: uniform, 1: every pose bin alike), got {balance}")
    which = np.searchsorted(np.asarray(POSE_BINS), pose_proxy(five_from_68(points)), side="right")
    counts = np.bincount(which, minlength=len(POSE_BINS) + 1).astype(np.float64)
    w = counts[which] ** -balance
    return w / w.sum()

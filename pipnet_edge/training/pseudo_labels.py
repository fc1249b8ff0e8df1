"""Pseudo-labels for unlabelled faces: a teacher's landmarks and how sure it is of them, cached per round.

The teacher (any model :func:`~pipnet_edge.evaluation.open_predictor` opens: a float checkpoint,
a QAT model, an artifact or a bundled name) sees each face once, unaugmented, through the
evaluation's crops (the face's ``box``: for five-point faces the estimated landmark box) and
decode (NRM merge). Its points are kept in image pixels, so a student with another input size,
map or neighbour table encodes its own targets from them, on its own augmented crops.

Two confidences come with each face, for the curriculum (:mod:`pipnet_edge.training.curriculum`):

* ``peak``: the mean over landmarks of the score map's peak value (higher = surer);
* ``spread``: the mean over landmarks of the distance between a landmark's own estimate (its
  cell + offset) and its neighbours' estimates of it (the NRM votes), as a fraction of the crop
  side (lower = the votes agree).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.annotations import FaceRecord
from ..errors import DataError, SpecError

__all__ = ["PseudoLabels", "cached_pseudo_labels", "predict_pseudo_labels"]

log = logging.getLogger("pipnet_edge.train")


@dataclass
class PseudoLabels:
    """A teacher's landmarks ``points`` ``(F, N, 2)`` (image pixels) and confidences ``peak``, ``spread`` ``(F,)``."""

    keys: list[str]
    points: np.ndarray
    peak: np.ndarray
    spread: np.ndarray
    teacher: str

    def save(self, path: str | Path, cache_key: str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, keys=np.array(self.keys), points=self.points.astype(np.float32),
                            peak=self.peak.astype(np.float32), spread=self.spread.astype(np.float32),
                            teacher=np.array(self.teacher), cache_key=np.array(cache_key))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, cache_key: str | None = None) -> PseudoLabels | None:
        """The cached labels, or ``None`` when the file is missing or was made for other faces or another teacher."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if cache_key is not None and str(z["cache_key"]) != cache_key:
                    return None
                return cls([str(k) for k in z["keys"]], z["points"], z["peak"], z["spread"], str(z["teacher"]))
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"cannot read cached pseudo-labels {path}: {exc}; delete the file to recompute them") from None

    def subset(self, index: Sequence[int]) -> PseudoLabels:
        idx = np.asarray(index, dtype=np.int64)
        return PseudoLabels([self.keys[i] for i in idx], self.points[idx], self.peak[idx], self.spread[idx], self.teacher)


def predict_pseudo_labels(predictor, records: Sequence[FaceRecord], keys: Sequence[str], batch_size: int = 32,
                          progress: bool = False) -> PseudoLabels:
    """Run ``predictor`` (see :func:`~pipnet_edge.evaluation.open_predictor`) over unaugmented crops of ``records``."""
    from ..evaluation.runner import predict_batches, to_image

    size = predictor.spec.input_size
    points, peaks, spreads = [], [], []
    for _, out, mats in predict_batches(predictor, records, batch_size, progress, desc=f"pseudo-labels ({predictor.name})",
                                        with_spread=True):
        points.append(to_image(out.points, mats, size))
        peaks.append(out.scores.mean(-1))
        spreads.append(out.spread.mean(-1))
    return PseudoLabels(list(keys), np.concatenate(points).astype(np.float32), np.concatenate(peaks), np.concatenate(spreads),
                        predictor.name)


def _file_id(path: str) -> dict:
    p = Path(path)
    if p.is_file():
        st = p.stat()
        return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"name": path}


def cached_pseudo_labels(teacher: str, records: Sequence[FaceRecord], keys: Sequence[str], cache: str | Path, num_points: int,
                         device=None, threads: int | None = None, progress: bool = False) -> PseudoLabels:
    """Pseudo-labels of ``records`` by ``teacher`` (a model path or bundled name), read from ``cache`` when it holds them.

    The cache is keyed by the teacher file (path, size, modification time) and the face keys, so
    a resumed round reuses it and a changed teacher or face list recomputes it.
    """
    from ..assets.registry import resolve_model
    from ..evaluation import open_predictor

    teacher_path = str(resolve_model(teacher).path)
    cache_key = hashlib.sha256(json.dumps({"teacher": _file_id(teacher_path), "keys": list(keys)}).encode()).hexdigest()
    hit = PseudoLabels.load(cache, cache_key)
    if hit is not None:
        log.info("pseudo-labels of %d faces by %s read from %s", len(hit.keys), hit.teacher, cache)
        return hit
    predictor = open_predictor(teacher_path, num_threads=threads)
    if predictor.spec.num_points != num_points:
        raise SpecError(f"teacher {teacher} predicts {predictor.spec.num_points} points, the student {num_points}: "
                        "pseudo-labels need a teacher of the student's landmark scheme")
    if device is not None and hasattr(predictor, "model") and hasattr(predictor.model, "to"):
        predictor.model.to(device)
    labels = predict_pseudo_labels(predictor, records, keys, progress=progress)
    labels.save(cache, cache_key)
    log.info("pseudo-labels of %d faces by %s: mean peak %.3f, mean NRM spread %.4f (cached in %s)", len(keys), predictor.name,
             float(labels.peak.mean()), float(labels.spread.mean()), cache)
    return labels

"""Run a predictor over labelled faces with the runtime's crops (ground-truth boxes, 300W protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.annotations import FaceRecord
from ..errors import DataError
from ..runtime import geometry
from ..runtime.preprocess import crop_faces
from .predictors import Predictor

__all__ = ["Predictions", "predict_batches", "predict_faces", "read_face_crops", "to_image"]


@dataclass
class Predictions:
    """``points``/``truth``: ``(F, N, 2)`` image pixels; ``cells``: ``(F, N)`` heatmap argmax."""

    points: np.ndarray
    truth: np.ndarray
    cells: np.ndarray
    names: list[str]


def read_face_crops(records: Sequence[FaceRecord], spec, input_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Crops by the spec's rule at ``input_size`` (default: the spec's) px, and their image -> crop matrices."""
    import cv2

    size = input_size or spec.input_size
    crops, mats = [], []
    for r in records:
        img = cv2.imread(str(r.image_path))
        if img is None:
            raise DataError(f"cannot read {r.image_path}")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        box = r.box if r.box is not None else geometry.box_from_points(r.points)
        c, m = crop_faces(img, np.asarray(box, np.float64)[None], spec.crop, size)
        crops.append(c[0])
        mats.append(m[0])
    return np.stack(crops), np.stack(mats)


def to_image(points: np.ndarray, mats: np.ndarray, input_size: int) -> np.ndarray:
    """Normalised crop points ``(B, N, 2)`` back to image pixels (``mats``: image -> crop, ``(B, 2, 3)``)."""
    px = geometry.from_normalized(points, input_size)
    return np.stack([geometry.apply(geometry.invert(mats[k]), px[k]) for k in range(len(px))])


def predict_batches(predictor: Predictor, records: Sequence[FaceRecord], batch_size: int = 16, progress: bool = False,
                    desc: str | None = None, with_spread: bool = False):
    """Yield ``(chunk, decoded, mats)`` over batches of ``records`` cropped from their ground-truth boxes (300W
    protocol) and run through :meth:`~pipnet_edge.runtime.Landmarker.predict_crops`: the one loop behind
    :func:`predict_faces`, pseudo-labels and the point-bias measurement (``mats``: image -> crop, ``(B, 2, 3)``)."""
    spec = predictor.spec
    it = range(0, len(records), batch_size)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=desc or predictor.name, unit="batch", leave=False, dynamic_ncols=True, mininterval=2.0)
    for i in it:
        chunk = records[i : i + batch_size]
        crops, mats = read_face_crops(chunk, spec)
        yield chunk, predictor.predict_crops(crops, with_spread=with_spread), mats


def predict_faces(predictor: Predictor, records: Sequence[FaceRecord], batch_size: int = 16, progress: bool = False) -> Predictions:
    """Landmarks of labelled faces, cropped from their ground-truth boxes (300W protocol), through
    :meth:`~pipnet_edge.runtime.Landmarker.predict_crops`."""
    size = predictor.spec.input_size
    pts_all, cells_all = [], []
    for _, out, mats in predict_batches(predictor, records, batch_size, progress):
        pts_all.append(to_image(out.points, mats, size))
        cells_all.append(out.cells)
    return Predictions(
        np.concatenate(pts_all).astype(np.float32),
        np.stack([r.points for r in records]).astype(np.float32),
        np.concatenate(cells_all),
        [r.name for r in records],
    )

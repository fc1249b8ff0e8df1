"""Run a predictor over labelled faces with the runtime's crops (ground-truth boxes, 300W protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.annotations import FaceRecord
from ..errors import DataError
from ..runtime import geometry
from ..runtime.decode import DecodeTables, decode
from ..runtime.preprocess import crop_faces
from .predictors import Predictor

__all__ = ["Predictions", "predict_faces", "read_face_crops"]


@dataclass
class Predictions:
    """``points``/``truth``: ``(F, N, 2)`` image pixels; ``cells``: ``(F, N)`` heatmap argmax."""

    points: np.ndarray
    truth: np.ndarray
    cells: np.ndarray
    names: list[str]


def read_face_crops(records: Sequence[FaceRecord], spec) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    crops, mats = [], []
    for r in records:
        img = cv2.imread(str(r.image_path))
        if img is None:
            raise DataError(f"cannot read {r.image_path}")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        box = r.box if r.box is not None else geometry.box_from_points(r.points)
        c, m = crop_faces(img, np.asarray(box, np.float64)[None], spec.crop, spec.input_size)
        crops.append(c[0])
        mats.append(m[0])
    return np.stack(crops), np.stack(mats)


def predict_faces(predictor: Predictor, records: Sequence[FaceRecord], batch_size: int = 16, progress: bool = False) -> Predictions:
    spec = predictor.spec
    tables = DecodeTables.from_spec(spec)
    it = range(0, len(records), batch_size)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=predictor.name, unit="batch", leave=False)
    pts_all, cells_all = [], []
    for i in it:
        chunk = records[i : i + batch_size]
        crops, mats = read_face_crops(chunk, spec)
        heads = predictor.heads(crops)
        pts, _ = decode(heads, tables)
        b, n = heads.score.shape[:2]
        cells_all.append(heads.score.reshape(b, n, -1).argmax(-1))
        px = geometry.from_normalized(pts, spec.input_size)
        for k in range(len(chunk)):
            pts_all.append(geometry.apply(geometry.invert(mats[k]), px[k]))
    return Predictions(
        np.stack(pts_all).astype(np.float32),
        np.stack([r.points for r in records]).astype(np.float32),
        np.concatenate(cells_all),
        [r.name for r in records],
    )

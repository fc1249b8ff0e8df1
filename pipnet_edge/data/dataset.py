"""Torch dataset of face crops with PIPNet targets."""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from ..runtime import geometry
from ..spec import ModelSpec
from .annotations import FaceRecord
from .augment import AugmentConfig, photometric, sample_affine, sample_yaw
from .targets import encode
from .yaw_warp import render, sample_yaw_warp

__all__ = ["FaceDataset", "read_rgb"]


def read_rgb(path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class FaceDataset(Dataset):
    """Crops faces by the spec's crop rule (from the ground-truth landmark box).

    Each item is a dict: ``image`` uint8 ``(S, S, 3)`` RGB tensor, ``cell`` ``(N,)``,
    ``offset`` ``(N, 2)``, ``nb_offset`` ``(N, nb, 2)`` targets, ``points`` normalised
    ``(N, 2)`` crop coordinates, ``matrix`` the 2x3 image->input affine (before the yaw-like
    warp when one was drawn: ``yaw`` holds its degrees, 0 when none), ``index``.
    Images are decoded once and kept in memory when ``cache`` is true.

    With ``teacher_size`` each item also has ``teacher_image``: the same crop (same
    augmentation draws) rendered at ``teacher_size`` pixels from the source photo, for
    distillation from a model with a larger input.
    """

    def __init__(
        self,
        records: Sequence[FaceRecord],
        spec: ModelSpec,
        augment: AugmentConfig | None = None,
        cache: bool = True,
        seed: int = 0,
        teacher_size: int | None = None,
    ) -> None:
        if not records:
            raise DataError("the data set is empty")
        n = spec.num_points
        for r in records:
            if r.points.shape != (n, 2):
                raise DataError(f"{r.image_path}: {r.points.shape[0]} points, but the model has {n}")
        self.records = list(records)
        self.spec = spec
        self.augment = augment
        self.cache = cache
        self._images: dict[int, np.ndarray] = {}
        self._seed = seed
        self._epoch = 0
        self._perm = np.asarray(spec.scheme.flip_permutation)
        self.teacher_size = teacher_size

    def set_epoch(self, epoch: int) -> None:
        """Makes augmentation a function of (seed, epoch, index): reproducible with workers."""
        self._epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def image(self, i: int) -> np.ndarray:
        if i in self._images:
            return self._images[i]
        img = read_rgb(self.records[i].image_path)
        if self.cache:
            self._images[i] = img
        return img

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rec = self.records[i]
        img = self.image(i)
        s = self.spec.input_size
        rule = self.spec.crop
        box = rec.box if rec.box is not None else geometry.box_from_points(rec.points)
        cx, cy, side = geometry.crop_square(box, rule.scale, rule.shift_x, rule.shift_y)
        pts = rec.points
        yaw = None
        if self.augment is not None:
            rng = np.random.default_rng((self._seed, self._epoch, i))
            m, flipped = sample_affine(cx, cy, side, s, self.augment, rng)
            yaw = sample_yaw(self.augment, rng)
        else:
            m, flipped = geometry.crop_matrix(cx, cy, side, s), False
        crop_pts = geometry.apply(m, pts)
        if flipped:
            crop_pts = crop_pts[self._perm]
        warp = None
        if yaw is not None:
            warp = sample_yaw_warp(crop_pts, s, yaw)
            if warp is None:
                yaw = None
            else:
                yaw, crop_pts = warp.yaw, warp.points
        crop = render(img, m, s, warp)
        teacher_crop = None
        if self.teacher_size:
            t = self.teacher_size
            k = t / s  # pixel centres: x_t + 0.5 = k * (x_s + 0.5)
            mt = geometry.compose(np.array([[k, 0.0, 0.5 * k - 0.5], [0.0, k, 0.5 * k - 0.5]]), m)
            teacher_crop = render(img, mt, t, warp)
            if self.augment is not None:
                teacher_crop = photometric(teacher_crop, self.augment, copy.deepcopy(rng))
        if self.augment is not None:
            crop = photometric(crop, self.augment, rng)
        norm = geometry.to_normalized(crop_pts, s)
        t = encode(norm, self.spec.neighbor_array, self.spec.map_size)
        item = {
            "image": torch.from_numpy(np.ascontiguousarray(crop)),
            "cell": torch.from_numpy(t.cell),
            "offset": torch.from_numpy(t.offset),
            "nb_offset": torch.from_numpy(t.nb_offset),
            "points": torch.from_numpy(norm.astype(np.float32)),
            "matrix": torch.from_numpy(m.astype(np.float64)),
            "yaw": torch.tensor(0.0 if yaw is None else yaw, dtype=torch.float32),
            "index": torch.tensor(i),
        }
        if teacher_crop is not None:
            item["teacher_image"] = torch.from_numpy(np.ascontiguousarray(teacher_crop))
        return item

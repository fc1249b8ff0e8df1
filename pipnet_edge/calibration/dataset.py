"""Representative data sets: crops made exactly as the runtime makes them.

Sources:

* a 300W-style folder (image + ``.pts``): crops of the ground-truth landmark boxes by the
  spec's crop rule (the training protocol);
* a PIPNet list file: same, from its points;
* a folder of plain images: the face detector finds the faces, cropped by its calibrated rule.

The sample count, seed and source are recorded in each artifact's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..spec import ModelSpec

__all__ = ["CalibrationSet", "load_calibration_set", "draw_faces", "MIN_CALIBRATION_IMAGES"]

MIN_CALIBRATION_IMAGES = 16


@dataclass
class CalibrationSet:
    """``images``: ``(K, S, S, 3)`` uint8 RGB crops (the artifacts' input); ``info`` goes into metadata."""

    images: np.ndarray
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, batch_size: int = 16):
        for i in range(0, len(self.images), batch_size):
            yield self.images[i : i + batch_size]


def draw_faces(records, count: int, rng: np.random.Generator) -> list:
    """Up to ``count`` of ``records`` drawn without replacement by ``rng``, in their original order."""
    return [records[int(i)] for i in np.sort(rng.choice(len(records), size=min(count, len(records)), replace=False))]


def load_calibration_set(source: str | Path, spec: ModelSpec, count: int = 300, seed: int = 0) -> CalibrationSet:
    """Sample up to ``count`` faces from ``source`` (seeded) and crop them for ``spec``."""
    import cv2

    source = Path(source)
    if not source.exists():
        raise DataError(f"calibration source {source} does not exist")
    rng = np.random.default_rng(seed)
    if source.is_file() or any(source.glob("*.pts")):
        from ..data.annotations import load_faces

        from ..evaluation.runner import read_face_crops

        records = load_faces(source)
        crops = list(read_face_crops(draw_faces(records, count, rng), spec)[0])
        kind = "landmark boxes (300W protocol)"
    else:
        from ..runtime.detectors import create_detector
        from ..runtime.preprocess import box_regions, crop_regions, roll_angles

        files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp"))
        if not files:
            raise DataError(f"calibration folder {source} holds no images (.jpg/.png/...) and no .pts annotations")
        det = create_detector()
        crops = []
        for i in rng.permutation(len(files)):
            img = cv2.imread(str(files[int(i)]))
            if img is None:
                continue
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            found = det.detect(img)
            if len(found):
                # the Landmarker's own crop of the best face: the detector's rule, turned upright by its eye keypoints
                roll = roll_angles(found.keypoints[:1, 0], found.keypoints[:1, 1])
                c, _ = crop_regions(img, box_regions(found.boxes[:1], det.crop_rule, roll), spec.input_size)
                crops.append(c[0])
            if len(crops) >= count:
                break
        kind = "YuNet detector boxes"
    if len(crops) < MIN_CALIBRATION_IMAGES:
        raise DataError(
            f"calibration source {source} gave {len(crops)} face crops; at least {MIN_CALIBRATION_IMAGES} are needed "
            "(a few hundred recommended)"
        )
    info = {"source": str(source), "count": len(crops), "seed": seed, "crops": kind}
    return CalibrationSet(np.stack(crops), info)

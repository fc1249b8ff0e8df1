"""Readers for landmark annotations: 300W-style folders, PIPNet list files, WFLW lists.

Every reader returns :class:`FaceRecord` objects with 0-based pixel coordinates in the
image file they point at (the 300W ``.pts`` files are 1-based and are shifted here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataError

__all__ = ["FaceRecord", "read_pts", "write_pts", "load_300w_folder", "load_pipnet_list", "load_wflw_list", "load_faces"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class FaceRecord:
    """One annotated face: image path, ``(N, 2)`` 0-based points, optional face box."""

    image_path: Path
    points: np.ndarray
    box: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.image_path.stem


def read_pts(path: str | Path) -> np.ndarray:
    """Read an iBUG ``.pts`` file; returns 0-based ``(N, 2)`` float32 points."""
    path = Path(path)
    try:
        text = path.read_text().splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    try:
        start = next(i for i, line in enumerate(text) if line.strip() == "{")
        end = next(i for i, line in enumerate(text) if line.strip() == "}")
        pts = np.array([[float(v) for v in line.split()] for line in text[start + 1 : end]], dtype=np.float32)
    except (StopIteration, ValueError) as exc:
        raise DataError(f"{path} is not an iBUG .pts file (expected points between '{{' and '}}'): {exc}") from None
    n_line = [line for line in text if line.lower().startswith("n_points")]
    if n_line:
        n = int(n_line[0].split(":")[1])
        if n != len(pts):
            raise DataError(f"{path} says n_points: {n} but lists {len(pts)} points")
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise DataError(f"{path}: each point line must hold two numbers")
    return pts - 1.0


def write_pts(path: str | Path, points: np.ndarray) -> None:
    """Write 0-based points as a 1-based iBUG ``.pts`` file."""
    pts = np.asarray(points, dtype=np.float64) + 1.0
    lines = ["version: 1", f"n_points: {len(pts)}", "{"] + [f"{x:.3f} {y:.3f}" for x, y in pts] + ["}"]
    Path(path).write_text("\n".join(lines) + "\n")


def load_300w_folder(folder: str | Path) -> list[FaceRecord]:
    """All ``NAME.pts`` + ``NAME.<image>`` pairs in a folder (sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    records = []
    for pts_path in sorted(folder.glob("*.pts")):
        image = next((pts_path.with_suffix(s) for s in IMAGE_SUFFIXES if pts_path.with_suffix(s).exists()), None)
        if image is None:
            raise DataError(f"{pts_path} has no image next to it (looked for {', '.join(IMAGE_SUFFIXES)})")
        records.append(FaceRecord(image, read_pts(pts_path)))
    if not records:
        raise DataError(f"no .pts annotations found in {folder}")
    return records


def load_pipnet_list(list_file: str | Path, image_root: str | Path | None = None) -> list[FaceRecord]:
    """PIPNet's list format: ``image x1 y1 ... xN yN`` per line.

    The official lists hold coordinates normalised to the (pre-cropped) image size; values
    all within [-0.5, 1.5] are read as normalised and scaled by the image size, anything
    else as 0-based pixels.
    """
    import cv2

    list_file = Path(list_file)
    root = Path(image_root) if image_root else list_file.parent
    records = []
    for ln, line in enumerate(list_file.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 3 or (len(parts) - 1) % 2:
            raise DataError(f"{list_file}:{ln}: expected 'image x1 y1 ... xN yN'")
        image = root / parts[0]
        pts = np.array(parts[1:], dtype=np.float32).reshape(-1, 2)
        if np.abs(pts).max() <= 1.5:
            img = cv2.imread(str(image))
            if img is None:
                raise DataError(f"{list_file}:{ln}: cannot read image {image}")
            pts = pts * np.array([img.shape[1], img.shape[0]], np.float32)
        records.append(FaceRecord(image, pts))
    if not records:
        raise DataError(f"{list_file} lists no faces")
    return records


def load_wflw_list(list_file: str | Path, image_root: str | Path) -> list[FaceRecord]:
    """WFLW annotation list: 196 coordinates, 4 box values, 6 attributes, image path per line."""
    list_file, root = Path(list_file), Path(image_root)
    records = []
    for ln, line in enumerate(list_file.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 196 + 4 + 6 + 1:
            raise DataError(f"{list_file}:{ln}: a WFLW line has 207 fields, found {len(parts)}")
        pts = np.array(parts[:196], dtype=np.float32).reshape(98, 2)
        box = np.array(parts[196:200], dtype=np.float32)
        records.append(FaceRecord(root / parts[-1], pts, box))
    if not records:
        raise DataError(f"{list_file} lists no faces")
    return records


def load_faces(source: str | Path, image_root: str | Path | None = None) -> list[FaceRecord]:
    """Load a folder of ``.pts`` faces, or a PIPNet list file (``.txt``)."""
    source = Path(source)
    if source.is_dir():
        return load_300w_folder(source)
    if source.is_file():
        return load_pipnet_list(source, image_root)
    raise DataError(f"{source} is neither a folder of .pts faces nor a list file")


def stack_points(records: Sequence[FaceRecord]) -> np.ndarray:
    pts = [r.points for r in records]
    if len({p.shape for p in pts}) != 1:
        raise DataError("faces have different numbers of landmarks")
    return np.stack(pts)

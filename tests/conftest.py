"""Shared fixtures: paths to the real 300W data (skipped cleanly when absent) and tiny synthetic faces."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PIPNET_EDGE_SHARED", ROOT.parent / "shared"))
DATA_300W = SHARED / "data" / "300w"
IMAGENET_MBV2 = SHARED / "pretrained" / "mobilenet_v2-b0353104.pth"


def _has_torch() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


HAVE_TORCH = _has_torch()


def pytest_ignore_collect(collection_path, config):
    """Without torch (a device's install, the aarch64 stage), collect only the modules marked ``torch_free``
    (``pytestmark = pytest.mark.torch_free``): the others import torch, or the toolchains that need it."""
    if HAVE_TORCH or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.torch_free" not in collection_path.read_text()


def require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.skip(f"{what} not found at {path} (set PIPNET_EDGE_SHARED to the shared folder to run this test)")
    return path


@pytest.fixture(scope="session")
def train_dir() -> Path:
    return require(DATA_300W / "train", "300W training faces")


@pytest.fixture(scope="session")
def imagenet_mbv2() -> Path:
    return require(IMAGENET_MBV2, "torchvision MobileNetV2 ImageNet weights")


def make_synthetic_faces(folder: Path, count: int = 8, size: int = 96, points: int = 68, seed: int = 0) -> Path:
    """Write ``count`` random images with random 300W-like point sets as .jpg + .pts."""
    import cv2

    from pipnet_edge.data.annotations import write_pts
    from pipnet_edge.meanface import compute_mean_face  # noqa: F401

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.uniform(0.3, 0.7, size=(points, 2))
    for i in range(count):
        img = rng.integers(0, 255, size=(size, size, 3), dtype=np.uint8)
        pts = (base + rng.normal(0, 0.02, size=base.shape)) * size
        for x, y in pts:
            cv2.circle(img, (int(x), int(y)), 2, (255, 255, 255), -1)
        cv2.imwrite(str(folder / f"face_{i:03d}.jpg"), img)
        write_pts(folder / f"face_{i:03d}.pts", pts)
    return folder


@pytest.fixture
def synthetic_faces(tmp_path: Path) -> Path:
    return make_synthetic_faces(tmp_path / "faces")

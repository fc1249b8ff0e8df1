#!/usr/bin/env python3
"""Build ``docs/group.jpg`` (a multi-face photo made of public-domain portraits) and draw
``docs/example.jpg`` from it with the bundled default Landmarker (YuNet front end)::

    python scripts/make_docs_images.py

The portraits: ``docs/astronaut.png`` (NASA, Eileen Collins) and ``docs/grace_hopper.jpg`` (U.S. Navy,
Grace Hopper; the copy matplotlib ships as sample data), both public domain. Each appears twice, at
different sizes, one copy turned 20 degrees, on a plain gradient: faces of 7-35 % of the photo's width.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

DOCS = Path(__file__).resolve().parents[1] / "docs"


def paste(canvas: np.ndarray, photo: np.ndarray, x: int, y: int, height: int, angle: float = 0.0) -> None:
    """Paste ``photo`` scaled to ``height`` px at ``(x, y)`` (top left), turned by ``angle`` degrees, with soft edges."""
    import cv2

    h, w = photo.shape[:2]
    k = height / h
    size = (round(w * k), height)
    img = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    mask = np.zeros(img.shape[:2], np.float32)
    cv2.ellipse(mask, (size[0] // 2, size[1] // 2), (int(size[0] * 0.47), int(size[1] * 0.48)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), size[0] * 0.03)
    if angle:
        m = cv2.getRotationMatrix2D((size[0] / 2, size[1] / 2), angle, 1.0)
        img = cv2.warpAffine(img, m, size, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpAffine(mask, m, size)
    region = canvas[y : y + size[1], x : x + size[0]]
    a = mask[: region.shape[0], : region.shape[1], None]
    region[:] = (a * img[: region.shape[0], : region.shape[1]] + (1 - a) * region).astype(np.uint8)


def main() -> int:
    import cv2

    astronaut = cv2.imread(str(DOCS / "astronaut.png"))
    hopper = cv2.imread(str(DOCS / "grace_hopper.jpg"))
    w, h = 1600, 900
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    canvas = np.stack([150 + 60 * xx / w, 140 + 30 * yy / h, 120 + 40 * (1 - xx / w)], -1).astype(np.uint8)
    paste(canvas, astronaut, 40, 150, 620)
    paste(canvas, hopper, 640, 60, 800)
    paste(canvas, astronaut[:, ::-1], 1190, 80, 330, angle=20)
    paste(canvas, hopper[:, ::-1], 1250, 500, 330)
    cv2.imwrite(str(DOCS / "group.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cmd = [sys.executable, "-m", "pipnet_edge.runtime", str(DOCS / "group.jpg"), "--out", str(DOCS / "example.jpg")]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())

"""Charts and overlays a person would rather look at than numbers (matplotlib Agg, PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["per_landmark_chart", "overlay_grid"]


def per_landmark_chart(series: dict[str, Sequence[float]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(next(iter(series.values())))
    fig, ax = plt.subplots(figsize=(max(8, n * 0.16), 3.6), dpi=110)
    width = 0.8 / len(series)
    for k, (label, values) in enumerate(series.items()):
        ax.bar(np.arange(n) + k * width - 0.4 + width / 2, values, width, label=label)
    ax.set_xlabel("landmark index")
    ax.set_ylabel("mean error (% of normaliser)")
    ax.set_title(title)
    ax.set_xlim(-1, n)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def overlay_grid(records, pred: np.ndarray, path: Path, cols: int = 4, size: int = 256, order: Sequence[int] | None = None) -> Path:
    """Crops of faces with truth (green) and prediction (red) points (around each face's ``box`` when it has one)."""
    import cv2

    from ..runtime import geometry

    idx = list(order if order is not None else range(len(records)))[: cols * 2]
    tiles = []
    for i in idx:
        r = records[i]
        img = cv2.imread(str(r.image_path))
        box = r.box if r.box is not None else geometry.box_from_points(r.points)
        cx, cy, side = geometry.crop_square(box, 1.3)
        m = geometry.crop_matrix(cx, cy, side, size)
        tile = cv2.warpAffine(img, m, (size, size))
        for (x, y) in geometry.apply(m, r.points):
            cv2.circle(tile, (int(round(x)), int(round(y))), 2, (0, 200, 0), -1, cv2.LINE_AA)
        for (x, y) in geometry.apply(m, pred[i]):
            cv2.circle(tile, (int(round(x)), int(round(y))), 2, (0, 0, 255), -1, cv2.LINE_AA)
        cv2.putText(tile, r.name[:30], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + cols]) for i in range(0, len(tiles), cols)]
    cv2.imwrite(str(path), np.vstack(rows))
    return path

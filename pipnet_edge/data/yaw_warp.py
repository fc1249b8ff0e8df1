"""A yaw-like warp of a face crop: the face's points turned about its vertical axis in 3D, the image bent to follow.

The crop affine of :mod:`.augment` can shift, scale, roll and mirror a face, but not turn it: on a turned face the
nose tip moves sideways against the eyes (it stands out of the face), the far cheek narrows and the near one widens.
This warp makes that parallax from the face's own points:

1. each of the 68 points gets the depth of its vertex on the 3D mean face
   (:data:`~pipnet_edge.runtime.face_geometry.MEAN_FACE_3D`), scaled to the face's size in the crop (the ratio of
   the inner points' spread in the crop to the mean face's);
2. in the face's upright frame (the crop rotated so that the eyes are level: rolled faces turn about their own
   vertical axis), every point is turned by ``yaw`` degrees about the vertical axis through the inner points'
   centre (orthographic: ``x' = c + (x - c) cos(yaw) - (z - z0) sin(yaw)``, ``y`` unchanged; ``yaw`` > 0 turns
   the face to its own left, the nose towards the image's right, as :class:`~pipnet_edge.runtime.face_geometry.HeadPose`);
3. the image follows by a smoothed thin-plate spline from the inner points' new positions to their old ones, with
   the crop's border held still (16 anchors), evaluated on a 33 x 33 lattice and bilinear in between, and
   resampled once from the source photo together with the crop affine (:func:`render`). A warp that would fold the
   image is halved;
4. each label is where the warped image shows its point (that map inverted at the old position by Newton steps), so
   the labels agree with the image exactly, the jaw line included.

It is an approximation: the face is taken to have the mean face's depth, the far side's silhouette is not hidden,
and the smoothing gives up some of the parallax where neighbours would cross. The labels move exactly with the
image, so the model sees turned geometry with labels that agree with what it sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import DataError
from ..runtime import geometry
from ..runtime.face_geometry import MEAN_FACE_3D
from .thin_plate import ThinPlateSpline

__all__ = ["YawWarp", "render", "sample_yaw_warp"]

_EYES = (slice(36, 42), slice(42, 48))  # the 300W scheme's eyes (0-based), image left / right
_INNER = slice(17, 68)  # brows, nose, eyes, mouth: the points whose spread gives the face's size
_MIN_JACOBIAN = 0.1  # the smallest area ratio (output -> source) a warp may have anywhere; below it is halved
_GRID = 33  # the spline is evaluated on a _GRID x _GRID lattice and interpolated bilinearly between


@dataclass(frozen=True)
class YawWarp:
    """One drawn warp of a ``size`` x ``size`` crop.

    Attributes:
        yaw: degrees turned (> 0: the face to its own left), after any halving.
        size: the crop's side in pixels.
        points: ``(68, 2)`` where the crop's points are in the warped crop (crop pixels): the training labels.
        lattice: ``(G, G, 2)`` unwarped crop coordinates at a G x G lattice of output pixels spanning the crop; the
            map between its nodes is bilinear, and the rendered image and :attr:`points` both use that map, so they
            agree exactly.
    """

    yaw: float
    size: int
    points: np.ndarray
    lattice: np.ndarray

    def source(self, q: np.ndarray) -> np.ndarray:
        """Unwarped crop coordinates ``(M, 2)`` of output crop positions ``q`` ``(M, 2)`` (pixel centres at integers;
        bilinear between the lattice's nodes, extended linearly outside the crop)."""
        q = np.asarray(q, np.float64)
        g = self.lattice.shape[0]
        u = q * ((g - 1) / (self.size - 1.0))
        i = np.clip(np.floor(u).astype(int), 0, g - 2)
        f = u - i
        fx, fy = f[:, :1], f[:, 1:]
        ix, iy = i[:, 0], i[:, 1]
        lat = self.lattice
        top = lat[iy, ix] * (1 - fx) + lat[iy, ix + 1] * fx
        bottom = lat[iy + 1, ix] * (1 - fx) + lat[iy + 1, ix + 1] * fx
        return top * (1 - fy) + bottom * fy

    def source_map(self, size: int | None = None) -> np.ndarray:
        """``(size, size, 2)`` float32 unwarped coordinates of every pixel of an output crop of ``size`` pixels
        (default the warp's own); another size is the same warp scaled (a teacher's larger crop of the same face)."""
        t = self.size if size is None else int(size)
        k = t / self.size
        gx, gy = np.meshgrid(np.arange(t, dtype=np.float64), np.arange(t, dtype=np.float64))
        q = np.stack([gx.ravel(), gy.ravel()], axis=1)
        src = self.source((q + 0.5) / k - 0.5) * k + 0.5 * k - 0.5  # pixel centres: x_t + 0.5 = k (x_s + 0.5)
        return src.reshape(t, t, 2).astype(np.float32)


def _lattice(spline: ThinPlateSpline, size: int) -> np.ndarray:
    g = np.linspace(0.0, size - 1.0, _GRID)
    gx, gy = np.meshgrid(g, g)
    q = np.stack([gx.ravel(), gy.ravel()], axis=1) / size
    return (spline(q) * size).reshape(_GRID, _GRID, 2)


def _turned_points(p: np.ndarray, yaw: float) -> np.ndarray:
    """``p`` (68 crop points) turned by ``yaw`` degrees about the face's vertical axis, depths from the mean face."""
    eye_l, eye_r = p[_EYES[0]].mean(0), p[_EYES[1]].mean(0)
    roll = math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0])
    c, s = math.cos(roll), math.sin(roll)
    rot = np.array([[c, -s], [s, c]])  # upright frame -> crop
    centre = p[_INNER].mean(0)
    up = (p - centre) @ rot  # crop -> upright (rot's transpose applied to row vectors)
    spread_crop = np.sqrt(((up[_INNER] - up[_INNER].mean(0)) ** 2).sum(1).mean())
    inner3 = MEAN_FACE_3D[_INNER, :2]
    spread_3d = np.sqrt(((inner3 - inner3.mean(0)) ** 2).sum(1).mean())
    z = (MEAN_FACE_3D[:, 2] - MEAN_FACE_3D[_INNER, 2].mean()) * (spread_crop / spread_3d)
    a = math.radians(yaw)
    turned = up.copy()
    turned[:, 0] = up[:, 0] * math.cos(a) - z * math.sin(a)
    return turned @ rot.T + centre


def _border(size: int) -> np.ndarray:
    edge = np.linspace(0.0, size - 1.0, 5)
    return np.array([(x, y) for x in edge for y in (0.0, size - 1.0)]
                    + [(x, y) for y in edge[1:-1] for x in (0.0, size - 1.0)])


def _min_jacobian(warp: YawWarp) -> float:
    """The smallest determinant of the output -> source map's Jacobian over the lattice's cells (<= 0: a fold)."""
    lat = warp.lattice
    h = (warp.size - 1.0) / (lat.shape[0] - 1)
    dx = (lat[:, 1:] - lat[:, :-1])[:-1] / h  # d source / d x
    dy = (lat[1:, :] - lat[:-1, :])[:, :-1] / h  # d source / d y
    return float((dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]).min())


def sample_yaw_warp(points: np.ndarray, size: int, yaw: float, smoothing: float = 5e-4) -> YawWarp | None:
    """The warp that turns the face with crop points ``points`` (``(68, 2)``, 300W order) by about ``yaw`` degrees.

    The spline goes through the inner points' turned positions (brows, nose, eyes, mouth) and the border, smoothed
    by ``smoothing`` (so that neighbours moving apart bend the image without folding it); every point's label is then
    where the warped image shows it (the map inverted at the point, so the jaw line follows the image too). A warp
    that would fold the image is halved, up to three times; ``None`` if it still folds or a label cannot be found.

    Raises:
        DataError: not 68 points (only the 300W scheme has a 3D mean face here), or points that are not finite.
    """
    p = np.asarray(points, np.float64)
    if p.shape != (68, 2):
        raise DataError(f"the yaw warp needs the 68 points of the 300W scheme (its 3D mean face), got {p.shape}")
    if not np.isfinite(p).all():
        raise DataError("the yaw warp got points that are not finite")
    border = _border(size)
    for _ in range(4):
        new = _turned_points(p, yaw)
        dst = np.concatenate([new[_INNER], border]) / size
        src = np.concatenate([p[_INNER], border]) / size
        warp = YawWarp(yaw=float(yaw), size=int(size), points=new,
                       lattice=_lattice(ThinPlateSpline.fit(dst, src, smoothing), size))
        if _min_jacobian(warp) > _MIN_JACOBIAN:
            labels = _invert(warp, p, new)
            if labels is not None:
                return replace(warp, points=labels)
        yaw /= 2.0
    return None


def _invert(warp: YawWarp, p: np.ndarray, start: np.ndarray, tol: float = 0.01) -> np.ndarray | None:
    """Output positions ``x`` with ``warp.source(x) == p`` (crop pixels, to ``tol``), by Newton steps from ``start``
    (each point's 2 x 2 Jacobian by central differences); ``None`` if they do not converge."""
    x = start.copy()
    e = np.array([[0.5, 0.0], [0.0, 0.5]])
    for _ in range(20):
        r = warp.source(x) - p
        if np.abs(r).max() < tol:
            return x
        jx = (warp.source(x + e[0]) - warp.source(x - e[0]))  # d source / d x, per point (central, step 0.5)
        jy = (warp.source(x + e[1]) - warp.source(x - e[1]))
        det = jx[:, 0] * jy[:, 1] - jx[:, 1] * jy[:, 0]
        if (det <= 1e-9).any():
            return None
        # solve [jx jy] d = r for each point
        d0 = (r[:, 0] * jy[:, 1] - r[:, 1] * jy[:, 0]) / det
        d1 = (jx[:, 0] * r[:, 1] - jx[:, 1] * r[:, 0]) / det
        x = x - np.stack([d0, d1], 1)
    return None


def render(image: np.ndarray, matrix: np.ndarray, size: int, warp: YawWarp | None = None) -> np.ndarray:
    """The ``size`` x ``size`` crop of ``image`` by the 2x3 image->crop affine ``matrix``, bent by ``warp`` if given
    (one resampling from the source photo; black outside it)."""
    import cv2

    if warp is None:
        return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    crop_src = warp.source_map(size).reshape(-1, 2)
    img_src = geometry.apply(geometry.invert(matrix), crop_src).reshape(size, size, 2).astype(np.float32)
    return cv2.remap(image, img_src[..., 0], img_src[..., 1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT)

"""The bundled check set: face crops the project may publish, for the accuracy check that needs no labels.

``pipnet_edge/assets/check_set/check_set.npz`` holds the two public-domain portraits of ``docs/`` (Grace Hopper,
U.S. Navy; Eileen Collins, NASA), each as the patch of the photo around the face, and 96 crop recipes made by
``scripts/make_check_set.py`` (seeded) from the bundled YuNet detector's face and the runtime's crop rule: the
detector's crop region ``[cx, cy, side, roll]`` (the Landmarker's own, turned upright by the eye keypoints), scaled,
turned and shifted, and a blur and a lighting change. No 300W or MTFL image. The crops are cut at check time by the
runtime's crop code (:func:`~pipnet_edge.runtime.preprocess.crop_regions`) at whatever input size the model takes,
so a 112-px and a 256-px model (or one exported with ``--imgsz``) each see the crop they would see on a device.

``export`` runs every artifact and its reference model on these crops when no labelled data is given
(:func:`~pipnet_edge.evaluation.report.compare_crops`). The file's SHA-256 is pinned here and checked on load.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["CHECK_SET_PATH", "CHECK_SET_SHA256", "CheckSet", "apply_photometric", "load_check_set", "write_npz"]

CHECK_SET_PATH = Path(__file__).resolve().parents[1] / "assets" / "check_set" / "check_set.npz"
# scripts/make_check_set.py prints it; tests/test_check_set.py pins it too
CHECK_SET_SHA256 = "52364e65e752fb1354c7d472ace816742bd9b5e3af9a640ed69d7157b685d848"

_RECIPE_KEYS = ("source", "flip", "region", "blur", "gain", "gamma", "shade")


@dataclass
class CheckSet:
    """Source patches and crop recipes (see the module's docstring).

    Attributes:
        patches: per source, ``(H, W, 3)`` uint8 RGB: the part of the photo the crops take pixels from.
        names: per source, the ``docs/`` file it was cut from.
        source: ``(K,)`` the patch each crop is cut from.
        flip: ``(K,)`` crop the patch mirrored left-right.
        region: ``(K, 4)`` ``[cx, cy, side, roll]`` in the (mirrored when ``flip``) patch's pixels, as
            :func:`~pipnet_edge.runtime.preprocess.crop_regions` takes it.
        blur: ``(K,)`` Gaussian blur sigma as a fraction of the crop side (0: none).
        gain: ``(K, 3)`` per-channel gain (RGB) of the lighting change.
        gamma: ``(K,)`` gamma of the lighting change (1: none).
        shade: ``(K, 2)`` a linear shading across the crop: ``1 + a * (x - 0.5) + b * (y - 0.5)``, x and y in [0, 1].
        info: what the generator recorded (seed, detector, ranges, sources and licences).
    """

    patches: list[np.ndarray]
    names: list[str]
    source: np.ndarray
    flip: np.ndarray
    region: np.ndarray
    blur: np.ndarray
    gain: np.ndarray
    gamma: np.ndarray
    shade: np.ndarray
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.source)

    def describe(self) -> str:
        """One line for reports: how many crops, from what."""
        return (f"the bundled check set ({', '.join(self.names)}: public-domain portraits and their mirror images; "
                "scale, rotation, shift, blur and lighting varied)")

    def crops(self, input_size: int) -> np.ndarray:
        """``(K, S, S, 3)`` uint8 RGB crops at ``input_size`` px: the runtime's crop of each recipe's region, then its
        blur and lighting."""
        from ..runtime.preprocess import crop_regions

        out = np.empty((len(self), input_size, input_size, 3), np.uint8)
        mirrored: dict[int, np.ndarray] = {}
        for k in range(len(self)):
            s = int(self.source[k])
            img = self.patches[s]
            if self.flip[k]:
                img = mirrored.setdefault(s, np.ascontiguousarray(img[:, ::-1]))
            crop = crop_regions(img, self.region[k][None], input_size)[0][0]
            out[k] = apply_photometric(crop, self.blur[k], self.gain[k], self.gamma[k], self.shade[k])
        return out


def apply_photometric(crop: np.ndarray, blur: float, gain, gamma: float, shade) -> np.ndarray:
    """Blur (sigma ``blur`` x the crop side) then lighting (gamma, per-channel gain, linear shading) of one uint8 crop;
    every parameter is relative to the crop, so the change is the same at any input size."""
    import cv2

    size = crop.shape[0]
    img = crop
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), float(blur) * size, borderType=cv2.BORDER_REFLECT)
    x = img.astype(np.float32) / 255.0
    if gamma != 1.0:
        x = np.power(x, np.float32(gamma))
    ramp = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    shading = 1.0 + np.float32(shade[0]) * ramp[None, :] + np.float32(shade[1]) * ramp[:, None]
    x = x * shading[:, :, None] * np.asarray(gain, np.float32)[None, None, :]
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_check_set(path: str | Path | None = None) -> CheckSet:
    """The bundled check set (or another file written by ``scripts/make_check_set.py``).

    Raises:
        DataError: the file is missing, or the bundled file's SHA-256 is not the pinned one (corrupted or replaced).
    """
    p = CHECK_SET_PATH if path is None else Path(path)
    if not p.is_file():
        raise DataError(f"check set {p} is missing; reinstall pipnet-edge (or run scripts/make_check_set.py)")
    if path is None and _sha256(p) != CHECK_SET_SHA256:
        raise DataError(f"the bundled check set {p} differs from the pinned SHA-256; reinstall pipnet-edge, or after "
                        "regenerating it on purpose update CHECK_SET_SHA256 in pipnet_edge/calibration/check_set.py")
    with np.load(p, allow_pickle=False) as z:
        info = json.loads(str(z["info"]))
        patches = [z[f"patch_{i}"] for i in range(len(info["sources"]))]
        recipe = {k: z[k] for k in _RECIPE_KEYS}
    return CheckSet(patches, [s["file"] for s in info["sources"]], recipe["source"].astype(int), recipe["flip"].astype(bool),
                    recipe["region"].astype(np.float64), recipe["blur"].astype(np.float64), recipe["gain"].astype(np.float64),
                    recipe["gamma"].astype(np.float64), recipe["shade"].astype(np.float64), info)


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """An ``.npz`` (deflated) whose bytes depend on ``arrays`` alone: ``np.savez_compressed`` stamps each member with
    the current time, so two runs of the generator would differ; here every member carries the same fixed date."""
    import io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            zf.writestr(member, buf.getvalue(), compresslevel=9)
    return path

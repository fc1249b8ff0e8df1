#!/usr/bin/env python3
"""Build the bundled check set ``pipnet_edge/assets/check_set/check_set.npz`` from the public-domain portraits in
``docs/`` (deterministic: seeded, and the file's bytes depend on its content alone)::

    python scripts/make_check_set.py            # then put the printed SHA-256 into CHECK_SET_SHA256

Only ``docs/grace_hopper.jpg`` (U.S. Navy, public domain) and ``docs/astronaut.png`` (NASA, public domain) are read:
no 300W, MTFL or other data set image. For each portrait and its mirror image, the bundled YuNet detector finds
the face and the runtime's crop rule (the detector's calibrated rule, turned upright by the eye keypoints: what
``Landmarker.detect`` crops) gives its crop region; 24 recipes per face follow: the detector's crop itself, then 23
with the region scaled, turned and shifted and a blur and a lighting change drawn from a seeded generator. The file
stores the patch of each photo the crops take pixels from and the recipes, not crops: the check cuts them at the
model's own input size with the runtime's crop code (``pipnet_edge.calibration.check_set``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
OUT = ROOT / "pipnet_edge" / "assets" / "check_set" / "check_set.npz"
SOURCES = (  # docs/IMAGES.md: both public domain, works of the U.S. federal government
    ("grace_hopper.jpg", ("U.S. Navy portrait of Grace Hopper; public domain (work of the U.S. federal government); "
                          "the copy matplotlib ships as sample data")),
    ("astronaut.png", ("NASA portrait of astronaut Eileen Collins; public domain (work of the U.S. federal government); "
                       "the copy scikit-image ships as skimage/data/astronaut.png")),
)
SEED = 27
PER_FACE = 24  # recipes per face (the first is the detector's crop unchanged): 2 portraits x 2 mirrors x 24 = 96
RANGES = {
    "scale": (0.85, 1.2),          # crop side x
    "rotation_deg": (-25.0, 25.0),  # added to the upright roll: the face turns in the crop
    "shift": (-0.08, 0.08),        # x and y, fraction of the crop side, in the crop's frame
    "blur": (0.002, 0.012),        # Gaussian sigma, fraction of the crop side (half the recipes)
    "brightness": (0.5, 1.35),     # gain common to the three channels
    "tint": (0.88, 1.12),          # per-channel gain on top
    "gamma": (0.6, 1.6),
    "shade": (-0.6, 0.6),          # linear shading across the crop, x and y
}
MARGIN = 2  # pixels around the crops' union kept in each patch (bilinear sampling at the edge)


def _draw(rng: np.random.Generator, name: str, size=None):
    lo, hi = RANGES[name]
    return rng.uniform(lo, hi, size)


def face_region(image_rgb: np.ndarray, detector) -> tuple[np.ndarray, float]:
    """The best face's crop region ``[cx, cy, side, roll]`` as the Landmarker cuts it, and the detector's score."""
    from pipnet_edge.runtime.preprocess import box_regions, roll_angles

    found = detector.detect(image_rgb)
    if not len(found):
        raise SystemExit("the detector found no face in a docs portrait")
    roll = roll_angles(found.keypoints[:1, 0], found.keypoints[:1, 1])
    return box_regions(found.boxes[:1], detector.crop_rule, roll)[0], float(found.scores[0])


def recipes(base: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``PER_FACE`` recipes around one face's region: the first unchanged."""
    n = PER_FACE
    cx, cy, side, roll = base
    scale = np.r_[1.0, _draw(rng, "scale", n - 1)]
    turn = np.r_[0.0, _draw(rng, "rotation_deg", n - 1)]
    shift = np.vstack([[0.0, 0.0], _draw(rng, "shift", (n - 1, 2))])
    blur = np.r_[0.0, np.where(rng.random(n - 1) < 0.5, _draw(rng, "blur", n - 1), 0.0)]
    lit = np.r_[False, rng.random(n - 1) < 0.75]  # a quarter keep the photo's own lighting
    gain = np.where(lit[:, None], _draw(rng, "brightness", (n, 1)) * _draw(rng, "tint", (n, 3)), 1.0)
    gamma = np.where(lit, _draw(rng, "gamma", n), 1.0)
    shade = np.where(lit[:, None], _draw(rng, "shade", (n, 2)), 0.0)
    angle = roll + turn
    r = np.radians(angle)
    dx, dy = shift[:, 0] * side, shift[:, 1] * side  # in the crop's frame (see preprocess.box_regions)
    region = np.stack([cx + dx * np.cos(r) + dy * np.sin(r), cy - dx * np.sin(r) + dy * np.cos(r), side * scale, angle], 1)
    return {"region": region, "blur": blur, "gain": gain, "gamma": gamma, "shade": shade}


def corners(region: np.ndarray) -> np.ndarray:
    """The four corners ``(4, 2)`` of a turned square crop region."""
    cx, cy, side, angle = region
    r = np.radians(angle)
    u = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * side / 2
    rot = np.array([[np.cos(r), np.sin(r)], [-np.sin(r), np.cos(r)]])  # image -> crop (geometry.crop_matrix)
    return u @ rot + [cx, cy]  # crop -> image: rot transposed


def build(seed: int = SEED) -> tuple[dict[str, np.ndarray], dict]:
    import cv2

    from pipnet_edge.runtime.detectors import DEFAULT_DETECTOR, create_detector

    detector = create_detector(DEFAULT_DETECTOR)
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    rows: dict[str, list] = {k: [] for k in ("source", "flip", "region", "blur", "gain", "gamma", "shade")}
    sources = []
    for s, (file, licence) in enumerate(SOURCES):
        path = DOCS / file
        assert path.resolve().parent == DOCS.resolve(), path  # docs/ portraits only
        image = cv2.imread(str(path))
        if image is None:
            raise SystemExit(f"cannot read {path}")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        h, w = image.shape[:2]
        per_flip, scores = [], []
        for flip in (False, True):
            view = np.ascontiguousarray(image[:, ::-1]) if flip else image
            base, score = face_region(view, detector)
            per_flip.append(recipes(base, rng))
            scores.append(score)
        # the patch: every crop's corners, in the photo's own (unmirrored) pixels
        pts = []
        for flip, rec in zip((False, True), per_flip):
            c = np.concatenate([corners(r) for r in rec["region"]])
            if flip:
                c[:, 0] = w - 1 - c[:, 0]
            pts.append(c)
        pts = np.concatenate(pts)
        x0, y0 = (max(0, int(np.floor(v)) - MARGIN) for v in pts.min(0))
        x1, y1 = (min(n, int(np.ceil(v)) + MARGIN + 1) for v, n in zip(pts.max(0), (w, h)))
        arrays[f"patch_{s}"] = np.ascontiguousarray(image[y0:y1, x0:x1])
        pw = x1 - x0
        for flip, rec in zip((False, True), per_flip):
            region = rec["region"].copy()
            # photo pixels -> patch pixels; the mirrored patch starts at w - x0 - pw in the mirrored photo
            region[:, 0] -= (w - x0 - pw) if flip else x0
            region[:, 1] -= y0
            n = len(region)
            rows["source"].append(np.full(n, s, np.int16))
            rows["flip"].append(np.full(n, flip))
            rows["region"].append(region)
            for k in ("blur", "gain", "gamma", "shade"):
                rows[k].append(rec[k])
        sources.append({"file": f"docs/{file}", "licence": licence, "size": [w, h], "patch": [x0, y0, x1, y1],
                        "detector_score": [round(v, 4) for v in scores]})
    for k, v in rows.items():
        arrays[k] = np.concatenate(v)
    for k in ("region", "blur", "gain", "gamma", "shade"):
        arrays[k] = np.round(arrays[k], 4).astype(np.float32)  # recipes, not measurements: 4 decimals suffice
    info = {"generator": "scripts/make_check_set.py", "seed": seed, "detector": DEFAULT_DETECTOR,
            "crop": "the detector's crop rule, turned upright by its eye keypoints (Landmarker.detect's crop)",
            "per_face": PER_FACE, "ranges": RANGES, "sources": sources}
    arrays["info"] = np.asarray(json.dumps(info, sort_keys=True))
    return arrays, info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args(argv)
    from pipnet_edge.calibration.check_set import write_npz

    arrays, info = build(args.seed)
    out = write_npz(args.out, arrays)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"{out}: {len(arrays['source'])} crops of {len(info['sources'])} portraits, {out.stat().st_size / 1e3:.0f} kB")
    print(f"SHA-256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

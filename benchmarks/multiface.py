"""Synthetic multi-face photos for the end-to-end benchmark, made from the 300W ``test_full`` photos.

    python -m benchmarks.multiface --source ../shared/data/300w/test_full          # build both sets (cached)
    python -m benchmarks.multiface --sets small --force --preview                  # rebuild one, write a preview

What it builds (deterministic: the same seed, parameters and source photos give the same pixels):

* Source faces: the 554 whole photos of ``../shared/data/300w/test_full`` (one annotated face each,
  68 iBUG points, ``.pts`` 1-based; read with ``load_300w_folder``, which makes them 0-based).
* Each pasted face is cut out of its photo with a **feathered elliptical mask** centred on its 68-point
  landmark box (raised by :data:`MASK_RAISE` of the box height to take in the forehead), with semi-axes
  :data:`MASK_AXES` x the box's width and height (the ellipse spans about 1.4 x 1.5 the landmark box),
  opaque inside :data:`MASK_SOLID` of its radius and fading smoothly to nothing at its edge. So the face
  comes with its hair line and a little context, no other person's face comes along (the 300W faces are
  well apart at that size) and there is no hard edge for a detector to latch on.
* It is resized (``cv2.resize``: area filter when shrinking, cubic when enlarging) so that its landmark-box
  **height** is the drawn size, and placed at a random spot where its ellipse's bounding rectangle, with a
  small gap, overlaps no other pasted face's and stays inside the canvas (a face that finds no room is
  shrunk in 15 % steps within the set's size range, then left out: big faces fill a canvas quickly). The 68 points go through the same
  resize + shift (``cv2.resize``'s pixel-centre convention: ``x' = (x - x0 + 0.5) * sx - 0.5 + ox``), so the
  JSON beside each canvas holds every face's points in canvas pixels (0-based).
* Backgrounds hold no face: a linear gradient between two random colours at a random angle, plus
  low-frequency colour blobs (smoothed noise), a few translucent random rectangles / discs / lines and
  fine texture noise; every canvas draws its own mix.
* Canvases: landscape 1920 x 1080 or portrait 1080 x 1350 (alternating, shuffled).

Sets (:data:`SETS`):

* ``group``: 30 canvases, 2-8 faces each, landmark-box heights 8 %-35 % of the canvas's longer side
  (86-672 px on a landscape canvas). Source faces are taken no more than 3x enlarged where possible.
* ``small``: 15 canvases, 6-12 faces each, landmark-box heights 40-100 px (the ``min_face_size`` regime).

Written to a git-ignored cache, ``benchmarks/.multiface/<set>/NAME.jpg`` + ``NAME.json`` (the folder
carries its own ``.gitignore``: ``*``; never commit the images, they are derived from 300W photos,
which are for non-commercial research only), with ``manifest.json`` recording the parameters; a set is
rebuilt when it is missing, incomplete or was built with other parameters.

``NAME.json``: ``{"width", "height", "faces": [{"points": [[x, y] x 68], "source": "helen_...", "scale": s,
"box": [x0, y0, x1, y1]}]}`` (``box`` is the landmark box of the transformed points).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import HERE, SHARED

__all__ = [
    "DEFAULT_CACHE_DIR",
    "GENERATOR_VERSION",
    "SETS",
    "Canvas",
    "SetSpec",
    "SourceFace",
    "build_set",
    "ensure_set",
    "face_mask",
    "landmark_box",
    "load_set",
    "make_background",
    "make_canvas",
    "sources_from_folder",
]

GENERATOR_VERSION = 2  # bump when the pixels would change for the same parameters
DEFAULT_CACHE_DIR = HERE / ".multiface"
DEFAULT_SOURCE = SHARED / "data" / "300w" / "test_full"

MASK_AXES = (0.70, 0.75)  # ellipse semi-axes / landmark-box (width, height): ~1.4 x 1.5 the box
MASK_RAISE = 0.08  # ellipse centre raised by this much of the box height (forehead)
MASK_SOLID = 0.72  # opaque inside this fraction of the elliptical radius, feathered to 0 at 1
GAP_PX = 4  # minimum gap between the bounding rectangles of two pasted ellipses
CANVAS_SIZES = ((1920, 1080), (1080, 1350))  # (width, height): landscape, portrait
MAX_UPSCALE = 3.0  # prefer source faces that need at most this enlargement


@dataclass(frozen=True)
class SetSpec:
    """Parameters of one synthetic set. Face size: ``height_frac`` (of the canvas's longer side) or ``height_px``."""

    count: int
    faces: tuple[int, int]  # inclusive range of faces per canvas
    height_frac: tuple[float, float] | None = None
    height_px: tuple[float, float] | None = None
    seed: int = 0
    sizes: tuple[tuple[int, int], ...] = CANVAS_SIZES
    jpeg_quality: int = 92

    def height_range(self, width: int, height: int) -> tuple[float, float]:
        if self.height_px is not None:
            return float(self.height_px[0]), float(self.height_px[1])
        assert self.height_frac is not None
        side = max(width, height)
        return self.height_frac[0] * side, self.height_frac[1] * side


SETS: dict[str, SetSpec] = {
    "group": SetSpec(count=30, faces=(2, 8), height_frac=(0.08, 0.35), seed=20261201),
    "small": SetSpec(count=15, faces=(6, 12), height_px=(40.0, 100.0), seed=20261202),
}


@dataclass
class SourceFace:
    """A face to paste: its photo (loaded lazily by ``load``) and its 0-based ``(68, 2)`` points."""

    name: str
    points: np.ndarray
    load: Callable[[], np.ndarray]  # -> BGR uint8 photo

    @property
    def box(self) -> np.ndarray:
        return landmark_box(self.points)


@dataclass
class Canvas:
    """One benchmark photo: the image file and the ``(68, 2)`` points of every face in it (0-based)."""

    image_path: Path
    faces: list[np.ndarray]
    sources: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.image_path.stem


def landmark_box(points: np.ndarray) -> np.ndarray:
    """Tight ``[x0, y0, x1, y1]`` box of the points (as ``pipnet_edge.runtime.geometry.box_from_points``)."""
    p = np.asarray(points, np.float64)
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])


def _ellipse(box: np.ndarray) -> tuple[float, float, float, float]:
    """Centre and semi-axes ``(cx, cy, a, b)`` of a face's mask ellipse, in the box's pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    return (x0 + x1) / 2, (y0 + y1) / 2 - MASK_RAISE * h, MASK_AXES[0] * w, MASK_AXES[1] * h


def face_mask(shape: tuple[int, int], ellipse: tuple[float, float, float, float]) -> np.ndarray:
    """``(H, W)`` float32 alpha in [0, 1]: 1 inside ``MASK_SOLID`` of the ellipse, smoothstep to 0 at its edge."""
    cx, cy, a, b = ellipse
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    r = np.sqrt(((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2)
    t = np.clip((1.0 - r) / (1.0 - MASK_SOLID), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def make_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A face-free BGR uint8 background: gradient + colour blobs + translucent shapes + fine noise."""
    import cv2

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    proj = xs * math.cos(angle) + ys * math.sin(angle)
    t = ((proj - proj.min()) / max(float(np.ptp(proj)), 1.0))[..., None]
    c0, c1 = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    img = c0 * (1 - t) + c1 * t
    # low-frequency blobs: coarse noise, enlarged and blurred
    gw, gh = int(rng.integers(3, 9)), int(rng.integers(3, 9))
    blobs = rng.normal(0, rng.uniform(10, 40), (gh, gw, 3)).astype(np.float32)
    img += cv2.GaussianBlur(cv2.resize(blobs, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), max(width, height) / 40)
    img = np.clip(img, 0, 255).astype(np.uint8)
    # a few translucent shapes (clutter without faces)
    for _ in range(int(rng.integers(3, 12))):
        layer = img.copy()
        colour = tuple(int(v) for v in rng.uniform(0, 255, 3))
        kind = rng.integers(0, 3)
        if kind == 0:
            p = rng.uniform([0, 0], [width, height], (2, 2)).astype(int)
            cv2.rectangle(layer, tuple(map(int, p[0])), tuple(map(int, p[1])), colour, -1)
        elif kind == 1:
            c = rng.uniform([0, 0], [width, height]).astype(int)
            cv2.circle(layer, (int(c[0]), int(c[1])), int(rng.uniform(20, max(width, height) / 5)), colour, -1, cv2.LINE_AA)
        else:
            p = rng.uniform([0, 0], [width, height], (2, 2)).astype(int)
            cv2.line(layer, tuple(map(int, p[0])), tuple(map(int, p[1])), colour, int(rng.integers(2, 20)), cv2.LINE_AA)
        a = float(rng.uniform(0.15, 0.5))
        img = cv2.addWeighted(layer, a, img, 1 - a, 0)
    # fine texture noise, sometimes slightly blurred (paper, fabric, sensor grain)
    grain = rng.normal(0, rng.uniform(2, 12), (height, width, 1)).astype(np.float32)
    if rng.random() < 0.5:
        grain = cv2.GaussianBlur(grain, (0, 0), rng.uniform(0.6, 2.0))[..., None]
    return np.clip(img.astype(np.float32) + grain, 0, 255).astype(np.uint8)


def _paste(canvas: np.ndarray, photo: np.ndarray, points: np.ndarray, target_h: float, origin: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Paste the masked face of ``photo`` (landmark points ``points``) scaled to landmark-box height
    ``target_h`` with its ellipse's bounding rectangle's top-left corner at ``origin``; returns the
    transformed points and the scale."""
    import cv2

    box = landmark_box(points)
    cx, cy, a, b = _ellipse(box)
    s = target_h / max(box[3] - box[1], 1e-6)
    # source rectangle: the ellipse's bounds (may leave the photo: pad with edge pixels, the mask hides them)
    sx0, sy0 = math.floor(cx - a), math.floor(cy - b)
    sx1, sy1 = math.ceil(cx + a) + 1, math.ceil(cy + b) + 1
    ph, pw = photo.shape[:2]
    pad = max(0, -sx0, -sy0, sx1 - pw, sy1 - ph)
    src = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else photo
    crop = src[sy0 + pad : sy1 + pad, sx0 + pad : sx1 + pad]
    cw, ch = sx1 - sx0, sy1 - sy0
    dw, dh = max(1, round(cw * s)), max(1, round(ch * s))
    fx, fy = dw / cw, dh / ch  # the exact factors cv2.resize applies
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    patch = cv2.resize(crop, (dw, dh), interpolation=interp).astype(np.float32)
    ox, oy = origin
    # the ellipse in patch pixels, through the same mapping as the points
    ell = ((cx - sx0 + 0.5) * fx - 0.5, (cy - sy0 + 0.5) * fy - 0.5, a * fx, b * fy)
    alpha = face_mask((dh, dw), ell)[..., None]
    H, W = canvas.shape[:2]
    # clip to the canvas (placement keeps the ellipse inside; the rectangle's +1 pixel may not be)
    x1, y1 = min(W, ox + dw), min(H, oy + dh)
    region = canvas[oy:y1, ox:x1].astype(np.float32)
    p, al = patch[: y1 - oy, : x1 - ox], alpha[: y1 - oy, : x1 - ox]
    canvas[oy:y1, ox:x1] = np.clip(region * (1 - al) + p * al + 0.5, 0, 255).astype(np.uint8)
    pts = np.asarray(points, np.float64)
    out = np.column_stack([(pts[:, 0] - sx0 + 0.5) * fx - 0.5 + ox, (pts[:, 1] - sy0 + 0.5) * fy - 0.5 + oy])
    return out.astype(np.float32), float(s)


def _pasted_extent(face: SourceFace, target_h: float) -> tuple[int, int]:
    box = face.box
    _, _, a, b = _ellipse(box)
    s = target_h / max(box[3] - box[1], 1e-6)
    return math.ceil(2 * a * s) + 2, math.ceil(2 * b * s) + 2


def _choose_source(rng: np.random.Generator, sources: Sequence[SourceFace], heights: np.ndarray, target_h: float,
                   used: set[int]) -> int:
    ok = np.flatnonzero(heights * MAX_UPSCALE >= target_h)
    if len(ok) == 0:
        ok = np.argsort(heights)[-max(1, len(heights) // 10) :]  # the largest tenth
    fresh = [int(i) for i in ok if int(i) not in used]
    pool = fresh if fresh else [int(i) for i in ok]
    return pool[int(rng.integers(len(pool)))]


def make_canvas(rng: np.random.Generator, sources: Sequence[SourceFace], size: tuple[int, int], n_faces: int,
                height_range: tuple[float, float], used: set[int] | None = None,
                background: np.ndarray | None = None, tries: int = 300) -> tuple[np.ndarray, list[dict]]:
    """One canvas of ``size = (width, height)`` with up to ``n_faces`` faces: each face draws its height
    from ``height_range``, biggest first; one that finds no free spot in ``tries`` attempts is shrunk by
    15 % steps while it stays in the range, and left out after that. Returns the BGR image and, per face, ``points`` (68, 2), ``source``,
    ``scale`` and ``box``. ``used`` collects the indices of the sources taken (to spread them over a set)."""
    width, height = size
    used = set() if used is None else used
    img = make_background(rng, width, height) if background is None else background.copy()
    heights = np.array([f.box[3] - f.box[1] for f in sources])
    placed: list[tuple[int, int, int, int]] = []
    faces: list[dict] = []
    # big faces first: they are the hardest to fit
    targets = sorted((float(rng.uniform(*height_range)) for _ in range(n_faces)), reverse=True)
    for target_h in targets:
        k = _choose_source(rng, sources, heights, target_h, used)
        src = sources[k]
        spot = None
        while spot is None:
            ew, eh = _pasted_extent(src, target_h)
            for _ in range(tries if ew < width and eh < height else 0):
                ox, oy = int(rng.integers(0, width - ew)), int(rng.integers(0, height - eh))
                rect = (ox - GAP_PX, oy - GAP_PX, ox + ew + GAP_PX, oy + eh + GAP_PX)
                if all(rect[2] <= r[0] or r[2] <= rect[0] or rect[3] <= r[1] or r[3] <= rect[1] for r in placed):
                    spot = (ox, oy)
                    break
            if spot is None:  # no room: shrink the face while it stays in the set's range, else drop it
                if target_h * 0.85 < height_range[0]:
                    break
                target_h *= 0.85
        if spot is None:
            continue
        ox, oy = spot
        photo = src.load()
        pts, s = _paste(img, photo, src.points, target_h, (ox, oy))
        placed.append((ox, oy, ox + ew, oy + eh))
        used.add(k)
        faces.append({"points": pts, "source": src.name, "scale": round(s, 5),
                      "box": [round(float(v), 3) for v in landmark_box(pts)]})
    return img, faces


def sources_from_folder(folder: str | Path) -> list[SourceFace]:
    """The annotated faces of a 300W folder (``load_300w_folder``) as paste sources."""
    import cv2

    from pipnet_edge.data.annotations import load_300w_folder

    def loader(path: Path) -> Callable[[], np.ndarray]:
        def load() -> np.ndarray:
            img = cv2.imread(str(path))
            if img is None:
                raise FileNotFoundError(f"cannot read {path}")
            return img
        return load

    return [SourceFace(r.name, r.points, loader(r.image_path)) for r in load_300w_folder(folder)]


def _fingerprint(spec: SetSpec, sources: Sequence[SourceFace]) -> str:
    h = hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode())
    h.update(f"v{GENERATOR_VERSION}".encode())
    for s in sources:
        h.update(s.name.encode())
        h.update(np.round(np.asarray(s.points, np.float64), 3).tobytes())
    return h.hexdigest()[:16]


def _write_gitignore(cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    gi = cache_dir / ".gitignore"
    if not gi.exists():
        gi.write_text("# generated benchmark canvases (derived from 300W photos): never commit\n*\n")


def build_set(name: str, sources: Sequence[SourceFace], cache_dir: str | Path = DEFAULT_CACHE_DIR,
              spec: SetSpec | None = None, progress: bool = True) -> Path:
    """Generate set ``name`` (``SETS[name]`` unless ``spec``) into ``cache_dir/name``; returns the folder."""
    import cv2

    spec = spec or SETS[name]
    cache_dir = Path(cache_dir)
    _write_gitignore(cache_dir)
    folder = cache_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in list(folder.glob("*.jpg")) + list(folder.glob("*.json")):
        old.unlink()
    rng = np.random.default_rng(spec.seed)
    used: set[int] = set()
    order = [spec.sizes[i % len(spec.sizes)] for i in range(spec.count)]
    rng.shuffle(order)
    it = range(spec.count)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"building {name} canvases", unit="canvas")
    total = 0
    for i in it:
        size = tuple(int(v) for v in order[i])
        n = int(rng.integers(spec.faces[0], spec.faces[1] + 1))
        img, faces = make_canvas(rng, sources, size, n, spec.height_range(*size), used)
        stem = f"{name}_{i:03d}"
        cv2.imwrite(str(folder / f"{stem}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
        doc = {"width": size[0], "height": size[1],
               "faces": [{**f, "points": np.round(f["points"], 3).tolist()} for f in faces]}
        (folder / f"{stem}.json").write_text(json.dumps(doc))
        total += len(faces)
    manifest = {"set": name, "generator_version": GENERATOR_VERSION, "spec": asdict(spec),
                "fingerprint": _fingerprint(spec, sources), "canvases": spec.count, "faces": total,
                "sources": len(sources)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def ensure_set(name: str, source: str | Path = DEFAULT_SOURCE, cache_dir: str | Path = DEFAULT_CACHE_DIR,
               force: bool = False, progress: bool = True) -> Path:
    """The folder of set ``name``, generated first when missing, incomplete or stale."""
    spec = SETS[name]
    folder = Path(cache_dir) / name
    sources = sources_from_folder(source)
    man = folder / "manifest.json"
    if not force and man.is_file():
        m = json.loads(man.read_text())
        if m.get("fingerprint") == _fingerprint(spec, sources) and len(list(folder.glob("*.jpg"))) == spec.count \
                and len(list(folder.glob("*.json"))) == spec.count + 1:
            return folder
    return build_set(name, sources, cache_dir, spec, progress)


def load_set(folder: str | Path) -> list[Canvas]:
    """The canvases of a generated set folder, sorted by name."""
    folder = Path(folder)
    out = []
    for js in sorted(folder.glob("*.json")):
        if js.name == "manifest.json":
            continue
        doc = json.loads(js.read_text())
        out.append(Canvas(js.with_suffix(".jpg"), [np.asarray(f["points"], np.float32) for f in doc["faces"]],
                          [f["source"] for f in doc["faces"]]))
    return out


def _preview(canvas: Canvas, path: Path) -> None:
    import cv2

    img = cv2.imread(str(canvas.image_path))
    for pts in canvas.faces:
        b = landmark_box(pts).round().astype(int)
        cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), (0, 255, 0), 1)
        for x, y in pts:
            cv2.circle(img, (int(np.rint(x)), int(np.rint(y))), 1, (0, 0, 255), -1)
    cv2.imwrite(str(path), img)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default=str(DEFAULT_SOURCE), help="300W whole photos (test_full)")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR))
    p.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    p.add_argument("--preview", action="store_true", help="also write CACHE/<set>_preview.jpg: the first canvas with its points")
    args = p.parse_args(argv)
    for name in args.sets:
        folder = ensure_set(name, args.source, args.cache_dir, force=args.force)
        canvases = load_set(folder)
        n = sum(len(c.faces) for c in canvases)
        hs = np.array([np.ptp(f[:, 1]) for c in canvases for f in c.faces])
        print(f"{name}: {len(canvases)} canvases, {n} faces (landmark-box height {hs.min():.0f}-{hs.max():.0f} px, "
              f"median {np.median(hs):.0f}) in {folder}")
        if args.preview:
            _preview(canvases[0], Path(args.cache_dir) / f"{name}_preview.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())

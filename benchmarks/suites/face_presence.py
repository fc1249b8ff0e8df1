"""The face presence score: how ``min_face_presence`` was chosen (training faces, face-free backgrounds) and checked.

    pip install scikit-image==0.26.0       # its bundled CC0 / public-domain sample photos are the backgrounds
    python -m benchmarks face_presence     # -> benchmarks/results/face_presence.json and .md

A Landmarker drops a face whose *presence score* (the landmark model's own confidence, see
``pipnet_edge.runtime.presence``) is below ``min_face_presence``. This suite measures that score on every detection
the bundled detectors make on photos built for the purpose, and picks the default from them:

* **Backgrounds (face-free)**: the scikit-image sample photos that hold no face and carry a CC0 or public-domain
  notice (:data:`BACKGROUNDS`; ``astronaut`` and ``camera`` show people, ``coins`` shows heads in relief, and are
  left out), and procedural textures (``benchmarks/multiface.make_background``). Each is varied by a seeded
  generator (:func:`background_variants`): scaled 0.4-3x, turned by any angle (mirror-padded), flipped, cropped
  or tiled to 640 x 480 / 1280 x 720 / 720 x 960, its brightness, contrast and gamma changed, sometimes grey or
  blurred. Two sets from two seeds: ``choose`` (picks the threshold) and ``check`` (only checked).
* **Faces**: the 2,012 TRAINING faces (``../shared/data/300w/train``), (a) each pasted once (those that find room:
  2,006) onto ``choose`` backgrounds, 1-6 to a photo, landmark-box heights 5-45 % of the photo's longer side (log-uniform; the paste of
  ``benchmarks/multiface.py``), and (b) each in its own training crop as it is.
* **Detections**: YuNet (the default detector) and BlazeFace short range, each at its default threshold and at a low
  one (:data:`LOW_DETECTION_CONFIDENCE`, to harvest many more, harder non-faces than the defaults let through);
  every detection is cropped as the Landmarker crops it (the detector's crop rule, turned upright by its eye
  keypoints) and run through both bundled models, ``default`` and ``lite``. A detection is a face when its centre
  lies in an annotated face's landmark box and its longer side is 0.5-2x the box's (the detector benchmarks' rule);
  on a face photo, one that matches no face but whose centre lies in, or whose box overlaps, a pasted face's
  rectangle (its ellipse's bounds) is set aside (part of a face, or a face and its surroundings), and
  on a training crop every unmatched detection is set aside (other people in the photo are not annotated); every
  detection on a background is a non-face.

The choice (:func:`choose`; the ``check`` backgrounds take no part): for each candidate statistic of the 68 point
scores (:data:`STATISTICS`) and each model, the highest score any non-face reaches (``choose`` backgrounds and the
backgrounds of the face photos, both detectors, both thresholds); the threshold is that plus :data:`MARGIN`, rounded up
to 0.01, and the share of the faces the detectors find at their default thresholds that reach it is reported. The
statistic is the plain mean (``FaceLandmarks.score``) unless a landmark-only statistic keeps more than
:data:`PREFER_WITHIN` % more faces (a detector score is not there for video tracks or given boxes, so
``detector x mean`` is only reported); the chosen thresholds must keep at least 99.5 % of those faces
(``choice["keeps_99_5_pct"]``).

The check, with the chosen default (test photos are only measured here): recall on the 554 ``test_full`` photos with
the filter on and off (``Landmarker().detect``, the end-to-end benchmark's rule: returned landmarks' box IoU >= 0.5
with the annotated face's), every face of ``docs/group.jpg``, and no face on the ``check`` backgrounds, for both
models behind both detectors; and, behind YuNet, the ``test_full`` photos turned by +-30 and +-45 degrees (what the
filter costs on rolled faces, which score lower).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import HERE, ROOT, SHARED
from benchmarks.envelope import command_line, make_envelope, model_hashes, portable, result_path, utc_now, write_result

# scikit-image sample photos used as face-free backgrounds: name -> the licence notice scikit-image gives for it
BACKGROUNDS: dict[str, str] = {
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (CC0Textures)",
    "gravel": "CC0 (CC0Textures)",
    "coffee": "CC0 (Rachel Michetti)",
    "chelsea": "CC0 (Stefan van der Walt); a cat's face: a non-human face",
    "rocket": "public domain (SpaceX)",
    "horse": "CC0 (Andreas Preuss)",
    "clock_motion": "public domain (Stefan van der Walt)",
    "hubble_deep_field": "public domain (NASA)",
    "retina": "CC0",
    "cell": "CC0",
    "text": "public domain",
    "ihc": "no known copyright restrictions",
}
PROCEDURAL = "procedural"  # multiface.make_background
VARIANTS_PER_SOURCE = 24  # background photos per source and set
SIZES = ((640, 480), (1280, 720), (720, 960))
SEEDS = {"choose": 20261206, "check": 20261207}
FACE_SEED = 20261208
FACE_HEIGHT = (0.05, 0.45)  # landmark-box height / the photo's longer side (log-uniform)
FACES_PER_PHOTO = (1, 6)
LOW_DETECTION_CONFIDENCE = 0.3
DETECTORS = ("yunet", "blazeface-short")
MODELS = ("default", "lite")
MARGIN = 0.02
CACHE = HERE / ".face_presence"
TRAIN = SHARED / "data" / "300w" / "train"
TEST_FULL = SHARED / "data" / "300w" / "test_full"


# ------------------------------------------------------------------------------------------ the photos
def skimage_data_dir() -> Path | None:
    """scikit-image's bundled sample photos (``skimage/data``), without importing it; ``None`` if not installed."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "data"
    return d if d.is_dir() else None


def background_sources() -> dict[str, np.ndarray]:
    """``{name: BGR photo}`` of :data:`BACKGROUNDS` (scikit-image must be installed)."""
    import cv2

    d = skimage_data_dir()
    if d is None:
        raise SystemExit("the backgrounds are scikit-image's sample photos: pip install scikit-image==0.26.0")
    out = {}
    for name in BACKGROUNDS:
        path = next(p for p in sorted(d.glob(f"{name}.*")) if p.suffix in (".png", ".jpg"))
        out[name] = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return out


def _vary(rng: np.random.Generator, src: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One face-free photo of ``size`` from ``src``: scaled, turned, flipped, cropped or tiled, re-lit."""
    import cv2

    w, h = size
    # scale so that the source covers 0.4-3x the photo's longer side
    s = math.exp(rng.uniform(math.log(0.4), math.log(3.0))) * max(w, h) / max(src.shape[:2])
    img = cv2.resize(src, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    # room to turn and crop: mirror-pad to twice the diagonal
    diag = int(math.hypot(w, h)) + 2
    py, px = max(0, diag - img.shape[0]), max(0, diag - img.shape[1])
    if py or px:
        img = cv2.copyMakeBorder(np.ascontiguousarray(img), py // 2 + 1, py - py // 2 + 1, px // 2 + 1, px - px // 2 + 1,
                                 cv2.BORDER_REFLECT_101)
    angle = float(rng.choice([0.0, 90.0, 180.0, 270.0])) if rng.random() < 0.5 else float(rng.uniform(0, 360))
    ch, cw = img.shape[:2]
    cx = rng.uniform(w / 2 + (cw - diag) / 2, cw - w / 2 - (cw - diag) / 2) if cw > diag else cw / 2
    cy = rng.uniform(h / 2 + (ch - diag) / 2, ch - h / 2 - (ch - diag) / 2) if ch > diag else ch / 2
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    m[:, 2] += (w / 2 - cx, h / 2 - cy)
    out = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    f = out.astype(np.float32) / 255.0
    f = np.clip(f * rng.uniform(0.7, 1.3) + rng.uniform(-0.15, 0.15), 0, 1) ** rng.uniform(0.7, 1.4)
    out = (f * 255 + 0.5).astype(np.uint8)
    if rng.random() < 0.2:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.2:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 2.5))
    return out


def background_variants(set_name: str, sources: dict[str, np.ndarray], per_source: int = VARIANTS_PER_SOURCE
                        ) -> Iterator[tuple[str, np.ndarray]]:
    """``(source name, BGR photo)``: ``per_source`` variants of every source and as many procedural backgrounds,
    from the set's seed (:data:`SEEDS`); the same seed gives the same pixels."""
    from benchmarks.multiface import make_background

    rng = np.random.default_rng(SEEDS[set_name])
    for name, src in sources.items():
        for _ in range(per_source):
            yield name, _vary(rng, src, SIZES[int(rng.integers(len(SIZES)))])
    for _ in range(per_source):
        w, h = SIZES[int(rng.integers(len(SIZES)))]
        yield PROCEDURAL, make_background(rng, w, h)


@dataclass
class FacePhoto:
    """A photo with annotated faces: ``faces`` ``(68, 2)`` points each; ``rects`` where pasted faces lie."""

    name: str
    image: np.ndarray  # BGR
    faces: list[np.ndarray]
    pasted: bool  # True: every face in it is annotated (a pasted photo); False: a training crop
    rects: list[tuple[int, int, int, int]]  # each pasted face's ellipse's bounding rectangle


def pasted_face_photos(train: Path, backgrounds: list[tuple[str, np.ndarray]]) -> Iterator[FacePhoto]:
    """Every training face pasted once onto the ``choose`` backgrounds (drawn at random), 1-6 to a photo, each at its own
    landmark-box height drawn log-uniformly from 5-45 % of the photo's longer side (``multiface``'s feathered paste;
    a face that finds no room is shrunk in 15 % steps, then left out)."""
    from benchmarks.multiface import GAP_PX, _paste, _pasted_extent, sources_from_folder

    sources = sources_from_folder(train)
    rng = np.random.default_rng(FACE_SEED)
    order = [int(i) for i in rng.permutation(len(sources))]
    k = i = 0
    while k < len(order):
        n = int(rng.integers(FACES_PER_PHOTO[0], FACES_PER_PHOTO[1] + 1))
        take = [sources[j] for j in order[k : k + n]]
        k += n
        name, bg = backgrounds[int(rng.integers(len(backgrounds)))]
        img = bg.copy()
        h, w = img.shape[:2]
        lo, hi = (f * max(w, h) for f in FACE_HEIGHT)
        placed, faces = [], []
        for src in take:
            t = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            while t >= lo:
                ew, eh = _pasted_extent(src, t)
                spot = None
                for _ in range(300 if ew < w and eh < h else 0):
                    ox, oy = int(rng.integers(0, w - ew)), int(rng.integers(0, h - eh))
                    r = (ox - GAP_PX, oy - GAP_PX, ox + ew + GAP_PX, oy + eh + GAP_PX)
                    if all(r[2] <= p[0] or p[2] <= r[0] or r[3] <= p[1] or p[3] <= r[1] for p in placed):
                        spot = (ox, oy)
                        break
                if spot is not None:
                    pts, _ = _paste(img, src.load(), src.points, t, spot)
                    placed.append((spot[0], spot[1], spot[0] + ew, spot[1] + eh))
                    faces.append(pts)
                    break
                t *= 0.85
        yield FacePhoto(f"faces_{i:04d}_{name}", img, faces, True, placed)
        i += 1


def training_crops(train: Path) -> Iterator[FacePhoto]:
    """The training crops as they are (one annotated face each; other people in them are not annotated)."""
    import cv2

    from pipnet_edge.data.annotations import load_300w_folder

    for r in load_300w_folder(train):
        yield FacePhoto(r.name, cv2.imread(str(r.image_path)), [np.asarray(r.points, np.float32)], False, [])


# ------------------------------------------------------------------------------------------ what the models say
LABELS = ("face", "nonface", "aside")  # aside: part of a face, or an unannotated face in a training crop


def face_found(box: np.ndarray, faces: list[np.ndarray], used: np.ndarray) -> int:
    """The annotated face a detection box finds (its centre in the landmark box, its longer side 0.5-2x the box's;
    the detector benchmarks' rule), or -1."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    long = max(box[2] - box[0], box[3] - box[1])
    for j, pts in enumerate(faces):
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        side = max(x1 - x0, y1 - y0)
        if not used[j] and x0 < cx < x1 and y0 < cy < y1 and 0.5 * side <= long <= 2.0 * side:
            return j
    return -1


class Runner:
    """Both bundled models behind one detector at one threshold: every detection's label and the models' point
    scores (heatmap peaks) and NRM spreads, cropped exactly as ``Landmarker.detect`` crops them."""

    def __init__(self, detector: str, min_confidence: float | None):
        from pipnet_edge.runtime import Landmarker

        self.models = {m: Landmarker(m, detector=detector, min_detection_confidence=min_confidence, max_faces=64,
                                     num_threads=1) for m in MODELS}
        self.front = self.models[MODELS[0]]._front

    def run(self, photo: FacePhoto | None, image: np.ndarray) -> list[dict]:
        from pipnet_edge.runtime.preprocess import crop_regions

        found = self.front.find(image, "BGR")
        if len(found) == 0:
            return []
        regions = self.front.regions(found)
        outs = {}
        for m, lm in self.models.items():
            crops, _ = crop_regions(image, regions, lm.spec.input_size, "BGR")
            outs[m] = lm.predict_crops(crops, with_spread=True)
        h, w = image.shape[:2]
        used = np.zeros(len(photo.faces) if photo else 0, bool)
        rows = []
        for k in range(len(found)):
            box = found.boxes[k]
            label, scale = "nonface", None
            if photo is not None:
                j = face_found(box, photo.faces, used)
                if j >= 0:
                    used[j] = True
                    label = "face"
                    pts = photo.faces[j]
                    scale = float(np.ptp(pts[:, 1]) / max(h, w))
                elif not photo.pasted:
                    label = "aside"
                else:
                    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                    if any(r[0] < cx < r[2] and r[1] < cy < r[3] for r in photo.rects) or any(
                            box[0] < r[2] and r[0] < box[2] and box[1] < r[3] and r[1] < box[3] for r in photo.rects):
                        label = "aside"
            rows.append({"label": label, "det_score": float(found.scores[k]), "face_height": scale,
                         "box_side": float(max(box[2] - box[0], box[3] - box[1]) / max(h, w)),
                         **{f"peaks_{m}": o.scores[k].astype(np.float32) for m, o in outs.items()},
                         **{f"spread_{m}": o.spread[k].astype(np.float32) for m, o in outs.items()}})
        return rows

    def close(self) -> None:
        for lm in self.models.values():
            lm.close()


def default_confidence(detector: str) -> float:
    from pipnet_edge.runtime.detectors import create_detector

    return float(create_detector(detector).min_confidence)


def collect(train: Path, per_source: int, limit_faces: int = 0, progress: bool = True) -> dict[str, np.ndarray]:
    """Every detection on every photo set (:func:`background_variants` ``choose`` and ``check``, the pasted training
    faces, the training crops), by both detectors at both thresholds, as columns."""
    sources = background_sources()
    sets = {name: list(background_variants(name, sources, per_source)) for name in SEEDS}
    face_photos = list(pasted_face_photos(train, sets["choose"]))
    crops = list(training_crops(train))
    if limit_faces:
        face_photos, crops = face_photos[:limit_faces], crops[:limit_faces]
    runs = [(d, s, t) for d in DETECTORS for s, t in (("default", None), ("low", LOW_DETECTION_CONFIDENCE))]
    cols: dict[str, list] = {}
    work = [(f"{name}_bg", i, src, None, img) for name, items in sets.items() for i, (src, img) in enumerate(items)]
    work += [("faces", i, p.name.split("_", 2)[2], p, p.image) for i, p in enumerate(face_photos)]
    work += [("train", i, p.name, p, p.image) for i, p in enumerate(crops)]
    total = len(work) * len(runs)
    done = 0
    for det, setting, thr in runs:
        runner = Runner(det, thr)
        for set_name, i, src, photo, img in work:
            for r in runner.run(photo, img):
                r.update({"set": set_name, "photo": i, "source": src, "detector": det, "setting": setting})
                for key, v in r.items():
                    cols.setdefault(key, []).append(v)
            done += 1
            if progress and done % 200 == 0:
                print(f"  {done}/{total} photo runs", file=sys.stderr, flush=True)
        runner.close()
    out = {}
    for key, v in cols.items():
        if key.startswith(("peaks_", "spread_")):
            out[key] = np.stack(v).astype(np.float32)
        elif key == "face_height":
            out[key] = np.array([np.nan if x is None else x for x in v], np.float32)
        else:
            out[key] = np.array(v)
    out["faces_total"] = np.array([sum(len(p.faces) for p in face_photos), len(crops)])
    return out


# ------------------------------------------------------------------------------------------ the choice
INNER = slice(17, 68)  # brows, nose, eyes, mouth: the 68 points without the jaw line
# candidate presence statistics of a face's 68 point scores (heatmap peaks) ``p`` (K, 68) and detector scores ``d``
STATISTICS = {
    "mean": lambda p, d: p.mean(1),  # FaceLandmarks.score
    "median": lambda p, d: np.median(p, 1),
    "geometric mean": lambda p, d: np.exp(np.log(np.clip(p, 1e-3, None)).mean(1)),
    "mean without jaw": lambda p, d: p[:, INNER].mean(1),
    "trimmed mean (10 %)": lambda p, d: np.sort(p, 1)[:, 7:-7].mean(1),
    "25th percentile": lambda p, d: np.percentile(p, 25, axis=1),
    "detector x mean": lambda p, d: d * p.mean(1),  # needs a detector score: not for tracks or given boxes
}
LANDMARK_ONLY = [k for k in STATISTICS if not k.startswith("detector")]
PREFER_WITHIN = 0.1  # % of faces: the plain mean is kept unless another statistic keeps more than this many more


def _q(v: np.ndarray, qs) -> list[float | None]:
    return [round(float(np.percentile(v, q)), 4) for q in qs] if len(v) else [None] * len(qs)


def threshold_above(top: float) -> float:
    """The threshold for a highest non-face score ``top``: ``top + MARGIN``, rounded up to 0.01."""
    return math.ceil(round((top + MARGIN) * 100, 6)) / 100


def choose(cols: dict[str, np.ndarray]) -> dict:
    """The statistic and per-model thresholds, from the ``choose`` backgrounds and the face photos only."""
    lab, sets, det, setting = cols["label"], cols["set"], cols["detector"], cols["setting"]
    neg = (lab == "nonface") & (sets != "check_bg")  # choose backgrounds + the backgrounds of the face photos
    pos = (lab == "face") & (setting == "default")  # faces the detectors find at their default thresholds
    table = []
    for m in MODELS:
        for name, fn in STATISTICS.items():
            v = fn(cols[f"peaks_{m}"], cols["det_score"])
            top = float(v[neg].max())
            t = threshold_above(top)
            row = {"model": m, "statistic": name, "highest_nonface": round(top, 4), "threshold": t,
                   "faces": int(pos.sum()), "faces_kept": int((v[pos] >= t).sum()),
                   "faces_kept_pct": round(100.0 * float((v[pos] >= t).mean()), 3)}
            for d in DETECTORS:
                sel = pos & (det == d)
                row[f"faces_kept_pct_{d}"] = round(100.0 * float((v[sel] >= t).mean()), 3)
            table.append(row)
    kept = {s: sum(r["faces_kept"] for r in table if r["statistic"] == s) for s in LANDMARK_ONLY}
    total = sum(r["faces"] for r in table if r["statistic"] == "mean")
    best = max(kept, key=kept.get)
    chosen = "mean" if 100.0 * (kept[best] - kept["mean"]) / total <= PREFER_WITHIN else best
    thresholds = {r["model"]: r["threshold"] for r in table if r["statistic"] == chosen}
    keeps = all(r["faces_kept_pct"] >= 99.5 for r in table if r["statistic"] == chosen)
    return {"statistic": chosen, "thresholds": thresholds, "keeps_99_5_pct": keeps, "table": table,
            "rule": (f"per model: the highest score of a non-face (choose backgrounds and the face photos' backgrounds, "
                     f"both detectors, default and low threshold) + {MARGIN}, rounded up to 0.01; the statistic: the plain "
                     f"mean (FaceLandmarks.score) unless a landmark-only statistic keeps more than {PREFER_WITHIN} % more "
                     f"faces (a detector score is not there for tracks or given boxes)")}


def distributions(cols: dict[str, np.ndarray], stat: str) -> list[dict]:
    """The presence score of faces and non-faces, per model, detector and detection threshold."""
    fn = STATISTICS[stat]
    lab, sets, det, setting = cols["label"], cols["set"], cols["detector"], cols["setting"]
    rows = []
    for m in MODELS:
        v = fn(cols[f"peaks_{m}"], cols["det_score"])
        for d in DETECTORS:
            for s in ("default", "low"):
                sel = (det == d) & (setting == s)
                f = v[sel & (lab == "face")]
                n_choose = v[sel & (lab == "nonface") & (sets != "check_bg")]
                n_check = v[sel & (lab == "nonface") & (sets == "check_bg")]
                rows.append({"model": m, "detector": d, "setting": s, "faces": len(f),
                             "faces_q0.1_0.5_1_5_50": _q(f, (0.1, 0.5, 1, 5, 50)),
                             "faces_lowest": round(float(f.min()), 4) if len(f) else None,
                             "nonfaces_choose": len(n_choose), "nonfaces_choose_q50_90_max": _q(n_choose, (50, 90, 100)),
                             "nonfaces_check": len(n_check), "nonfaces_check_q50_90_max": _q(n_check, (50, 90, 100)),
                             "aside": int((sel & (lab == "aside")).sum())})
    return rows


def by_source(cols: dict[str, np.ndarray], stat: str) -> dict[str, dict]:
    """The highest non-face score per background source (both detectors, both thresholds), per model."""
    fn = STATISTICS[stat]
    neg = cols["label"] == "nonface"
    out = {}
    for m in MODELS:
        v = fn(cols[f"peaks_{m}"], cols["det_score"])
        out[m] = {str(s): {"nonfaces": int((neg & (cols["source"] == s)).sum()),
                           "highest": round(float(v[neg & (cols["source"] == s)].max()), 4)}
                  for s in sorted(set(cols["source"][neg].tolist()))}
    return out


# ------------------------------------------------------------------------------------------ the check
def check(sets: dict[str, list[tuple[str, np.ndarray]]], test_full: Path, progress: bool = True) -> dict:
    """The default Landmarker, filter on (``min_face_presence="auto"``) and off (``None``), for both models behind
    both detectors: faces returned on the backgrounds, recall on ``test_full``, the faces of ``docs/group.jpg``."""
    import cv2

    from benchmarks.suites.end_to_end import match_faces
    from pipnet_edge.data.annotations import load_300w_folder
    from pipnet_edge.runtime import Landmarker

    records = sorted(load_300w_folder(test_full), key=lambda r: str(r.image_path))
    photos = [(r.name, cv2.imread(str(r.image_path)), np.asarray(r.points, np.float32)) for r in records]
    group = cv2.imread(str(ROOT / "docs" / "group.jpg"))
    out = []
    for m in MODELS:
        for d in DETECTORS:
            lms = {"on": Landmarker(m, detector=d, num_threads=1), "off": Landmarker(m, detector=d, num_threads=1,
                                                                                      min_face_presence=None)}
            row = {"model": m, "detector": d, "min_face_presence": lms["on"].min_face_presence}
            for name, items in sets.items():
                for k, lm in lms.items():
                    got = [len(lm.detect(img, color_order="BGR")) for _, img in items]
                    row[f"{name}_photos"] = len(items)
                    row[f"{name}_faces_{k}"] = int(sum(got))
                    row[f"{name}_photos_with_faces_{k}"] = int(sum(g > 0 for g in got))
            for k, lm in lms.items():
                found, extra, scores, missed = 0, 0, [], []
                for name, img, pts in photos:
                    res = lm.detect(img, color_order="BGR")
                    matches, unmatched = match_faces([f.points for f in res], [pts])
                    extra += len(unmatched)
                    if matches:
                        found += 1
                        scores.append(res[matches[0][0]].score)
                    else:
                        missed.append(name)
                row[f"test_full_found_{k}"] = found
                row[f"test_full_recall_{k}_pct"] = round(100.0 * found / len(photos), 2)
                row[f"test_full_unmatched_{k}"] = extra
                row[f"test_full_missed_{k}"] = missed
                if k == "off":
                    row["test_full_lowest_score"] = round(float(min(scores)), 4)
                row[f"group_faces_{k}"] = len(lm.detect(group, color_order="BGR"))
            row["test_full_photos"] = len(photos)
            if d == DETECTORS[0]:  # turned photos, behind the default detector
                row["turned"] = turned(lms, photos)
            for lm in lms.values():
                lm.close()
            out.append(row)
            if progress:
                print(f"  check {m}+{d}: test_full {row['test_full_found_on']}/{len(photos)} (off "
                      f"{row['test_full_found_off']}), group {row['group_faces_on']} (off {row['group_faces_off']}), "
                      f"check backgrounds {row['check_faces_on']} faces (off {row['check_faces_off']})", file=sys.stderr)
    return {"rows": out, "test_full": portable(test_full), "group": "docs/group.jpg",
            "rule": "test_full: a returned face is the annotated one when their landmark boxes' IoU >= 0.5 (end_to_end's "
                    "match_faces); Landmarker defaults (max_faces 8, each detector's default threshold), 1 thread"}


ROLLS = (30, 45)  # degrees; each test_full photo turned about its face by + and - each


def turned(lms: dict, photos: list) -> dict:
    """Faces found on the ``test_full`` photos turned about their face (``rotation_probe``'s turn: the face's centre,
    mirror-padded) by +-30 and +-45 degrees, filter on and off: what the filter costs on rolled faces."""
    import cv2

    from benchmarks.suites.end_to_end import match_faces

    out = {}
    for angle in ROLLS:
        found = {k: 0 for k in lms}
        for _, img, pts in photos:
            c = pts.mean(0)
            for a in (angle, -angle):
                m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), a, 1.0)
                im = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT_101)
                truth = np.c_[pts, np.ones(len(pts))] @ m.T
                for k, lm in lms.items():
                    res = lm.detect(im, color_order="BGR")
                    found[k] += bool(match_faces([f.points for f in res], [truth])[0])
        out[str(angle)] = {"faces": 2 * len(photos), **{f"found_{k}": v for k, v in found.items()}}
    return out


# ------------------------------------------------------------------------------------------ the result
def model_files() -> list[Path]:
    from pipnet_edge.assets.registry import CARDS
    from pipnet_edge.runtime.detectors.blazeface import blazeface_model_path
    from pipnet_edge.runtime.detectors.yunet import yunet_model_path

    return [CARDS[m].path("int8") for m in MODELS] + [yunet_model_path(), blazeface_model_path("short")]


def settings(per_source: int, train: Path) -> dict:
    return {"backgrounds": {**BACKGROUNDS, PROCEDURAL: "benchmarks/multiface.make_background"},
            "backgrounds_from": "scikit-image 0.26.0 sample data (skimage/data), pip install scikit-image==0.26.0",
            "variants_per_source": per_source, "sizes": SIZES, "seeds": SEEDS, "face_seed": FACE_SEED,
            "face_height_of_longer_side": FACE_HEIGHT, "faces_per_photo": FACES_PER_PHOTO,
            "detectors": DETECTORS, "low_detection_confidence": LOW_DETECTION_CONFIDENCE, "models": MODELS,
            "margin": MARGIN, "train": portable(train)}


def _fingerprint(sett: dict) -> str:
    h = hashlib.sha256(json.dumps(sett, sort_keys=True, default=str).encode())
    for name, digest in model_hashes(model_files()).items():
        h.update(f"{name}:{digest}".encode())
    return h.hexdigest()[:16]


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.2f}" if b else "-"


def render_markdown(envelope: dict) -> str:
    """The tables of a face_presence result: the choice, the score distributions and the check."""
    res = envelope["results"]
    ch, n = res["choice"], res["counts"]
    md = [(f"Photos: {n['choose_bg']} + {n['check_bg']} face-free backgrounds (choose / check sets), {n['face_photos']} "
           f"photos with {n['pasted_faces']} pasted training faces, {n['training_crops']} training crops. A detection is a "
           "face when its centre lies in an annotated face's landmark box and its longer side is 0.5-2x the box's."), "",
          f"**Chosen**: statistic `{ch['statistic']}`, thresholds " + ", ".join(f"`{m}` {t}" for m, t in ch["thresholds"].items())
          + f". Rule: {ch['rule']}.", "",
          "Candidate statistics (faces: detected at the detectors' default thresholds, both detectors):", "",
          "| model | statistic | highest non-face | threshold | faces kept | % | % YuNet | % BlazeFace short |",
          "|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['model']} | {r['statistic']} | {r['highest_nonface']:.4f} | {r['threshold']:.2f} | {r['faces_kept']} / "
           f"{r['faces']} | {r['faces_kept_pct']:.3f} | {r['faces_kept_pct_yunet']:.3f} | "
           f"{r['faces_kept_pct_blazeface-short']:.3f} |" for r in ch["table"]]
    md += ["", (f"The presence score (`{ch['statistic']}`) per model, detector and detection threshold (`low`: "
                f"{res['settings']['low_detection_confidence']}); quantiles of faces 0.1 / 0.5 / 1 / 5 / 50 %, of "
                "non-faces 50 / 90 / 100 %:"), "",
           ("| model | detector | threshold | faces | faces' quantiles | lowest face | non-faces (choose) | their quantiles | "
            "non-faces (check) | their quantiles | part of a face / unannotated |"), "|---|---|---|---|---|---|---|---|---|---|---|"]

    def fmt(q):
        return " / ".join("-" if v is None else f"{v:.3f}" for v in q)

    md += [f"| {r['model']} | {r['detector']} | {r['setting']} | {r['faces']} | {fmt(r['faces_q0.1_0.5_1_5_50'])} | "
           f"{r['faces_lowest']:.3f} | {r['nonfaces_choose']} | {fmt(r['nonfaces_choose_q50_90_max'])} | {r['nonfaces_check']} | "
           f"{fmt(r['nonfaces_check_q50_90_max'])} | {r['aside']} |" for r in res["distributions"]]
    md += ["", "Highest non-face score per background source (both sets, both detectors, both thresholds):", "",
           "| source | non-faces | " + " | ".join(f"highest, `{m}`" for m in res["by_source"]) + " |",
           "|---|---|" + "---|" * len(res["by_source"])]
    first = next(iter(res["by_source"].values()))
    md += [f"| {s} | {first[s]['nonfaces']} | " + " | ".join(f"{res['by_source'][m][s]['highest']:.3f}" for m in res["by_source"])
           + " |" for s in first]
    chk = res.get("check")
    if chk:
        md += ["", f"Check with the chosen default (`min_face_presence='auto'`) and with the filter off; {chk['rule']}:", "",
               ("| model | detector | threshold | test_full found (off) | recall % (off) | lowest found face's score | "
                "test_full other faces (off) | group.jpg faces (off) | check backgrounds: faces (off) | "
                "choose backgrounds: faces (off) |"),
               "|---|---|---|---|---|---|---|---|---|---|"]
        md += [f"| {r['model']} | {r['detector']} | {r['min_face_presence']} | {r['test_full_found_on']} / "
               f"{r['test_full_photos']} ({r['test_full_found_off']}) | {r['test_full_recall_on_pct']:.2f} "
               f"({r['test_full_recall_off_pct']:.2f}) | {r['test_full_lowest_score']:.3f} | {r['test_full_unmatched_on']} "
               f"({r['test_full_unmatched_off']}) | {r['group_faces_on']} "
               f"({r['group_faces_off']}) | {r['check_faces_on']} on {r['check_photos']} photos ({r['check_faces_off']}) | "
               f"{r['choose_faces_on']} ({r['choose_faces_off']}) |" for r in chk["rows"]]
        md += ["", ("test_full other faces: returned faces that are not the annotated one (each photo has one annotated "
                    "face): other people in the photo and false detections, not told apart.")]
        rows = [r for r in chk["rows"] if "turned" in r]
        if rows:
            md += ["", ("Rolled faces: the test_full photos turned about their face by + and - the angle, YuNet; found "
                        "with the filter on (off):"), "", "| model | " + " | ".join(f"{a} degrees" for a in rows[0]["turned"]) + " |",
                   "|---|" + "---|" * len(rows[0]["turned"])]
            md += [f"| {r['model']} | " + " | ".join(f"{t['found_on']} / {t['faces']} ({t['found_off']})"
                                                    for t in r["turned"].values()) + " |" for r in rows]
    return "\n".join(md) + "\n"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks face_presence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", default=str(TRAIN), help="the 300W training faces (default: %(default)s)")
    p.add_argument("--test-full", default=str(TEST_FULL), help="the whole test photos, for the check only")
    p.add_argument("--per-source", type=int, default=VARIANTS_PER_SOURCE, help="background photos per source and set")
    p.add_argument("--no-check", action="store_true", help="the choice only")
    p.add_argument("--fresh", action="store_true", help="measure again even when the cached detections are current")
    p.add_argument("--out", default=str(result_path("face_presence")), help="the result file (default: %(default)s)")
    args = p.parse_args(argv)
    date, train = utc_now(), Path(args.train)
    sett = settings(args.per_source, train)
    fp = _fingerprint(sett)
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / ".gitignore").write_text("# per-detection scores measured by benchmarks/suites/face_presence.py\n*\n")
    cache = CACHE / f"detections_{fp}.npz"
    if cache.is_file() and not args.fresh:
        cols = dict(np.load(cache))
        print(f"detections from {cache} (same settings and model files)", file=sys.stderr)
    else:
        cols = collect(train, args.per_source)
        np.savez_compressed(cache, **cols)
    choice = choose(cols)
    sources = background_sources()
    sets = {name: list(background_variants(name, sources, args.per_source)) for name in SEEDS}
    lab = cols["label"]
    counts = {"choose_bg": len(sets["choose"]), "check_bg": len(sets["check"]),
              "face_photos": len(set(cols["photo"][cols["set"] == "faces"].tolist())),
              "pasted_faces": int(cols["faces_total"][0]), "training_crops": int(cols["faces_total"][1]),
              "detections": {f"{d} {s}": {lbl: int(((cols["detector"] == d) & (cols["setting"] == s) & (lab == lbl)).sum())
                                          for lbl in LABELS} for d in DETECTORS for s in ("default", "low")}}
    result = {"what": "the face presence score (min_face_presence): chosen on training faces and face-free backgrounds, "
                      "checked on test_full, docs/group.jpg and held-out backgrounds",
              "settings": sett, "counts": counts, "choice": choice,
              "distributions": distributions(cols, choice["statistic"]), "by_source": by_source(cols, choice["statistic"])}
    from pipnet_edge.runtime.presence import MIN_FACE_PRESENCE

    result["runtime_default"] = dict(MIN_FACE_PRESENCE)
    result["runtime_default_agrees"] = all(MIN_FACE_PRESENCE.get(m) == t for m, t in choice["thresholds"].items())
    print(f"chosen: {choice['statistic']} {choice['thresholds']}; runtime's default {MIN_FACE_PRESENCE}", file=sys.stderr)
    if not args.no_check:
        result["check"] = check(sets, Path(args.test_full))
    write_result(make_envelope("face_presence", command_line("face_presence", argv), model_hashes(model_files()), result,
                               date=date), Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End to end on whole photos: every face's 68 landmarks from a photo, ours beside MediaPipe and dlib.

    bash benchmarks/peers/get_peers.sh                       # once: dlib (our venv) + mediapipe's own venv
    python -m benchmarks end_to_end
    python -m benchmarks end_to_end --sets group --limit 5 --detectors yunet --threads 1 --no-peers --out /tmp/e2e.json

Photo sets (one run goes over all of them, every configuration on the same photos):

* ``test_full``: the 554 whole 300W test photos (``../shared/data/300w/test_full``, longest side <= 640 px).
  Only ONE face per file is annotated, and some photos hold other people, so a returned face that
  matches no annotation is counted as an "unannotated/extra face", not as a false detection.
* ``group``: 30 synthetic 1920 x 1080 / 1080 x 1350 canvases with 2-8 pasted 300W test faces each, face
  heights 8-35 % of the longer side; ``small``: 15 canvases of 40-100 px faces (``benchmarks/multiface.py``
  builds both into the git-ignored ``benchmarks/.multiface/``). Every face is known there: a returned face
  that matches none is a false detection.

Configurations: our ``default`` and ``lite`` models x each detector (``yunet``, ``blazeface-short``,
``blazeface-full``, ``haar``) x 1 and 2 threads (``Landmarker(model, detector=D, num_threads=T,
max_faces=20)``), on the ``small`` set also with ``min_face_size=40``; the peers' whole pipelines
(``benchmarks/peers/pipelines.py``): MediaPipe FaceMesh 0.10.14 (``solutions.face_mesh``, static images,
``max_num_faces=20``) as is and pinned to one core, and dlib's HOG detector (upsample 0 and 1) + its
68-point predictor. A configuration or peer that cannot be opened is skipped, and the output says why.

Per set and configuration:

* matching: a returned face matches an annotated face when the box of its 68 predicted points and the
  annotated landmark box overlap with IoU >= 0.5; greedy, one to one, best IoU first.
* faces found (count, %), false detections / unannotated extra faces (total, per photo);
* NME on the found faces (``pipnet_edge.metrics.summarize``, 300W outer-eye-corner normalisation, %),
  next to the ground-truth-box NME of our ``default`` and ``lite`` models on the SAME faces
  (``lm.detect(img, boxes=gt_boxes)``, untimed): the price of the detector's box vs the 300W protocol;
* median and p90 ms per photo, from the decoded BGR array to every face's points in photo pixels
  (the photo is read from disk before the clock starts; MediaPipe's worker times BGR->RGB +
  ``process()`` + point conversion itself). Every configuration is warmed up on the set's first photo;
  the configurations then take turns photo by photo (the order rotates), so load on the machine hits
  them alike. ``--repeat N`` times each call N times per photo and keeps the per-photo median.
* ours also split by stage, as the Landmarker times itself (``lm.detect(img, timing=t)``: face detector,
  crop, model, decode, points back to the photo; ``pipnet_edge.evaluation.timing.time_calls(..., stages=True)``),
  median ms per photo of each stage.

Writes ``benchmarks/results/end_to_end.json`` (``--out``: another path; the result envelope of
``benchmarks.envelope``: all rows, skipped configurations, settings), ``end_to_end.md`` (the tables rendered from it)
and ``end_to_end.png`` (NME on found faces vs median ms per photo) beside it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipnet_edge.evaluation.timing import time_calls
from pipnet_edge.metrics import summarize
from pipnet_edge.schemes import get_scheme

log = logging.getLogger("end_to_end")

from benchmarks import SHARED
from benchmarks.envelope import command_line, make_envelope, model_hashes, read_result, result_path, utc_now, write_result

TEST_FULL = SHARED / "data" / "300w" / "test_full"
SETS = ("test_full", "group", "small")
MODELS = ("default", "lite")  # the bundled runtime models
DETECTORS = ("yunet", "blazeface-short", "blazeface-full", "haar")
MAX_FACES = 20  # ours (max_faces) and MediaPipe (max_num_faces) alike; dlib's HOG has no limit
IOU_MATCH = 0.5
SCHEME = "300w-68"
STAGES = ("detect_ms", "crop_ms", "model_ms", "decode_ms", "warp_ms")  # Landmarker.detect(..., timing=) keys


NOTES = (
    ("test_full: each file has ONE annotated face; a returned face matching none is an unannotated/extra face "
     "(another person in the photo, or a false detection: not told apart). Some Helen photos appear several times, "
     "once per annotated person."),
    "Canvases (group, small): every face is annotated; a returned face matching none is a false detection.",
    ("Threads: ours = Landmarker(num_threads=T), which sets the model's LiteRT threads and the YuNet / BlazeFace "
     "detectors' threads; the Haar cascade and the crop / colour conversions run on OpenCV's own pool (its size is "
     "in the row), so Haar rows time alike at 1 and 2 threads. MediaPipe's Python solution API exposes no thread "
     "setting: 'as is' lets it use every core, '1 core' pins its process to one core (sched_setaffinity). dlib is "
     "single-threaded."),
    "Ours and MediaPipe return at most 20 faces per photo (max_faces / max_num_faces); dlib has no limit.",
    ("dlib's 68-point model was trained on dlib's ibug_300W_large_face_landmark_dataset (300-W with mirrored images, "
     "per its author); whether that excluded the 300W common test faces used here is not documented, so its NME "
     "here may be optimistic. Its points are whole pixels."),
    ("MediaPipe's times are measured inside its worker process (BGR->RGB + process() + 468->68 points); ours and "
     "dlib's in this process, from the decoded BGR array to the points."),
)


# ------------------------------------------------------------------------------------------ photos
@dataclass
class Photo:
    """One benchmark photo: the file, the annotated faces' ``(68, 2)`` points (0-based), and whether every
    face in it is annotated (canvases) or only one (test_full)."""

    path: Path
    faces: list[np.ndarray]
    set: str
    all_annotated: bool

    @property
    def name(self) -> str:
        return self.path.stem


def load_photos(set_name: str, limit: int = 0, source: Path = TEST_FULL) -> list[Photo]:
    """The photos of one set (``test_full`` or a :mod:`multiface` set, generated first if needed)."""
    if set_name == "test_full":
        from pipnet_edge.data.annotations import load_300w_folder

        recs = load_300w_folder(source)
        photos = [Photo(r.image_path, [np.asarray(r.points, np.float32)], set_name, False) for r in recs]
    else:
        from benchmarks import multiface

        folder = multiface.ensure_set(set_name, source)
        photos = [Photo(c.image_path, c.faces, set_name, True) for c in multiface.load_set(folder)]
    return photos[:limit] if limit else photos


# ---------------------------------------------------------------------------------------- matching
def points_box(points: np.ndarray) -> np.ndarray:
    """``[x0, y0, x1, y1]`` of a ``(N, 2)`` point set."""
    p = np.asarray(points, np.float64)
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a (P, 4)`` with every box in ``b (G, 4)``: ``(P, G)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]).clip(0) * (a[:, 3] - a[:, 1]).clip(0)
    area_b = (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_faces(pred: Sequence[np.ndarray], truth: Sequence[np.ndarray], thr: float = IOU_MATCH
                ) -> tuple[list[tuple[int, int, float]], list[int]]:
    """Greedy one-to-one matching of returned faces to annotated faces by the IoU of their point boxes.

    Returns ``(matches, unmatched)``: ``matches`` holds ``(pred index, truth index, IoU)`` with IoU >= ``thr``,
    best IoU first; ``unmatched`` the indices of returned faces that matched nothing (false detections
    where every face is annotated).
    """
    if len(pred) == 0:
        return [], []
    if len(truth) == 0:
        return [], list(range(len(pred)))
    iou = iou_matrix(np.stack([points_box(p) for p in pred]), np.stack([points_box(t) for t in truth]))
    order = np.argsort(-iou, axis=None, kind="stable")
    used_p, used_t, matches = set(), set(), []
    for flat in order:
        i, j = np.unravel_index(flat, iou.shape)
        if iou[i, j] < thr:
            break
        if i in used_p or j in used_t:
            continue
        used_p.add(int(i))
        used_t.add(int(j))
        matches.append((int(i), int(j), float(iou[i, j])))
    return matches, [i for i in range(len(pred)) if i not in used_p]


# --------------------------------------------------------------------------------------- pipelines
@dataclass(frozen=True)
class OurConfig:
    model: str
    detector: str
    threads: int
    min_face_size: float | None = None
    refine: bool = False

    @property
    def key(self) -> str:
        mfs = f" min_face_size={self.min_face_size:g}" if self.min_face_size is not None else ""
        return f"{self.model}+{self.detector}{' refine' if self.refine else ''} {self.threads}t{mfs}"


class OurPipeline:
    """Our Landmarker (or any object with its ``detect(image, color_order=, timing=)``) as a benchmark pipeline."""

    kind = "ours"

    def __init__(self, landmarker: Any, config: OurConfig, threads_label: str | None = None, label: str | None = None):
        self.lm = landmarker
        self.config = config
        self.key = config.key
        self.threads = threads_label or f"{config.threads}"
        self.label = label or config.key

    def run(self, image_bgr: np.ndarray, path: Any = None, repeat: int = 1) -> tuple[list[np.ndarray], list[float]]:
        """Every face's points (first call) and each call's ms; the runtime's own per-stage ms of the calls
        (``Landmarker.detect(..., timing=)``: ``detect_ms``, ``crop_ms``, ``model_ms``, ``decode_ms``,
        ``warp_ms``) are left in :attr:`last_stages` (stage -> ms per call)."""
        t = time_calls(lambda timing: [f.points for f in self.lm.detect(image_bgr, color_order="BGR", timing=timing).faces],
                       max(1, int(repeat)), warmup=0, stages=True)
        self.last_stages = {k: list(v.samples_ms) for k, v in t.stages.items()}
        return t.result, list(t.samples_ms)

    def close(self) -> None:
        pass


def _threads_label(lm: Any, cfg: OurConfig) -> str:
    """What the configuration's thread setting means: model threads, and the detector's, if it has its own."""
    det = getattr(lm, "detector", None)
    dt = getattr(det, "num_threads", None) if det is not None else None
    if dt is not None:
        return f"{cfg.threads} (model {cfg.threads}, detector {dt})"
    try:
        import cv2

        cvt = cv2.getNumThreads()
    except Exception:  # noqa: BLE001
        cvt = "?"
    return f"{cfg.threads} (model {cfg.threads}; detector: OpenCV's pool, {cvt} threads)"


def open_ours(cfg: OurConfig) -> OurPipeline:
    """A Landmarker for the configuration; raises whatever the Landmarker raises (the caller skips it)."""
    from pipnet_edge.runtime import Landmarker

    kw: dict[str, Any] = {"detector": cfg.detector, "num_threads": cfg.threads, "max_faces": MAX_FACES}
    if cfg.min_face_size is not None:
        kw["min_face_size"] = cfg.min_face_size
    if cfg.refine:
        kw["refine"] = True
    lm = Landmarker(cfg.model, **kw)
    lm.detect(np.zeros((64, 64, 3), np.uint8), color_order="BGR")  # surface lazy detector errors now
    label = f"{cfg.model} + {cfg.detector}" + (", refine" if cfg.refine else "")
    if cfg.min_face_size is not None:
        label += f", min_face_size {cfg.min_face_size:g}"
    pipe = OurPipeline(lm, cfg, _threads_label(lm, cfg), label)
    pipe.artifact = Path(str(getattr(lm, "path", cfg.model))).name
    return pipe


def our_configs(models: Sequence[str], detectors: Sequence[str], threads: Sequence[int],
                min_face_sizes: Sequence[float] = (), refine: Sequence[str] = ()) -> list[OurConfig]:
    """Every model x detector x threads; ``refine`` detectors again with ``refine=True``; then each
    ``min_face_sizes`` for the detectors that take that option."""
    from pipnet_edge.runtime.detectors import DETECTORS as REGISTRY

    out = [OurConfig(m, d, t) for m in models for d in detectors for t in threads]
    out += [OurConfig(m, d, t, refine=True) for m in models for d in detectors if d in refine for t in threads]
    takes_size = [d for d in detectors if d not in REGISTRY or "min_face_size" in REGISTRY[d].options]
    out += [OurConfig(m, d, t, s) for s in min_face_sizes for m in models for d in takes_size for t in threads]
    return out


def open_gt_refs(models: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """One detector-less Landmarker per model for the ground-truth-box reference (untimed)."""
    from pipnet_edge.runtime import Landmarker

    refs, skipped = {}, {}
    for m in models:
        try:
            refs[m] = Landmarker(m, detector=None, num_threads=2)
        except Exception as exc:  # noqa: BLE001
            skipped[f"gt-box {m}"] = repr(exc)
    return refs, skipped


# ---------------------------------------------------------------------------------------- core loop
@dataclass
class Tally:
    """What one pipeline did on one set."""

    found_pred: list[np.ndarray] = field(default_factory=list)  # matched predictions (68, 2)
    found_truth: list[np.ndarray] = field(default_factory=list)  # their annotations
    found_ref: dict[str, list[np.ndarray]] = field(default_factory=dict)  # GT-box predictions of our models, same faces
    ious: list[float] = field(default_factory=list)
    extra: int = 0
    ms: list[float] = field(default_factory=list)  # per photo (median of its repeats)
    stage_ms: list[dict[str, float]] = field(default_factory=list)  # ours: per photo, stage -> median ms of its repeats
    photos: int = 0
    faces_returned: int = 0
    errors: list[str] = field(default_factory=list)


def run_set(photos: Sequence[Photo], pipelines: Sequence[Any], gt_refs: dict[str, Any] | None = None, repeat: int = 1,
            warmup: int = 2, read: Callable[[Path], np.ndarray] | None = None, progress: bool = True,
            desc: str = "") -> dict[str, Tally]:
    """Run every pipeline on every photo (configurations interleaved photo by photo, order rotating)."""
    if read is None:
        import cv2

        def read(p: Path) -> np.ndarray:
            img = cv2.imread(str(p))
            if img is None:
                raise FileNotFoundError(f"cannot read {p}")
            return img
    gt_refs = gt_refs or {}
    tallies = {p.key: Tally(found_ref={m: [] for m in gt_refs}) for p in pipelines}
    if not photos or not pipelines:
        return tallies
    first = read(photos[0].path)
    for pipe in pipelines:  # warm-up (untimed), on a photo of this set's size
        for _ in range(warmup):
            pipe.run(first, photos[0].path, 1)
    it: Any = range(len(photos))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=desc or photos[0].set, unit="photo", dynamic_ncols=True)
    for i in it:
        ph = photos[i]
        img = read(ph.path)
        truth = ph.faces
        refs = {}
        if truth:
            boxes = np.stack([points_box(t) for t in truth]).astype(np.float32)
            for m, lm in gt_refs.items():
                try:
                    res = lm.detect(img, boxes=boxes, color_order="BGR")
                    refs[m] = [f.points for f in res.faces]
                except Exception as exc:  # noqa: BLE001 - the reference is a side figure: note it, go on
                    log.warning("ground-truth-box reference %s failed on %s: %r", m, ph.name, exc)
                    refs[m] = [np.full((len(t), 2), np.nan) for t in truth]
        k = i % len(pipelines)
        for pipe in list(pipelines[k:]) + list(pipelines[:k]):
            t = tallies[pipe.key]
            try:
                faces, ms = pipe.run(img, ph.path, repeat)
            except Exception as exc:  # noqa: BLE001 - one failing photo must not end the run
                t.errors.append(f"{ph.name}: {exc!r}")
                continue
            t.photos += 1
            t.ms.append(float(np.median(ms)))
            stages = getattr(pipe, "last_stages", None)
            if stages is not None:
                t.stage_ms.append({k: float(np.median(v)) for k, v in stages.items()})
            t.faces_returned += len(faces)
            matches, unmatched = match_faces(faces, truth)
            t.extra += len(unmatched)
            for pi, gi, iou in matches:
                t.found_pred.append(np.asarray(faces[pi], np.float64))
                t.found_truth.append(np.asarray(truth[gi], np.float64))
                t.ious.append(iou)
                for m in refs:
                    t.found_ref[m].append(np.asarray(refs[m][gi], np.float64))
    return tallies


def _nme(pred: list[np.ndarray], truth: list[np.ndarray]) -> tuple[float | None, float | None]:
    """NME % and failure rate % (NME > 10 %) of the faces with finite predictions (``pipnet_edge.metrics``)."""
    keep = [i for i, p in enumerate(pred) if np.isfinite(p).all()]
    if not keep:
        return None, None
    s = summarize(np.stack([pred[i] for i in keep]), np.stack([truth[i] for i in keep]), get_scheme(SCHEME))
    return round(s.nme, 3), round(s.failure_rate, 2)


def summarize_tally(t: Tally, photos: Sequence[Photo]) -> dict[str, Any]:
    """A result row's figures for one pipeline on one set."""
    n_photos = len(photos)
    gt_faces = sum(len(p.faces) for p in photos)
    all_ann = all(p.all_annotated for p in photos) if photos else True
    nme, fr = _nme(t.found_pred, t.found_truth)
    row: dict[str, Any] = {
        "photos": n_photos,
        "photos_run": t.photos,
        "gt_faces": gt_faces,
        "found": len(t.found_pred),
        "found_pct": round(100 * len(t.found_pred) / gt_faces, 2) if gt_faces else None,
        "extra": t.extra,
        "extra_per_photo": round(t.extra / t.photos, 3) if t.photos else None,
        "extra_kind": "false detections" if all_ann else "unannotated/extra faces",
        "nme_found": nme,
        "fr10_found": fr,
        "mean_iou_found": round(float(np.mean(t.ious)), 3) if t.ious else None,
        "ms_median": round(float(np.median(t.ms)), 2) if t.ms else None,
        "ms_p90": round(float(np.percentile(t.ms, 90)), 2) if t.ms else None,
        "ms_mean": round(float(np.mean(t.ms)), 2) if t.ms else None,
    }
    if t.stage_ms:  # a stage a photo did not run (no face: no crop, model ...) counts 0 ms there
        keys = [k for k in STAGES if any(k in d for d in t.stage_ms)]
        keys += sorted({k for d in t.stage_ms for k in d} - set(keys))
        row["stage_ms_median"] = {k: round(float(np.median([d.get(k, 0.0) for d in t.stage_ms])), 3) for k in keys}
    for m, ref in t.found_ref.items():
        row[f"nme_gtbox_{m}_same_faces"] = _nme(ref, t.found_truth)[0]
    if t.errors:
        row["errors"] = t.errors[:10]
        row["error_count"] = len(t.errors)
    return row


# ----------------------------------------------------------------------------------------- output
def _fmt(v: float | None, d: int = 3) -> str:
    return "-" if v is None else f"{v:.{d}f}"


def render_markdown(envelope: dict) -> str:
    """The tables of an end_to_end result: per photo set, every configuration's faces found, NME and time, and
    where our time goes by stage; the notes and what was skipped."""
    res = envelope["results"]
    meta, rows, skipped = res["settings"], res["rows"], res["skipped"]
    md = [(f"Load average {meta['loadavg_start']} at start, {meta['loadavg_end']} at the end; "
           f"{meta['elapsed_s']:.0f} s."), "",
          ("Matching: IoU >= 0.5 between the box of the 68 returned points and the annotated landmark box, greedy, "
           "one to one. NME: 300W, outer eye corners, %, on the faces found; 'GT-box NME' is our model with the "
           "annotated landmark box as input (the 300W protocol) on the same faces. ms: per photo, from the decoded "
           f"BGR array to every face's points (median of {meta['repeat']} call(s) per photo; median and p90 over photos).")]
    for s in meta["sets"]:
        srows = [r for r in rows if r["set"] == s]
        if not srows:
            continue
        r0 = srows[0]
        extra = "unannotated/extra faces (total, per photo)" if r0["extra_kind"] != "false detections" else \
            "false detections (total, per photo)"
        md += ["", f"### {s}: {r0['photos']} photos, {r0['gt_faces']} annotated faces"
               + (" (one per photo; other people in a photo are not annotated)" if s == "test_full" else ""), "",
               (f"| configuration | threads | found (%) | {extra} | NME found % | GT-box NME default / lite, same faces | "
                "ms median (p90) |"), "|---|---|---|---|---|---|---|"]
        for r in srows:
            f = _fmt
            md.append(f"| {r['label']} | {r['threads']} | {r['found']} ({f(r['found_pct'], 1)}) | "
                      f"{r['extra']} ({f(r['extra_per_photo'], 2)}) | {f(r['nme_found'])} | "
                      f"{f(r.get('nme_gtbox_default_same_faces'))} / {f(r.get('nme_gtbox_lite_same_faces'))} | "
                      f"{f(r['ms_median'], 1)} ({f(r['ms_p90'], 1)}) |")
        staged = [r for r in srows if r.get("stage_ms_median")]
        if staged:
            md += ["", f"Where our time goes on {s} (median ms per photo of each stage, from `Landmarker.detect(..., timing=)`):",
                   "", "| configuration | threads | " + " | ".join(k[:-3] for k in STAGES) + " |",
                   "|---|---|" + "---|" * len(STAGES)]
            md += [f"| {r['label']} | {r['threads']} | " + " | ".join(_fmt(r["stage_ms_median"].get(k), 2) for k in STAGES) + " |"
                   for r in staged]
    md += ["", "Notes:", ""] + [f"- {n}" for n in res["notes"]]
    if skipped:
        md += ["", "Skipped:", ""] + [f"- {k}: {v}" for k, v in skipped.items()]
    return "\n".join(md) + "\n"


def detector_file(name: str) -> Path | None:
    """The model file a bundled detector loads (``None``: none, or not a bundled detector)."""
    if name == "yunet":
        from pipnet_edge.runtime.detectors.yunet import yunet_model_path

        return yunet_model_path()
    if name.startswith("blazeface-"):
        from pipnet_edge.runtime.detectors.blazeface import blazeface_model_path

        return blazeface_model_path(name[len("blazeface-"):])
    if name == "haar":
        import cv2

        return Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml" if hasattr(cv2, "data") else None
    return None


def plot(rows: list[dict], sets: Sequence[str], path: Path) -> None:
    """NME on found faces vs median ms per photo, one marker per configuration; the group set is the main panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [s for s in ("group", "test_full", "small") if s in sets]
    if not order:
        return
    fig = plt.figure(figsize=(15, 8.5), dpi=110)
    if len(order) == 1:
        axes = [fig.add_subplot(1, 1, 1)]
    else:
        gs = fig.add_gridspec(len(order) - 1, 2, width_ratios=(1.6, 1))
        axes = [fig.add_subplot(gs[:, 0])] + [fig.add_subplot(gs[i, 1]) for i in range(len(order) - 1)]
    markers = {"yunet": "o", "blazeface-short": "s", "blazeface-full": "D", "haar": "^"}
    colours = {"default": "tab:blue", "lite": "tab:orange"}
    peer_style = {"mediapipe": ("P", "black"), "mediapipe-1core": ("P", "dimgray"),
                  "dlib-hog0": ("X", "darkred"), "dlib-hog1": ("X", "purple")}
    for ax, s in zip(axes, order):
        for r in (r for r in rows if r["set"] == s and r["nme_found"] is not None and r["ms_median"] is not None):
            if r["kind"] == "ours":
                mk = "*" if r.get("refine") else markers.get(r["detector"], "v")
                col = colours.get(r["model"], "tab:green")
                small = r.get("min_face_size") is not None
                face = col if r["threads_n"] == 1 else "none"
                size = (90 if small else 55) * (1.8 if mk == "*" else 1)
                ax.scatter(r["ms_median"], r["nme_found"], marker=mk, s=size, facecolors=face,
                           edgecolors="tab:red" if small else col, linewidths=1.4)
            else:
                mk, col = peer_style.get(r["config"], ("X", "black"))
                ax.scatter(r["ms_median"], r["nme_found"], marker=mk, s=110, color=col)
            if r.get("threads_n", 1) == 1 and r["config"] != "mediapipe-1core":  # twins find the same faces
                ax.annotate(f"{r['found_pct']:.0f}%", (r["ms_median"], r["nme_found"]), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")
        r0 = next((r for r in rows if r["set"] == s), None)
        n = f" ({r0['photos']} photos, {r0['gt_faces']} faces)" if r0 else ""
        ax.set_title(f"{s}{n}", fontsize=10)
        ax.set_xscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.set_xlabel("median ms per photo (log)", fontsize=8)
        ax.set_ylabel("NME % on found faces", fontsize=8)
        ax.tick_params(labelsize=7)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker=m, ls="", color="gray", label=d) for d, m in markers.items()]
    handles += [Line2D([], [], marker="*", ls="", color="gray", markersize=9, label="yunet, refine=True")]
    handles += [Line2D([], [], marker="o", ls="", color=c, label=f"ours: {m}") for m, c in colours.items()]
    handles += [Line2D([], [], marker="o", ls="", markerfacecolor="gray", markeredgecolor="gray", label="1 thread (filled)"),
                Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="gray", label="2 threads (hollow)"),
                Line2D([], [], marker="o", ls="", markerfacecolor="none", markeredgecolor="tab:red", markersize=9,
                       label="min_face_size=40 (red edge)")]
    handles += [Line2D([], [], marker=m, ls="", color=c, label=k) for k, (m, c) in peer_style.items()]
    axes[0].legend(handles=handles, fontsize=7, loc="best", title="label: % of faces found (1-thread marker)",
                   title_fontsize=7)
    fig.suptitle("whole photo -> every face's 68 points: accuracy vs time per photo (lower left is better)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks end_to_end", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    p.add_argument("--limit", type=int, default=0, help="first N photos of each set")
    p.add_argument("--models", nargs="+", default=list(MODELS), help="bundled model names or artifact files")
    p.add_argument("--detectors", nargs="+", default=list(DETECTORS))
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--min-face-size", nargs="*", type=float, default=[40.0],
                   help="extra configurations with this min_face_size, on the small set only (none: --min-face-size)")
    p.add_argument("--refine", nargs="*", default=["yunet"], help="detectors also run with Landmarker(refine=True)")
    p.add_argument("--repeat", "--runs", type=int, default=1, dest="repeat", help="timed calls per photo and configuration")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per configuration on each set's first photo")
    p.add_argument("--peers", nargs="*", default=None, help="peer pipelines (default: all of benchmarks.peers.pipelines.PEER_PIPELINES)")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--source", default=str(TEST_FULL), help="the 300W whole photos (test_full)")
    p.add_argument("--out", default=str(result_path("end_to_end")),
                   help="the result file (default: %(default)s); the .md and .png go beside it")
    p.add_argument("--replot", action="store_true", help="only redraw the plot from the result file --out")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    out = Path(args.out)
    if args.replot:
        res = read_result(out)["results"]
        plot(res["rows"], res["settings"]["sets"], out.with_suffix(".png"))
        return 0
    source = Path(args.source)
    if not source.is_dir():
        log.error("no photos at %s (set PIPNET_EDGE_SHARED or --source)", source)
        return 2
    meta: dict[str, Any] = {"sets": args.sets, "limit": args.limit, "repeat": args.repeat, "warmup": args.warmup,
                            "loadavg_start": [round(v, 2) for v in os.getloadavg()], "max_faces": MAX_FACES,
                            "iou_match": IOU_MATCH}
    command, date = command_line("end_to_end", argv), utc_now()  # the run starts now
    log.info("loading photos: %s", ", ".join(args.sets))
    photos = {s: load_photos(s, args.limit, source) for s in args.sets}
    skipped: dict[str, str] = {}

    # our configurations
    base = our_configs(args.models, args.detectors, args.threads, refine=args.refine)
    extra = our_configs(args.models, args.detectors, args.threads, args.min_face_size, args.refine)[len(base):] \
        if "small" in args.sets else []
    ours: dict[str, OurPipeline] = {}
    for cfg in base + extra:
        try:
            ours[cfg.key] = open_ours(cfg)
            log.info("opened %s: threads %s", cfg.key, ours[cfg.key].threads)
        except Exception as exc:  # noqa: BLE001
            skipped[cfg.key] = f"{type(exc).__name__}: {exc}"
            log.warning("skipped %s: %s", cfg.key, skipped[cfg.key])
    gt_refs, sk = open_gt_refs(args.models)
    skipped.update(sk)

    # peers
    peers: list[Any] = []
    if not args.no_peers:
        from benchmarks.peers.pipelines import PEER_PIPELINES, open_peer_pipelines

        names = list(PEER_PIPELINES) if args.peers is None else args.peers
        first = next(iter(photos.values()))[0].path if any(photos.values()) else None
        peers, sk = open_peer_pipelines(names, warmup=first)
        for k, v in sk.items():
            skipped[f"peer {k}"] = v
            log.warning("skipped peer %s: %s", k, v)
        for pp in peers:
            log.info("opened peer %s: %s; threads: %s", pp.key, pp.label, pp.threads)
    else:
        skipped["peers"] = "--no-peers"

    rows: list[dict] = []
    t_start = time.time()
    try:
        for s in args.sets:
            pipes = [pl for k, pl in ours.items() if pl.config.min_face_size is None or s == "small"] + peers
            log.info("set %s: %d photos, %d faces, %d configurations", s, len(photos[s]),
                     sum(len(p.faces) for p in photos[s]), len(pipes))
            t0 = time.time()
            tallies = run_set(photos[s], pipes, gt_refs, args.repeat, args.warmup, progress=not args.no_progress, desc=s)
            log.info("set %s done in %.0f s", s, time.time() - t0)
            for pipe in pipes:
                row = {"set": s, "config": pipe.key, "kind": pipe.kind, "label": pipe.label, "threads": pipe.threads}
                if pipe.kind == "ours":
                    c = pipe.config
                    row.update(model=c.model, artifact=getattr(pipe, "artifact", None), detector=c.detector,
                               threads_n=c.threads, min_face_size=c.min_face_size, refine=c.refine)
                row.update(summarize_tally(tallies[pipe.key], photos[s]))
                rows.append(row)
                log.info("  %-44s found %4d/%d (%5.1f %%) %s %4d  NME %s  GT-box %s / %s  %s ms (p90 %s)",
                         pipe.key, row["found"], row["gt_faces"], row["found_pct"] or 0, "extra" if s == "test_full" else "false",
                         row["extra"], row["nme_found"], row.get("nme_gtbox_default_same_faces"),
                         row.get("nme_gtbox_lite_same_faces"), row["ms_median"], row["ms_p90"])
    finally:
        for pp in peers:
            pp.close()
    meta["elapsed_s"] = round(time.time() - t_start, 1)
    meta["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
    meta["peers"] = {pp.key: {"label": pp.label, "threads": pp.threads} for pp in peers}
    files = [pl.lm.path for pl in ours.values()] + [lm.path for lm in gt_refs.values()]
    files += [detector_file(pl.config.detector) for pl in ours.values()]
    files += [getattr(pp, "model_file", None) for pp in peers]
    env = make_envelope("end_to_end", command, model_hashes(files),
                        {"settings": meta, "notes": list(NOTES), "skipped": skipped, "rows": rows}, date=date)
    write_result(env, out)
    plot(rows, args.sets, out.with_suffix(".png"))
    print(render_markdown(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())

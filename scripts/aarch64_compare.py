#!/usr/bin/env python3
"""Runtime results on one machine, and their comparison across machines (the aarch64 CI stage).

``run`` records what the runtime returns on this machine: the landmarks, the network's input
crops and its raw head outputs for every face, per model. ``compare`` checks two recordings
(x86 reference, aarch64 candidate) against per-model bounds::

    python scripts/aarch64_compare.py run --model tflite-int8=default --model tflite-int8-lite=lite \
        --model onnx=exports/m_onnx.onnx --detector yunet --out x86.npz
    python scripts/aarch64_compare.py compare x86.npz arm.npz [arm2.npz ...]

(several candidate files: one recording split over parallel runs, e.g. one model each).

``run --detector NAME`` (repeatable) also records a bundled face detector (``yunet`` through OpenCV,
``blazeface-short`` / ``blazeface-full`` through LiteRT) on every image, whole: its boxes, scores
and keypoints, and the bundled lite model's landmarks behind it (the whole photo pipeline).

Faces: ``docs/astronaut.png`` (the default YuNet detector's box, rounded to whole pixels) and
``--faces`` (per model: ``--faces-of NAME=N``) training faces of ``$PIPNET_EDGE_SHARED/data/300w/train`` with their ground-truth
boxes (skipped with a note when the folder is absent; their NME is reported for context). Each
recording also notes the kernels a backend used (TFLite: XNNPACK or its builtin kernels).
Torch-free: numpy, OpenCV, pipnet_edge and the backends the models need.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from pipnet_edge.runtime.artifact import HEAD_NAMES
from pipnet_edge.runtime.backends import Backend

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PIPNET_EDGE_SHARED", REPO.parent / "shared"))
ASTRONAUT = REPO / "docs" / "astronaut.png"


@dataclass(frozen=True)
class Bound:
    """How far the candidate's landmarks may move from the reference's, in image pixels: at most ``max_px`` each and,
    when ``mean_px`` is set, at most ``mean_px`` on average."""

    max_px: float
    why: str
    expect_exact: bool = False
    mean_px: float | None = None


# Bounds per model name (the names ``run --model NAME=PATH`` records).
BOUNDS: dict[str, Bound] = {
    # XNNPACK on both sides: exact integer sums, the same fp32 requantization -> bit-exact (measured
    # on QEMU cortex-a72 and cortex-a76). TFLite's builtin kernels (used when XNNPACK does not start)
    # round differently on each CPU: +-30 steps in the int8 heads, landmarks up to ~9 px apart, so a
    # failure here usually means one side ran without XNNPACK (see the kernels column).
    "tflite-int8": Bound(0.5, "INT8 TFLite: expected bit-exact", expect_exact=True),
    "tflite-int8-lite": Bound(0.5, "INT8 TFLite (bundled lite model): expected bit-exact", expect_exact=True),
    # float32 kernels differ (AVX-512 vs NEON summation order): measured 6e-5 px at most.
    "onnx": Bound(1e-3, "float32: summation order only"),
    # onnxruntime's MLAS: measured bit-exact vs an AVX-512 VNNI x86 with the bundled default weights
    # of commit e25d31f. With the weights re-trained on 2026-12-06 (issue 29) it is not: 6.6 % of the
    # score-map values and 2.4 % of the neighbour offsets differ by up to 0.025 / 0.06 (about one int8
    # step), which moved points of the 9 faces by up to 0.99 px (mean 0.03 px; NME 2.646 vs 2.649 %).
    # With the second re-training of that day the heads differ by up to 0.093 and the 9 faces' points by
    # up to 1.99 px (mean 0.30 px; NME 2.643 vs 2.666 % on 8 faces): a score-map peak moving to the next
    # cell, the offsets following. The cause (requantization rounding in some kernel) is not traced yet;
    # the bound is on the mean (0.5 px) with a loose maximum (3 px): an accuracy check, no longer a
    # bit-exactness one, that still catches a broken kernel (points tens of px off). onnxruntime also
    # documents that its u8s8 kernels may saturate on x86 CPUs without VNNI, which this bound would show.
    "onnx-int8": Bound(3.0, "INT8 QDQ ONNX: int8 steps in the heads may differ (not bit-exact since 2026-12-06)",
                       mean_px=0.5),
}

# Detectors run float kernels on both sides (onnxruntime / XNNPACK fp32): boxes and keypoints move by
# summation order only (measured <= 1e-4 px on cortex-a72). The INT8 lite model behind them then sees
# crops made from boxes 1e-5 px apart, which OpenCV's fixed-point warp can turn into 1-2 grey levels:
# enough to flip an int8 rounding and move a heatmap peak (measured up to 1.4 % of the face box side).
DETECTOR_BOUND_PX = 0.5
DETECTOR_POINTS_BOUND = 0.03  # landmark displacement / longer side of the face's detector box


class Face(NamedTuple):
    """One input image: a name, the file, and for labelled faces the ground-truth box and points."""

    name: str
    image: Path
    box: np.ndarray | None = None
    truth: np.ndarray | None = None


class RecordingBackend(Backend):
    """A backend that runs another one and keeps a copy of every input batch (the crops the Landmarker
    made) and output dict (the channels-last heads) it sees.

    A Landmarker is built over it with the documented ``Landmarker.from_backend`` (:func:`open_landmarker`),
    so what is recorded is ``lm.detect`` itself: the runtime's own crops, model call and decode.
    """

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.path, inner.info, inner.num_threads)
        self.inner = inner
        self.name = inner.name
        self.inputs: list[np.ndarray] = []
        self.outputs: list[dict[str, np.ndarray]] = []

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        out = self.inner.run(images)
        self.inputs.append(np.array(images, copy=True))
        self.outputs.append({k: np.array(v, copy=True) for k, v in out.items()})
        return out

    def describe(self) -> str:
        return self.inner.describe()


def open_landmarker(model: str, **options: Any) -> tuple[Any, RecordingBackend]:
    """``(landmarker, recorder)``: a Landmarker with ``options`` for a bundled model name or an artifact file,
    over a :class:`RecordingBackend` of the backend ``Landmarker(model)`` opens (the file format's default)."""
    from pipnet_edge.assets import BUNDLED_MODELS, bundled_model_path
    from pipnet_edge.runtime import Landmarker
    from pipnet_edge.runtime.artifact import read_artifact_info
    from pipnet_edge.runtime.backends import open_backend

    path = bundled_model_path(model) if model in BUNDLED_MODELS else Path(model)
    rec = RecordingBackend(open_backend(path, read_artifact_info(path), num_threads=options.get("num_threads")))
    return Landmarker.from_backend(rec, **options), rec


# --------------------------------------------------------------------------- run


def training_faces(count: int) -> list[Face]:
    """``count`` faces spread evenly over the sorted 300W training folder, with their ground truth."""
    from pipnet_edge.data.annotations import IMAGE_SUFFIXES, read_pts
    from pipnet_edge.runtime import geometry

    folder = SHARED / "data" / "300w" / "train"
    if count <= 0:
        return []
    pts_files = sorted(folder.glob("*.pts"))
    if not pts_files:
        print(f"note: no 300W faces in {folder}: running on {ASTRONAUT.name} only (set PIPNET_EDGE_SHARED)")
        return []
    picks = [pts_files[i] for i in np.unique(np.linspace(0, len(pts_files) - 1, count).round().astype(int))]
    faces = []
    for pts_path in picks:
        image = next((pts_path.with_suffix(s) for s in IMAGE_SUFFIXES if pts_path.with_suffix(s).exists()), None)
        if image is None:
            raise SystemExit(f"error: {pts_path} has no image next to it")
        truth = read_pts(pts_path)
        faces.append(Face(pts_path.stem, image, geometry.box_from_points(truth), truth))
    return faces


def read_bgr(path: Path) -> np.ndarray:
    """The image as ``cv2.imread`` gives it (BGR); exits with a message when it cannot be read."""
    import cv2

    img = cv2.imread(str(path))
    if img is None:
        raise SystemExit(f"error: cannot read image {path}")
    return img


def kernels(backend: Any) -> str:
    """Which kernels a backend runs: TFLite's XNNPACK delegate or builtin kernels, onnxruntime's providers."""
    if backend.name == "tflite":
        try:
            ops = backend.interpreter._get_ops_details()  # private, but the only way to see the delegate
        except Exception:  # noqa: BLE001 - an older/newer interpreter: just say we do not know
            return "tflite ?"
        return "xnnpack" if any(op["op_name"] == "DELEGATE" for op in ops) else "tflite builtin"
    if backend.name == "onnxruntime":
        return "+".join(p.replace("ExecutionProvider", "") for p in backend.session.get_providers())
    return backend.name


def nme_percent(lm: Any, predicted: list[np.ndarray], truth: list[np.ndarray]) -> float:
    """NME (%) of the labelled faces, normalised as the model's landmark scheme says; NaN without labels."""
    from pipnet_edge.metrics import per_point_errors

    if not truth:
        return float("nan")
    return float(per_point_errors(np.stack(predicted), np.stack(truth), lm.spec.scheme).mean() * 100)


def run_model(name: str, model: str, faces: list[Face]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Landmarks, crops and head outputs of one model on every face (arrays keyed ``NAME.field``) and its facts."""
    from pipnet_edge.evaluation.timing import time_calls

    lm, rec = open_landmarker(model, num_threads=1, color_order="BGR")
    ids: list[str] = []
    points, boxes, labelled, truth = [], [], [], []
    seconds = 0.0
    for face in faces:
        img = read_bgr(face.image)
        box = face.box
        if box is None:
            # the default detector's box, rounded to whole pixels: its float value differs by ~1e-5 px across
            # CPUs, which OpenCV's fixed-point warp can turn into a grey level in the crop (see DETECTOR_POINTS_BOUND);
            # whole-pixel boxes give both machines the same crop, so the model itself is what is compared
            box = np.round(lm.detector.detect(img, color_order="BGR").boxes[:1])
        t = time_calls(lambda img=img, box=box: lm.detect(img, boxes=box), runs=1, warmup=0)
        result = t.result
        seconds += t.mean_ms / 1000
        for k, found in enumerate(result.faces):
            ids.append(f"{face.name}#{k}")
            points.append(found.points)
            boxes.append(found.box)
        if face.truth is not None and result.faces:
            labelled.append(result.faces[0].points)
            truth.append(face.truth)
    if not ids:
        raise SystemExit(f"error: {name}: no face found in any image")
    facts = {"kernels": kernels(rec.inner), "nme": nme_percent(lm, labelled, truth), "labelled": len(truth)}
    out = {
        f"{name}.ids": np.array(ids),
        f"{name}.points": np.stack(points).astype(np.float32),
        f"{name}.boxes": np.stack(boxes).astype(np.float32),
        f"{name}.crops": np.concatenate(rec.inputs),
        f"{name}.seconds": np.float64(seconds),
        f"{name}.images": np.int64(len(faces)),
    }
    for head in HEAD_NAMES:
        out[f"{name}.{head}"] = np.concatenate([o[head] for o in rec.outputs]).astype(np.float32)
    ms = seconds / len(faces) * 1000
    print(f"{name:12s} {len(ids):3d} faces in {len(faces):3d} images {ms:8.1f} ms/image  ({lm.backend.describe()}, {facts['kernels']})")
    return out, facts


def run_detector(name: str, faces: list[Face]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A bundled detector's boxes, scores and keypoints on every whole image, and the bundled lite
    model's landmarks behind it (arrays keyed ``det:NAME.field``)."""
    from pipnet_edge.evaluation.timing import time_calls
    from pipnet_edge.runtime import Landmarker

    lm = Landmarker("lite", detector=name, num_threads=1, color_order="BGR")
    det = lm.detector
    key = f"det:{name}"
    counts, boxes, scores, keypoints, points = [], [], [], [], []
    seconds = 0.0
    for face in faces:
        img = read_bgr(face.image)
        t = time_calls(lambda img=img: det.detect(img, color_order="BGR"), runs=1, warmup=0)
        found = t.result
        seconds += t.mean_ms / 1000
        counts.append(len(found))
        boxes.append(found.boxes)
        scores.append(found.scores)
        keypoints.append(found.keypoints.reshape(len(found), -1))
        points.extend(f.points for f in lm.detect(img))
    out = {
        f"{key}.counts": np.array(counts),
        f"{key}.boxes": np.concatenate(boxes),
        f"{key}.scores": np.concatenate(scores),
        f"{key}.keypoints": np.concatenate(keypoints),
        f"{key}.points": np.stack(points).astype(np.float32) if points else np.zeros((0, 68, 2), np.float32),
        f"{key}.seconds": np.float64(seconds),
    }
    ms = seconds / len(faces) * 1000
    print(f"{key:20s} {sum(counts):3d} faces in {len(faces):3d} images {ms:8.1f} ms/image (detector only)")
    return out, {"faces": int(sum(counts))}


def compare_detectors(names: list[str], ref: Any, cand: Any) -> int:
    """Print each detector's differences; returns how many are over :data:`DETECTOR_BOUND_PX`."""
    failures = 0
    print(f"{'detector':20s} {'faces':>5s} {'boxes max px':>12s} {'kps max px':>10s} {'scores max':>10s} {'points max px':>13s} "
          f"{'/ face':>7s}  result")
    for name in names:
        key = f"det:{name}"
        if not np.array_equal(ref[f"{key}.counts"], cand[f"{key}.counts"]):
            print(f"{key:20s} FAIL: faces per image differ: {ref[f'{key}.counts'].tolist()} vs {cand[f'{key}.counts'].tolist()}")
            failures += 1
            continue
        diff = {f: float(np.abs(ref[f"{key}.{f}"].astype(np.float64) - cand[f"{key}.{f}"]).max(initial=0.0))
                for f in ("boxes", "keypoints", "scores")}
        ref_pts = ref[f"{key}.points"].astype(np.float64)
        disp = np.linalg.norm(ref_pts - cand[f"{key}.points"], axis=-1).reshape(len(ref_pts), -1)
        boxes = ref[f"{key}.boxes"].astype(np.float64)
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        pts = float(disp.max(initial=0.0))
        rel = float((disp.max(axis=1) / side).max(initial=0.0)) if len(side) == len(disp) else float("inf")
        ok = max(diff["boxes"], diff["keypoints"]) <= DETECTOR_BOUND_PX and rel <= DETECTOR_POINTS_BOUND
        failures += not ok
        print(f"{key:20s} {int(ref[f'{key}.counts'].sum()):5d} {diff['boxes']:12.2e} {diff['keypoints']:10.2e} "
              f"{diff['scores']:10.2e} {pts:13.2e} {rel:7.2%}  {'ok' if ok else 'FAIL'}")
    print(f"(bounds: boxes and keypoints {DETECTOR_BOUND_PX} px, float kernels on both sides; the INT8 lite model's points "
          f"behind them {DETECTOR_POINTS_BOUND:.0%} of the face box, see DETECTOR_POINTS_BOUND)")
    return failures


def package_versions() -> dict[str, str]:
    """Versions of the packages whose kernels the comparison depends on."""
    from importlib import metadata

    versions = {}
    for dist in ("numpy", "opencv-python-headless", "ai-edge-litert", "onnxruntime"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "-"
    return versions


def cmd_run(args: argparse.Namespace) -> int:
    if not args.model and not args.detector:
        raise SystemExit("error: nothing to run: give at least one --model NAME=PATH or --detector NAME")
    models = dict(parse_model(m) for m in args.model)
    counts = {name: int(n) for name, n in (parse_pair(m, "--faces-of", "NAME=N") for m in args.faces_of)}
    meta = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "qemu_cpu": os.environ.get("QEMU_CPU", ""),
        "packages": package_versions(),
        "models": list(models),
        "detectors": list(args.detector),
        "facts": {},
    }
    print(describe(meta))
    arrays: dict[str, np.ndarray] = {}
    for name, model in models.items():
        faces = [Face("astronaut", ASTRONAUT)] + training_faces(counts.get(name, args.faces))
        model_arrays, meta["facts"][name] = run_model(name, model, faces)
        arrays.update(model_arrays)
    for name in args.detector:
        det_faces = [Face("astronaut", ASTRONAUT)] + training_faces(args.detector_faces)
        det_arrays, meta["facts"][f"det:{name}"] = run_detector(name, det_faces)
        arrays.update(det_arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **arrays)
    print(f"wrote {args.out}")
    return 0


def parse_pair(text: str, option: str, form: str) -> tuple[str, str]:
    """``NAME=VALUE`` of a command-line option; exits with the expected form otherwise."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise SystemExit(f"error: {option} takes {form}, got {text!r}")
    return name, value


def parse_model(text: str) -> tuple[str, str]:
    """``--model NAME=PATH``: the name and an existing file (or a bundled name: ``default``, ``lite``)."""
    from pipnet_edge.assets import CARDS  # the bundled full-INT8 TFLite models, loaded by name

    name, path = parse_pair(text, "--model", "NAME=PATH (or NAME=default / NAME=lite for a bundled model)")
    if path not in CARDS and not Path(path).is_file():
        raise SystemExit(f"error: model file {path} does not exist")
    return name, path


# --------------------------------------------------------------------------- compare


@dataclass
class Comparison:
    """Differences of one model between the reference and the candidate recording."""

    name: str
    faces: int
    max_px: float
    mean_px: float
    moved_1px: int
    exact: bool
    heads_max: float
    crops_equal: bool
    crops_max: int
    boxes_max: float
    ref_ms: float
    cand_ms: float
    ref_facts: dict
    cand_facts: dict
    bound: Bound

    @property
    def ok(self) -> bool:
        return self.max_px <= self.bound.max_px and (self.bound.mean_px is None or self.mean_px <= self.bound.mean_px)


def compare_model(name: str, ref: Any, cand: Any, ref_facts: dict, cand_facts: dict) -> Comparison:
    """Compare ``name``'s arrays of two loaded recordings; raises SystemExit when they do not line up."""
    if name not in BOUNDS:
        raise SystemExit(f"error: no bound for model {name!r}; add it to BOUNDS in {Path(__file__).name}")
    ref_ids, cand_ids = list(ref[f"{name}.ids"]), list(cand[f"{name}.ids"])
    if ref_ids != cand_ids:
        only_ref = sorted(set(ref_ids) - set(cand_ids))[:5]
        only_cand = sorted(set(cand_ids) - set(ref_ids))[:5]
        raise SystemExit(
            f"error: {name}: the two runs saw different faces (reference only: {only_ref}, candidate only: {only_cand}); "
            "did both runs read the same data folder and find the same detector boxes?"
        )
    d = np.linalg.norm(ref[f"{name}.points"].astype(np.float64) - cand[f"{name}.points"], axis=-1)
    heads_max = max(float(np.abs(ref[f"{name}.{h}"] - cand[f"{name}.{h}"]).max()) for h in HEAD_NAMES)
    crops_d = np.abs(ref[f"{name}.crops"].astype(np.int16) - cand[f"{name}.crops"].astype(np.int16))
    images = int(ref[f"{name}.images"])
    return Comparison(
        name=name,
        faces=len(ref_ids),
        max_px=float(d.max()),
        mean_px=float(d.mean()),
        moved_1px=int((d > 1.0).sum()),
        exact=bool(np.array_equal(ref[f"{name}.points"], cand[f"{name}.points"])) and heads_max == 0.0,
        heads_max=heads_max,
        crops_equal=bool(crops_d.max() == 0),
        crops_max=int(crops_d.max()),
        boxes_max=float(np.abs(ref[f"{name}.boxes"] - cand[f"{name}.boxes"]).max()),
        ref_ms=float(ref[f"{name}.seconds"]) / images * 1000,
        cand_ms=float(cand[f"{name}.seconds"]) / images * 1000,
        ref_facts=ref_facts,
        cand_facts=cand_facts,
        bound=BOUNDS[name],
    )


def describe(meta: dict) -> str:
    """One line on where a recording was made: machine, emulated CPU, Python and package versions."""
    cpu = f" (QEMU_CPU={meta['qemu_cpu']})" if meta.get("qemu_cpu") else ""
    pk = ", ".join(f"{k} {v}" for k, v in meta["packages"].items())
    return f"{meta['machine']}{cpu}, Python {meta['python']}: {pk}"


def print_report(rows: list[Comparison], ref_meta: dict, cand_meta: dict) -> None:
    """The comparison table (differences, bounds) and the context table (kernels, NME, speed)."""
    print(f"reference: {describe(ref_meta)}")
    print(f"candidate: {describe(cand_meta)}")
    head = f"{'model':12s} {'faces':>5s} {'max px':>9s} {'mean px':>9s} {'>1px':>5s} {'bit-exact':>9s} " \
           f"{'heads max|d|':>12s} {'crops':>7s} {'bound px':>8s}  result"
    print(head)
    print("-" * len(head))
    for r in rows:
        crops = "same" if r.crops_equal else f"d<={r.crops_max}"
        print(
            f"{r.name:12s} {r.faces:5d} {r.max_px:9.2e} {r.mean_px:9.2e} {r.moved_1px:5d} {'yes' if r.exact else 'no':>9s} "
            f"{r.heads_max:12.3e} {crops:>7s} {r.bound.max_px:8.0e}  {'ok' if r.ok else 'FAIL'}"
        )
    print("(px: landmark displacement in image pixels, candidate vs reference)")
    print(f"{'model':12s} {'kernels ref / cand':34s} {'NME % ref / cand (faces)':>26s} {'ms/image ref / cand':>22s}")
    for r in rows:
        k = f"{r.ref_facts['kernels']} / {r.cand_facts['kernels']}"
        nme = f"{r.ref_facts['nme']:.3f} / {r.cand_facts['nme']:.3f} ({r.ref_facts['labelled']})" if r.ref_facts["labelled"] else "-"
        ms = f"{r.ref_ms:.1f} / {r.cand_ms:.1f}"
        print(f"{r.name:12s} {k:34s} {nme:>26s} {ms:>22s}")
    print("(NME on the labelled training faces; ms: 1 thread, the candidate's under emulation when QEMU_CPU is set)")


def print_notes(r: Comparison) -> None:
    """Explain a model's differences: detector boxes, crops, kernels, lost bit-exactness."""
    if r.boxes_max > 0:
        print(f"note: {r.name}: face boxes differ by up to {r.boxes_max:.3g} px (the face detector's result differs)")
    if not r.crops_equal:
        print(f"note: {r.name}: input crops differ by up to {r.crops_max} grey levels (OpenCV warpAffine differs)")
    if r.ref_facts["kernels"] != r.cand_facts["kernels"]:
        hint = " (XNNPACK needs /sys/devices/system/cpu to start on Linux)" if "xnnpack" in r.ref_facts["kernels"] else ""
        print(f"note: {r.name}: different kernels: {r.ref_facts['kernels']} vs {r.cand_facts['kernels']}{hint}")
    if r.bound.expect_exact and not r.exact:
        print(f"WARNING: {r.name}: expected bit-exact results, got max {r.max_px:.3g} px / heads {r.heads_max:.3g}")


def load_recordings(paths: list[str]) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and meta of one or more recordings of one machine (models merged)."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {}
    for path in paths:
        with np.load(path) as f:
            part = {k: f[k] for k in f.files}
        m = json.loads(str(part.pop("meta")))
        if meta and (m["machine"], m["packages"]) != (meta["machine"], meta["packages"]):
            raise SystemExit(f"error: {path} comes from another machine or package set than {paths[0]}")
        if not meta:
            meta = {**m, "models": [], "detectors": [], "facts": {}}
        meta["models"] += [n for n in m["models"] if n not in meta["models"]]
        meta.setdefault("detectors", [])
        meta["detectors"] += [n for n in m.get("detectors", []) if n not in meta["detectors"]]
        meta["facts"].update(m["facts"])
        arrays.update(part)
    return arrays, meta


def cmd_compare(args: argparse.Namespace) -> int:
    ref, ref_meta = load_recordings([args.reference])
    cand, cand_meta = load_recordings(args.candidate)
    missing = [m for m in ref_meta["models"] if m not in cand_meta["models"]]
    if missing:
        raise SystemExit(f"error: the candidate lacks model(s) {missing}; run both sides with the same --model list")
    rows = [compare_model(n, ref, cand, ref_meta["facts"][n], cand_meta["facts"][n]) for n in ref_meta["models"]]
    print_report(rows, ref_meta, cand_meta)
    failures = 0
    for r in rows:
        print_notes(r)
        if not r.ok:
            failures += 1
            mean = f", mean {r.mean_px:.3g} px (bound {r.bound.mean_px:g})" if r.bound.mean_px is not None else ""
            print(f"FAIL: {r.name}: landmarks moved up to {r.max_px:.3g} px{mean}, over the bounds: {r.bound.max_px:g} px "
                  f"each ({r.bound.why})")
    missing = [d for d in ref_meta.get("detectors", []) if d not in cand_meta.get("detectors", [])]
    if missing:
        raise SystemExit(f"error: the candidate lacks detector(s) {missing}; run both sides with the same --detector list")
    if ref_meta.get("detectors"):
        failures += compare_detectors(ref_meta["detectors"], ref, cand)
    print("comparison " + ("passed" if not failures else f"FAILED for {failures} model(s) or detector(s)"))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="aarch64_compare.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="record landmarks, crops and head outputs on this machine")
    r.add_argument("--model", action="append", default=[], help="NAME=PATH (PATH 'default': the bundled model); repeatable")
    r.add_argument("--detector", action="append", default=[],
                   help="a bundled detector to record (yunet, blazeface-short, ...); repeatable")
    r.add_argument("--faces", type=int, default=24, help="300W training faces to add (default 24; 0: astronaut only)")
    r.add_argument("--detector-faces", type=int, default=4, help="300W training faces (whole crops) each --detector runs on")
    r.add_argument("--faces-of", action="append", default=[], help="NAME=N: training faces for one model; repeatable")
    r.add_argument("--out", required=True, help="output .npz")
    c = sub.add_parser("compare", help="compare two recordings against the per-model bounds")
    c.add_argument("reference", help="reference .npz (x86)")
    c.add_argument("candidate", nargs="+", help="candidate .npz file(s) (aarch64)")
    args = p.parse_args(argv)
    return cmd_run(args) if args.cmd == "run" else cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())

"""Peer landmarkers for the benchmark: dlib's 68-point ERT and MediaPipe FaceMesh (468 -> 68 points).

Optional extras of the benchmark, never dependencies of the package. Provision them with

    bash benchmarks/peers/get_peers.sh          # pip install -r benchmarks/peers/requirements.txt + --fetch

Standalone check (NME on labelled faces with ground-truth-box inputs, 1/2-thread latency):

    python -m benchmarks.peers.landmarkers --data ../shared/data/300w/test

Every peer takes the ground-truth landmark box ``(x0, y0, x1, y1)`` (tight box of the 68 labelled
points, 0-based pixels, as our own crops use) and returns ``(68, 2)`` iBUG points in 0-based image
pixels. How each peer turns that box into the input it expects is a fixed rule fitted on the TRAIN
faces only (``--refit --data ../shared/data/300w/train`` reproduces the constants below).

Interface (what the artifacts suite uses)::

    peers = load_peers(["dlib", "mediapipe"], cache_dir, num_threads=1)   # PeerUnavailable if missing
    peer.name, peer.label, peer.size_bytes, peer.num_threads, peer.max_threads
    state = peer.prepare(image_bgr, box)   # crop / colour conversion: not timed (like our crop)
    raw = peer.run(state)                  # the model call alone: time this
    pts = peer.finish(state, raw)          # (68, 2) image pixels (our decode's counterpart)
    pts = peer.predict(image_bgr, box)     # all three
    predict_records(peer, records) -> (F, 68, 2)
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import HERE
from pipnet_edge.evaluation.timing import time_calls
from pipnet_edge.metrics import normalizers, summarize
from pipnet_edge.runtime import geometry
from pipnet_edge.schemes import get_scheme

__all__ = [
    "DEFAULT_CACHE_DIR",
    "MP468_TO_IBUG68",
    "PEER_NAMES",
    "DlibBox",
    "DlibPeer",
    "MediaPipeCrop",
    "MediaPipePeer",
    "Peer",
    "PeerUnavailable",
    "check_mapping",
    "fetch",
    "load_peers",
    "predict_records",
    "refit",
]

PEER_NAMES = ("dlib", "mediapipe")
SCHEME = get_scheme("300w-68")  # NME as everywhere in pipnet_edge.metrics: outer eye corners 36 / 45
DEFAULT_CACHE_DIR = HERE / ".peers"  # git-ignored
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"

# --- provisioning ------------------------------------------------------------------------------
DLIB_INSTALL = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0  (or: bash benchmarks/peers/get_peers.sh)"
DLIB_MODEL_FILE = "models/shape_predictor_68_face_landmarks.dat"  # inside the face_recognition_models package
MEDIAPIPE_VERSION = "0.10.14"  # the 1.x wheels ship no .tflite files
MEDIAPIPE_MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
MEDIAPIPE_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
# the wheel is platform-specific but the .tflite is not: always fetch the same wheel so the checksum holds
MEDIAPIPE_WHEEL_PLATFORM = ("manylinux_2_17_x86_64", "311")
LITERT_INSTALL = "pip install 'ai-edge-litert>=1.2'  (the package's [tflite] extra)"


class PeerUnavailable(RuntimeError):
    """A peer's package or model file is missing; the message says how to install it."""


# --- box rules, fitted on ../shared/data/300w/train (2,012 faces) ------------------------------
@dataclass(frozen=True)
class DlibBox:
    """GT landmark box -> the ``dlib.rectangle`` the 68-point predictor starts from.

    dlib's frontal face detector (whose boxes the predictor was trained from) returns squares, so
    this is a square of side ``scale * (w + h) / 2`` centred at ``(cx + shift_x * w, cy + shift_y * h)``
    (``w``, ``h``, ``cx``, ``cy`` of the GT box), rounded to integer pixels as dlib rectangles are.
    """

    scale: float
    shift_x: float
    shift_y: float

    def rect(self, box: np.ndarray) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = (float(v) for v in box)
        w, h = x1 - x0, y1 - y0
        cx, cy = (x0 + x1) / 2 + self.shift_x * w, (y0 + y1) / 2 + self.shift_y * h
        half = self.scale * (w + h) / 4
        return round(cx - half), round(cy - half), round(cx + half), round(cy + half)


@dataclass(frozen=True)
class MediaPipeCrop:
    """GT landmark box -> FaceMesh's square ROI, with our own crop rule's meaning
    (``pipnet_edge.runtime.geometry.crop_square``): side ``scale * max(w, h)``, centre shifted by
    ``shift_x * w``, ``shift_y * h``. No rotation (our crops are upright too)."""

    scale: float
    shift_x: float
    shift_y: float


# How the constants were obtained: ``python -m benchmarks.peers.landmarkers --refit --data ../shared/data/300w/train``:
# the mean NME of the 2,012 TRAIN faces on the grid REFIT_GRID of (scale, shift_y), shift_x = 0 (faces
# are mirror-symmetric on average); the chosen point is the minimum of the grid's 3 x 3 moving average,
# because single grid points are noisy (a few faces flip between fitting and failing as the box moves
# by a pixel: dlib's train NME jumps by ~0.1 between neighbouring points). The test faces were never used.
# dlib cross-check: dlib's own frontal detector on the train crops (found 1,928 of 2,012 faces), regressed
# against the GT boxes, gives a square of side 1.07 x (w + h) / 2 (median), centre 0.12 h above the GT
# box centre, 0.00 w sideways (train NME 4.66 % with that rule): the fitted centre agrees, the fitted
# box is larger. Fitted: train NME 4.478 % (3 x 3 mean 4.536 %); grid range 4.48 - 7.94 %.
DLIB_BOX = DlibBox(scale=1.18, shift_x=0.0, shift_y=-0.12)
# MediaPipe's own pipeline crops 1.5 x the box of its 468 points (which reach up the forehead), square,
# turned upright by the eye line (1.5 x our 68-point box, 0.1 h up: train NME 6.247 %).
# Fitted: train NME 5.942 % (3 x 3 mean 5.952 %; single best grid point 1.64 / -0.02, 5.938 %).
MEDIAPIPE_CROP = MediaPipeCrop(scale=1.66, shift_x=0.0, shift_y=-0.02)
REFIT_GRID: dict[str, tuple[np.ndarray, np.ndarray]] = {  # scales, shift_y values
    "dlib": (np.round(np.arange(0.96, 1.3001, 0.02), 4), np.round(np.arange(-0.18, -0.0199, 0.02), 4)),
    "mediapipe": (np.round(np.arange(1.40, 1.9001, 0.02), 4), np.round(np.arange(-0.12, 0.0401, 0.02), 4)),
}

# --- MediaPipe FaceMesh 468 -> iBUG 68 ------------------------------------------------------------
# Source: Peizhi Yan, "Mediapipe_2_Dlib_Landmarks" (github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks,
# mediapipe2dlib/mp2dlib.py, 2024), a commonly used FaceMesh -> dlib/iBUG-68 correspondence; where it
# lists two mesh vertices the iBUG point is their mean. Row i is iBUG point i (0-based). iBUG "right"
# is the subject's right (image left on a frontal face), as in MediaPipe's naming (33 = right eye
# outer corner, 263 = left eye outer corner). ``--check-mapping --data ../shared/data/300w/train``
# (2,012 faces, fitted crop) checks it: the overlay puts eye corners, nose tip and mouth corners on the
# right labels; for iBUG 48 / 54 (mouth corners), 30 (nose tip), 33, 57 and 8 (chin) the mapped vertex
# is also the mesh vertex nearest the label on average; for the eye corners 36 / 39 / 42 / 45 the
# nearest is the adjacent lower-lid vertex (7 / 155 / 382 / 249 for 33 / 133 / 362 / 263), 0.1 - 1.3 %
# closer: annotation convention, not a wrong side. Mapped NME 5.94 %; nearest vertex per point 5.29 %.
MP468_TO_IBUG68: tuple[tuple[int, ...], ...] = (
    # jaw 0-16
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    # right brow 17-21, left brow 22-26
    (70,), (63,), (105,), (66,), (107,),
    (336,), (296,), (334,), (293,), (300,),
    # nose bridge 27-30 (30 = tip), nostrils 31-35
    (168, 6), (197, 195), (5,), (4,),
    (75,), (97,), (2,), (326,), (305,),
    # right eye 36-41 (36 outer corner, 39 inner), left eye 42-47 (42 inner, 45 outer)
    (33,), (160,), (158,), (133,), (153,), (144,),
    (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lips 48-59 (48 right corner, 54 left corner), inner lips 60-67
    (61,), (39,), (37,), (0,), (267,), (269,), (291,),
    (321,), (314,), (17,), (84,), (91,),
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
)
_MP_A = np.array([m[0] for m in MP468_TO_IBUG68])
_MP_B = np.array([m[-1] for m in MP468_TO_IBUG68])


# --- peers -----------------------------------------------------------------------------------------
class Peer(ABC):
    """A landmarker to compare against: GT landmark box in, ``(68, 2)`` iBUG points out.

    Attributes:
        name: short id (``"dlib"``, ``"mediapipe"``).
        label: what it is, with versions, for tables.
        size_bytes: the model file(s) it loads.
        num_threads: threads the model call actually uses.
        max_threads: most threads it can use (``None``: no limit); dlib's predictor is single-threaded.
    """

    name: str
    label: str
    size_bytes: int
    num_threads: int
    max_threads: int | None

    @abstractmethod
    def prepare(self, image_bgr: np.ndarray, box: np.ndarray) -> Any:
        """Everything before the model call (colour conversion, crop); not part of the timed latency."""

    @abstractmethod
    def run(self, state: Any) -> Any:
        """The model call alone, on a prepared input (what the latency figures time)."""

    @abstractmethod
    def finish(self, state: Any, raw: Any) -> np.ndarray:
        """Raw model output -> ``(68, 2)`` float32 iBUG points, 0-based image pixels."""

    def predict(self, image_bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
        """``(68, 2)`` points for the face in ``box = (x0, y0, x1, y1)`` (GT landmark box)."""
        state = self.prepare(image_bgr, np.asarray(box, np.float64))
        return self.finish(state, self.run(state))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}, {self.size_bytes / 1e6:.2f} MB, {self.num_threads} thread(s)>"


class DlibPeer(Peer):
    """dlib's 68-point ensemble-of-regression-trees predictor (``face-recognition-models`` copy of
    ``shape_predictor_68_face_landmarks.dat``, trained by dlib on iBUG 300-W).

    Single-threaded: dlib has no threading option for ``shape_predictor``; ``num_threads`` is
    always 1 (``max_threads = 1``) whatever is asked. The model call samples pixels straight from
    the whole image, so ``prepare`` is only BGR -> RGB (as ``face_recognition`` feeds dlib) and the
    rectangle. dlib returns integer pixel positions.
    """

    name = "dlib"
    max_threads = 1

    def __init__(self, box_rule: DlibBox = DLIB_BOX) -> None:
        try:
            import dlib
        except ImportError:
            raise PeerUnavailable(f"peer 'dlib' needs the dlib-bin wheel: {DLIB_INSTALL}") from None
        # Locate the model without importing face_recognition_models: its __init__ imports
        # pkg_resources, which setuptools >= 81 no longer provides.
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise PeerUnavailable(f"peer 'dlib' needs the face-recognition-models package: {DLIB_INSTALL}")
        path = Path(next(iter(spec.submodule_search_locations))) / DLIB_MODEL_FILE
        if not path.is_file():
            raise PeerUnavailable(f"{path} is missing; reinstall face-recognition-models: {DLIB_INSTALL}")
        self._dlib = dlib
        self.model_path = path
        self.predictor = dlib.shape_predictor(str(path))
        self.box_rule = box_rule
        self.size_bytes = path.stat().st_size
        self.num_threads = 1
        self.label = f"dlib {dlib.__version__} 68-point ERT (shape_predictor_68_face_landmarks)"

    def prepare(self, image_bgr: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, Any]:
        import cv2

        rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        return rgb, self._dlib.rectangle(*self.box_rule.rect(box))

    def run(self, state: tuple[np.ndarray, Any]) -> Any:
        return self.predictor(state[0], state[1])

    def finish(self, state: Any, raw: Any) -> np.ndarray:
        return np.array([(p.x, p.y) for p in raw.parts()], dtype=np.float32)


class MediaPipePeer(Peer):
    """MediaPipe FaceMesh (``face_landmark.tflite`` from the mediapipe 0.10.14 wheel) on ai-edge-litert.

    Input: ``1 x 192 x 192 x 3`` float32 RGB in [0, 1]; output ``1404`` = 468 x (x, y, z) in input
    pixels, plus a face-presence logit. As in MediaPipe's ``FaceLandmarkCpu`` graph (decoded from the
    graph protos embedded in the 0.10.14 wheel's ``_framework_bindings`` .so: ImageToTensorCalculator
    192 x 192, output_tensor_float_range [0, 1], border mode unset, i.e. MediaPipe's default, replicate;
    TensorsToLandmarksCalculator num_landmarks 468, input_image 192 x 192; LandmarkProjection), the ROI
    is warped bilinearly and the landmarks are mapped back through the inverse warp. MediaPipe's
    tracking ROI is 1.5 x the box of its 468 points, square, turned upright by the eye line; here
    it is the fitted :data:`MEDIAPIPE_CROP` of the GT box, upright (no rotation, as for our model).
    468 -> 68 by :data:`MP468_TO_IBUG68`.
    """

    name = "mediapipe"
    max_threads = None
    input_size = 192

    def __init__(self, model_path: Path, num_threads: int = 1, crop: MediaPipeCrop = MEDIAPIPE_CROP) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise PeerUnavailable(f"peer 'mediapipe' runs on ai-edge-litert: {LITERT_INSTALL}") from None
        if not model_path.is_file():
            raise PeerUnavailable(
                f"peer 'mediapipe' needs {model_path}: bash benchmarks/peers/get_peers.sh "
                f"(or python -m benchmarks.peers.landmarkers --fetch --cache-dir {model_path.parent.parent})"
            )
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
        if digest != MEDIAPIPE_SHA256:
            raise PeerUnavailable(f"{model_path} is not mediapipe {MEDIAPIPE_VERSION}'s face_landmark.tflite "
                                  f"(sha256 {digest}); delete it and run --fetch again")
        import importlib.metadata

        self.model_path = model_path
        self.num_threads = int(num_threads)
        self.interpreter = Interpreter(model_path=str(model_path), num_threads=self.num_threads)
        self.interpreter.allocate_tensors()
        inp = self.interpreter.get_input_details()[0]
        if tuple(inp["shape"]) != (1, 192, 192, 3) or np.dtype(inp["dtype"]) != np.float32:
            raise PeerUnavailable(f"{model_path}: unexpected input {inp['shape']} {inp['dtype']}")
        self._in = inp["index"]
        outs = {int(np.prod(d["shape"])): d["index"] for d in self.interpreter.get_output_details()}
        self._out = outs[1404]  # 468 x 3; the other output (1 value) is the face-presence logit
        self.crop = crop
        self.size_bytes = model_path.stat().st_size
        self.label = (f"MediaPipe FaceMesh {MEDIAPIPE_VERSION} face_landmark.tflite 468->68 "
                      f"(ai-edge-litert {importlib.metadata.version('ai-edge-litert')})")

    def prepare(self, image_bgr: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        s = self.input_size
        cx, cy, side = geometry.crop_square(box, self.crop.scale, self.crop.shift_x, self.crop.shift_y)
        m = geometry.crop_matrix(cx, cy, side, s)
        crop = cv2.warpAffine(image_bgr, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] * np.float32(1 / 255)
        return x, m

    def run(self, state: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        self.interpreter.set_tensor(self._in, state[0])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out)

    def mesh(self, state: tuple[np.ndarray, np.ndarray], raw: np.ndarray) -> np.ndarray:
        """All 468 mesh points ``(468, 2)`` in image pixels."""
        uv = raw.reshape(468, 3)[:, :2].astype(np.float64)
        # the model's coordinates span [0, 192] over the input; pixel centres sit at +0.5
        px = geometry.from_normalized(uv / self.input_size, self.input_size)
        return geometry.apply(geometry.invert(state[1]), px)

    def finish(self, state: tuple[np.ndarray, np.ndarray], raw: np.ndarray) -> np.ndarray:
        mesh = self.mesh(state, raw)
        return ((mesh[_MP_A] + mesh[_MP_B]) / 2).astype(np.float32)


def mediapipe_model_path(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    return Path(cache_dir) / f"mediapipe-{MEDIAPIPE_VERSION}" / "face_landmark.tflite"


def load_peers(names: Sequence[str] = PEER_NAMES, cache_dir: str | Path = DEFAULT_CACHE_DIR, num_threads: int = 1) -> list[Peer]:
    """Open the named peers (``"dlib"``, ``"mediapipe"``) for ``num_threads`` threads.

    dlib ignores ``num_threads`` (it is single-threaded; its ``num_threads`` reads 1).
    Raises :class:`PeerUnavailable` (message with the install command) when a package or model is missing.
    """
    peers: list[Peer] = []
    for name in names:
        if name == "dlib":
            peers.append(DlibPeer())
        elif name == "mediapipe":
            peers.append(MediaPipePeer(mediapipe_model_path(cache_dir), num_threads=num_threads))
        else:
            raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEER_NAMES)}")
    return peers


def fetch(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """Download the mediapipe wheel (no install) and extract ``face_landmark.tflite`` into the cache."""
    target = mediapipe_model_path(cache_dir)
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == MEDIAPIPE_SHA256:
        print(f"{target} already there")
        return target
    plat, py = MEDIAPIPE_WHEEL_PLATFORM
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}", "--no-deps",
               "--only-binary=:all:", "--platform", plat, "--python-version", py, "-d", tmp]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        wheel = next(Path(tmp).glob("mediapipe-*.whl"))
        data = zipfile.ZipFile(wheel).read(MEDIAPIPE_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != MEDIAPIPE_SHA256:
        raise RuntimeError(f"{MEDIAPIPE_MEMBER} in {wheel.name} has sha256 {digest}, expected {MEDIAPIPE_SHA256}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    print(f"wrote {target} ({len(data)} bytes)")
    return target


# --- evaluation helpers ------------------------------------------------------------------------
def gt_box(points: np.ndarray) -> np.ndarray:
    return geometry.box_from_points(points)


def predict_records(peer: Peer, records: Sequence[Any], images: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """``(F, 68, 2)`` predictions for face records (``image_path``, ``points``) with GT-box inputs."""
    import cv2

    out = np.empty((len(records), 68, 2), np.float32)
    for i, r in enumerate(records):
        img = images[i] if images is not None else cv2.imread(str(r.image_path))
        if img is None:
            raise FileNotFoundError(f"cannot read {r.image_path}")
        out[i] = peer.predict(img, gt_box(r.points))
    return out


def subset_of(name: str) -> str:
    return name.split("_", 1)[0] if "_" in name else "all"


# --- refit the box rules on TRAIN faces --------------------------------------------------------------
def _box_rule(name: str, scale: float, shift_y: float) -> DlibBox | MediaPipeCrop:
    return DlibBox(scale, 0.0, shift_y) if name == "dlib" else MediaPipeCrop(scale, 0.0, shift_y)


def refit(name: str, records: Sequence[Any], cache_dir: str | Path = DEFAULT_CACHE_DIR) -> dict[str, Any]:
    """Grid search of a peer's box rule ``(scale, shift_y)`` on the mean NME of ``records`` (TRAIN faces).

    Returns the grid, the NME surface (%), its 3 x 3 moving average and the chosen rule (minimum of
    the moving average; edge cells average their in-grid neighbours).
    """
    import cv2

    images = [cv2.imread(str(r.image_path)) for r in records]
    truth = np.stack([r.points for r in records])
    peer = load_peers([name], cache_dir)[0]
    scales, shifts = REFIT_GRID[name]
    nme = np.empty((len(scales), len(shifts)))
    for i, sc in enumerate(scales):
        for j, sy in enumerate(shifts):
            rule = _box_rule(name, float(sc), float(sy))
            if name == "dlib":
                peer.box_rule = rule  # type: ignore[attr-defined]
            else:
                peer.crop = rule  # type: ignore[attr-defined]
            nme[i, j] = summarize(predict_records(peer, records, images), truth, SCHEME).nme
        print(f"{name} scale {sc:.2f}: " + " ".join(f"{v:.3f}" for v in nme[i]), flush=True)
    pad = np.pad(nme, 1, constant_values=np.nan)
    smooth = np.nanmean(np.stack([pad[1 + di : 1 + di + nme.shape[0], 1 + dj : 1 + dj + nme.shape[1]]
                                  for di in (-1, 0, 1) for dj in (-1, 0, 1)]), axis=0)
    i, j = np.unravel_index(np.argmin(smooth), smooth.shape)
    k, m = np.unravel_index(np.argmin(nme), nme.shape)
    return {"peer": name, "faces": len(records), "scales": scales.tolist(), "shifts_y": shifts.tolist(),
            "nme": nme.round(4).tolist(), "smoothed": smooth.round(4).tolist(),
            "chosen": asdict(_box_rule(name, float(scales[i]), float(shifts[j]))),
            "chosen_nme": round(float(nme[i, j]), 4), "chosen_smoothed": round(float(smooth[i, j]), 4),
            "grid_min": {"scale": float(scales[k]), "shift_y": float(shifts[m]), "nme": round(float(nme[k, m]), 4)}}


def check_mapping(records: Sequence[Any], cache_dir: str | Path, out_png: Path, face: int = 0) -> dict:
    """Verify :data:`MP468_TO_IBUG68` on labelled (train) faces: for each iBUG point the mean error
    of the mapped vertex and the mesh vertex nearest on average; overlay PNG of one face."""
    import cv2

    peer = load_peers(["mediapipe"], cache_dir)[0]
    assert isinstance(peer, MediaPipePeer)
    meshes, truth = [], []
    for r in records:
        img = cv2.imread(str(r.image_path))
        st = peer.prepare(img, gt_box(r.points))
        meshes.append(peer.mesh(st, peer.run(st)))
        truth.append(r.points)
    mesh, t = np.stack(meshes), np.stack(truth).astype(np.float64)
    iod = normalizers(t, SCHEME)
    # mean over faces of the normalised distance from each labelled point to each mesh vertex: (68, 468)
    d = np.zeros((68, 468))
    for f in range(len(mesh)):
        d += np.linalg.norm(mesh[f][None] - t[f][:, None], axis=-1) / iod[f]
    d *= 100 / len(mesh)
    mapped = np.array([d[i, list(m)].mean() if len(m) == 1 else
                       (np.linalg.norm((mesh[:, m[0]] + mesh[:, m[1]]) / 2 - t[:, i], axis=-1) / iod).mean() * 100
                       for i, m in enumerate(MP468_TO_IBUG68)])
    nearest = d.argmin(1)
    key = {36: "right eye outer corner", 39: "right eye inner corner", 42: "left eye inner corner",
           45: "left eye outer corner", 30: "nose tip", 33: "nose base (subnasale)", 48: "right mouth corner",
           54: "left mouth corner", 8: "chin", 51: "upper lip top", 57: "lower lip bottom"}
    rows = {i: {"what": key[i], "mapped": list(MP468_TO_IBUG68[i]), "mapped_err_pct": round(float(mapped[i]), 2),
                "nearest_vertex": int(nearest[i]), "nearest_err_pct": round(float(d[i, nearest[i]]), 2)} for i in sorted(key)}
    # overlay: GT (green), mapped 68 (red, numbered), all 468 (grey)
    r = records[face]
    img = cv2.imread(str(r.image_path))
    big = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    for p in mesh[face]:
        cv2.circle(big, (int(2 * p[0] + 0.5), int(2 * p[1] + 0.5)), 1, (160, 160, 160), -1)
    mapped_pts = (mesh[face][_MP_A] + mesh[face][_MP_B]) / 2
    for i, (p, g) in enumerate(zip(mapped_pts, t[face])):
        pp, gg = (int(2 * p[0] + 0.5), int(2 * p[1] + 0.5)), (int(2 * g[0] + 0.5), int(2 * g[1] + 0.5))
        cv2.line(big, pp, gg, (0, 255, 255), 1)
        cv2.circle(big, gg, 3, (0, 200, 0), -1)
        cv2.circle(big, pp, 3, (0, 0, 255), -1)
        cv2.putText(big, str(i), (pp[0] + 3, pp[1] - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 255), 1, cv2.LINE_AA)
    cv2.putText(big, f"{r.name}: green = label, red = FaceMesh 468->68 (index), grey = 468 mesh", (8, 20),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_png), big)
    return {"faces": len(records), "overlay": str(out_png), "mapped_nme_pct": round(float(mapped.mean()), 3),
            "nearest_vertex_nme_pct": round(float(d.min(1).mean()), 3), "key_points": rows}


# --- CLI -----------------------------------------------------------------------------------------
def _load_records(data: str, limit: int) -> list[Any]:
    from pipnet_edge.data.annotations import load_faces

    records = load_faces(data)
    return records[:limit] if limit else records


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="labelled faces (300W folder); NME + latency of each peer")
    p.add_argument("--peers", nargs="+", default=list(PEER_NAMES), choices=PEER_NAMES)
    p.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR), help="where --fetch puts the mediapipe model")
    p.add_argument("--runs", type=int, default=300, help="timed runs per latency figure")
    p.add_argument("--limit", type=int, default=0, help="first N faces only")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--fetch", action="store_true", help="download mediapipe's face_landmark.tflite into --cache-dir")
    p.add_argument("--refit", action="store_true",
                   help="refit the box rules on --data (TRAIN faces only); surfaces to --json or CACHE_DIR/refit.json")
    p.add_argument("--check-mapping", action="store_true",
                   help="verify the 468->68 table on --data (train) and write an overlay PNG into --cache-dir")
    args = p.parse_args(argv)
    if args.fetch:
        fetch(args.cache_dir)
        if not args.data:
            return 0
    if not args.data:
        p.error("--data is required (or --fetch alone)")
    if (args.refit or args.check_mapping) and "test" in Path(args.data).resolve().name.lower():
        p.error("fit and check on the train faces, never on test")
    records = _load_records(args.data, args.limit)
    if args.refit:
        fitted = [refit(n, records, args.cache_dir) for n in args.peers]
        out = Path(args.json) if args.json else Path(args.cache_dir) / "refit.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(fitted, indent=1))
        for f in fitted:
            print(f"{f['peer']}: chosen {f['chosen']} train NME {f['chosen_nme']:.3f} % "
                  f"(3x3 mean {f['chosen_smoothed']:.3f} %); single best grid point {f['grid_min']}")
        print(f"surfaces in {out}; copy the chosen rules into DLIB_BOX / MEDIAPIPE_CROP")
        return 0
    if args.check_mapping:
        res = check_mapping(records, args.cache_dir, Path(args.cache_dir) / "mediapipe_mapping_check.png")
        print(json.dumps(res, indent=2))
        return 0

    import cv2

    names = [r.name for r in records]
    subsets = sorted({subset_of(n) for n in names})
    truth = np.stack([r.points for r in records])
    first = cv2.imread(str(records[0].image_path))
    box0 = gt_box(records[0].points)
    results = []
    for name in args.peers:
        row: dict[str, Any] = {"peer": name}
        for threads in (1, 2):
            peer = load_peers([name], args.cache_dir, num_threads=threads)[0]
            if peer.num_threads < threads:
                row[f"ms_{threads}t"] = row[f"p90_{threads}t"] = None  # single-threaded
                continue
            state = peer.prepare(first, box0)
            t = time_calls(partial(peer.run, state), args.runs, warmup=20)
            row[f"ms_{threads}t"], row[f"p90_{threads}t"] = round(t.median_ms, 3), round(t.p90_ms, 3)
            if threads == 1:
                row["prepare_ms"] = round(time_calls(partial(peer.prepare, first, box0), args.runs, warmup=20).median_ms, 3)
                row["finish_ms"] = round(time_calls(partial(peer.finish, state, peer.run(state)), args.runs, warmup=20).median_ms, 3)
                t0 = time.time()
                s = summarize(predict_records(peer, records), truth, SCHEME)
                nme = np.array(s.per_face)
                row["eval_s"] = round(time.time() - t0, 1)
                row["nme"] = round(s.nme, 3)
                row["fr10"] = round(s.failure_rate, 2)
                for s in subsets:
                    row[f"nme_{s}"] = round(float(nme[[subset_of(n) == s for n in names]].mean()), 3)
                rule = peer.box_rule if isinstance(peer, DlibPeer) else peer.crop  # type: ignore[attr-defined]
                row.update(label=peer.label, size_mb=round(peer.size_bytes / 1e6, 2), max_threads=peer.max_threads,
                           box_rule=asdict(rule))
            del peer
        results.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{len(records)} faces of {args.data}, GT-box inputs; latency = model call only, median (p90) of {args.runs} runs")
    for r in results:
        split = ", ".join(f"{s} {r[f'nme_{s}']:.2f}" for s in subsets) if len(subsets) > 1 else ""
        two = f"{r['ms_2t']:.3f} ({r['p90_2t']:.3f}) ms" if r["ms_2t"] is not None else "n/a (single-threaded)"
        print(f"{r['peer']:10s} NME {r['nme']:.3f} % ({split})  1 thread {r['ms_1t']:.3f} ({r['p90_1t']:.3f}) ms  "
              f"2 threads {two}  size {r['size_mb']} MB  [prepare {r['prepare_ms']:.3f} ms, finish {r['finish_ms']:.3f} ms]")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.data, "faces": len(records), "rows": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peer PIPELINES for the end-to-end benchmark: a whole photo in, 68 iBUG points for every face out.

Optional extras of ``benchmarks/suites/end_to_end.py`` (never dependencies of pipnet-edge); provision both with
``bash benchmarks/peers/get_peers.sh``.

* **MediaPipe FaceMesh** (``mediapipe==0.10.14``, ``mp.solutions.face_mesh.FaceMesh(static_image_mode=True,
  max_num_faces=20, refine_landmarks=False)``: BlazeFace short-range detection + the 468-point mesh on
  every photo, no tracking). mediapipe's pins (opencv-contrib-python, protobuf < 5) clash with our
  venv, so it lives in its own venv, ``benchmarks/.peers/mp-venv``, and runs as a **subprocess
  worker** (this file, ``--mediapipe-worker``) that the benchmark talks to over pipes: one JSON line
  per photo in (``{"path": ..., "repeat": n}``), one JSON line out (every face's 68 points, 0-based
  photo pixels, and the times). The worker times, per call, exactly: BGR -> RGB conversion +
  ``FaceMesh.process()`` + turning the 468 normalised points into 68 photo-pixel points (the image is
  read from disk before the clock starts, as the benchmark does for ours). 468 -> 68 uses
  ``peers.MP468_TO_IBUG68`` (sent to the worker when it starts; where the table names two mesh
  vertices the point is their mean). MediaPipe's Python solution API has no thread setting: it
  runs "as is" (its own thread pools, every core of the machine visible) and, as a second row,
  pinned to one core: the worker calls ``os.sched_setaffinity`` before it imports numpy or mediapipe,
  so every thread it starts inherits it (the same as ``taskset -c 0``). The worker reports how many OS
  threads it runs after warm-up.
* **dlib** (``dlib-bin``, in our venv): the HOG frontal face detector
  (``dlib.get_frontal_face_detector()``, ``upsample`` 0 or 1: 1 doubles the photo first, finds faces down
  to ~40 px instead of ~80 px at 4x the cost) + the 68-point shape predictor of
  ``face-recognition-models`` (``peers.DlibPeer``'s model), on the detector's own rectangles as
  dlib intends. Single-threaded (dlib has no threading option for either). Timed: BGR -> RGB +
  detection + prediction for every face + conversion.

Interface (what the end_to_end suite uses): :func:`open_peer_pipelines` returns the pipelines that
could be opened and a ``{key: reason}`` dict of those that could not; each pipeline has ``key``,
``label``, ``threads`` (a description of its thread setting), ``kind = "peer"``, and
``run(image_bgr, path, repeat) -> (faces, ms)`` where ``faces`` is a list of ``(68, 2)`` float32
arrays and ``ms`` the per-call times; ``close()`` ends a worker.

Standalone check::

    python -m benchmarks.peers.pipelines --check ../shared/data/300w/test_full/helen_296814969_3.jpg
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# The mediapipe worker pins itself HERE, before numpy or mediapipe start a thread, so that every thread
# it ever runs inherits the affinity (as under `taskset`; preexec_fn is unsafe in a threaded parent).
_PIN_ENV = "PIPNET_E2E_WORKER_CPUS"
if __name__ == "__main__" and os.environ.get(_PIN_ENV) and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(c) for c in os.environ[_PIN_ENV].split(",")})

import numpy as np  # noqa: E402  (after the pin above, on purpose)

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE_DIR = HERE.parent / ".peers"  # benchmarks/.peers (git-ignored); the worker cannot import the package
MP_VERSION = "0.10.14"
MP_MAX_FACES = 20
PEER_PIPELINES = ("mediapipe", "mediapipe-1core", "dlib-hog0", "dlib-hog1")

__all__ = [
    "DEFAULT_CACHE_DIR",
    "MP_MAX_FACES",
    "PEER_PIPELINES",
    "DlibPipeline",
    "MediaPipeWorker",
    "mp_python",
    "open_peer_pipelines",
]


class PeerPipelineUnavailable(RuntimeError):
    """A peer pipeline cannot run here; the message says why and how to install it."""


def mp_python(cache_dir: str | Path = DEFAULT_CACHE_DIR) -> Path:
    """The interpreter of the mediapipe venv (made by ``get_peers.sh``)."""
    return Path(cache_dir) / "mp-venv" / "bin" / "python"


# --------------------------------------------------------------------------------- MediaPipe worker
class MediaPipeWorker:
    """The FaceMesh pipeline in a subprocess of ``benchmarks/.peers/mp-venv``.

    Args:
        cache_dir: holds ``mp-venv``.
        cpus: ``None``: as is (MediaPipe's own threading, all cores visible); a set of CPU ids: the
            worker is pinned to them (``sched_setaffinity`` before ``exec``).
        max_num_faces: FaceMesh's ``max_num_faces``.
        warmup: a photo processed a few times (untimed) when the worker starts.
    """

    kind = "peer"

    def __init__(self, cache_dir: str | Path = DEFAULT_CACHE_DIR, cpus: set[int] | None = None,
                 max_num_faces: int = MP_MAX_FACES, warmup: str | Path | None = None, timeout_s: float = 120) -> None:
        from benchmarks.peers.landmarkers import MP468_TO_IBUG68

        py = mp_python(cache_dir)
        if not py.is_file():
            raise PeerPipelineUnavailable(f"no mediapipe venv at {py.parent.parent}: bash benchmarks/peers/get_peers.sh")
        if cpus is not None and not hasattr(os, "sched_setaffinity"):
            raise PeerPipelineUnavailable("pinning to one core needs os.sched_setaffinity (Linux)")
        self.cpus = None if cpus is None else set(cpus)
        self.timeout_s = timeout_s
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - the worker's stderr, read on failure
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", _PIN_ENV)}
        env.setdefault("GLOG_minloglevel", "2")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if self.cpus is not None:
            env[_PIN_ENV] = ",".join(map(str, sorted(self.cpus)))
        self.proc = subprocess.Popen([str(py), "-u", str(Path(__file__).resolve()), "--mediapipe-worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     bufsize=1, env=env, cwd=str(HERE))
        hello = self._call({"init": {"max_num_faces": max_num_faces, "mapping": [list(m) for m in MP468_TO_IBUG68],
                                     "warmup": str(Path(warmup).resolve()) if warmup else None}})
        self.version = hello["mediapipe"]
        self.os_threads = hello.get("os_threads")
        self.worker_cpus = hello.get("cpus")
        where = "as is" if self.cpus is None else f"pinned to core {','.join(map(str, sorted(self.cpus)))}"
        self.key = "mediapipe" if self.cpus is None else "mediapipe-1core"
        self.label = f"MediaPipe FaceMesh {self.version} pipeline (BlazeFace short + mesh, 468->68), {where}"
        if self.cpus is None:
            self.threads = (f"MediaPipe's own (not settable; {len(hello.get('cpus') or [])} cores visible, "
                            f"{self.os_threads} OS threads after warm-up)")
        else:
            self.threads = (f"{len(self.worker_cpus or [])} core (sched_setaffinity: the worker runs on cores "
                            f"{self.worker_cpus}; {self.os_threads} OS threads after warm-up, sharing it)")

    def _call(self, msg: dict) -> dict:
        if self.proc.poll() is not None:
            raise PeerPipelineUnavailable(f"mediapipe worker exited ({self.proc.returncode}): {self._log_tail()}")
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise PeerPipelineUnavailable(f"mediapipe worker died: {self._log_tail()}")
        out = json.loads(line)
        if "error" in out:
            raise PeerPipelineUnavailable(f"mediapipe worker: {out['error']}")
        return out

    def _log_tail(self) -> str:
        self._log.seek(0)
        return " | ".join(self._log.read().strip().splitlines()[-5:])

    def run(self, image_bgr: np.ndarray | None, path: str | Path, repeat: int = 1) -> tuple[list[np.ndarray], list[float]]:
        """Every face's ``(68, 2)`` points and the per-call times (ms, measured in the worker) for the photo at
        ``path`` (the worker reads the file itself; ``image_bgr`` is unused)."""
        out = self._call({"path": str(Path(path).resolve()), "repeat": int(repeat)})
        return [np.asarray(f, np.float32).reshape(68, 2) for f in out["faces"]], [float(t) for t in out["ms"]]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            if self.proc.poll() is None:
                self.proc.kill()
        except Exception:  # noqa: BLE001, S110 - interpreter shutdown: nothing left to tell
            pass


def _worker_main() -> int:
    """Runs inside mp-venv: JSON lines in on stdin, JSON lines out on the ORIGINAL stdout.

    Whatever mediapipe / glog / TFLite print goes to stderr: fd 1 is pointed at stderr first.
    """
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        import cv2
        import mediapipe as mp
    except Exception as exc:  # noqa: BLE001
        proto.write(json.dumps({"error": f"cannot import mediapipe: {exc!r}"}) + "\n")
        return 1
    fm = None
    idx_a = idx_b = None

    def process(img: np.ndarray) -> list[np.ndarray]:
        h, w = img.shape[:2]
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        res = fm.process(rgb)
        faces = []
        for lms in res.multi_face_landmarks or ():
            xy = np.array([(p.x, p.y) for p in lms.landmark], np.float64)
            # normalised [0, 1] over the photo's extent -> 0-based pixel centres
            px = xy * (w, h) - 0.5
            faces.append(((px[idx_a] + px[idx_b]) / 2).astype(np.float32))
        return faces

    for line in sys.stdin:
        try:
            msg = json.loads(line)
            if "init" in msg:
                cfg = msg["init"]
                mapping = cfg["mapping"]
                idx_a = np.array([m[0] for m in mapping])
                idx_b = np.array([m[-1] for m in mapping])
                fm = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=int(cfg["max_num_faces"]),
                                                     refine_landmarks=False)
                if cfg.get("warmup"):
                    img = cv2.imread(cfg["warmup"])
                    for _ in range(3):
                        process(img)
                cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
                threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
                proto.write(json.dumps({"mediapipe": mp.__version__, "cpus": cpus, "os_threads": threads}) + "\n")
                continue
            img = cv2.imread(msg["path"])
            if img is None:
                raise FileNotFoundError(msg["path"])
            # the mp-venv has no pipnet_edge, so this loop stands in for pipnet_edge.evaluation.timing.time_calls
            # (runs=repeat, warmup=0): the same perf_counter clock around each call, the first call's faces kept
            ms, faces = [], []
            for r in range(max(1, int(msg.get("repeat", 1)))):
                t0 = time.perf_counter()
                got = process(img)
                ms.append((time.perf_counter() - t0) * 1000)
                if r == 0:
                    faces = got
            proto.write(json.dumps({"faces": [np.round(f, 3).tolist() for f in faces], "ms": ms}) + "\n")
        except Exception as exc:  # noqa: BLE001
            proto.write(json.dumps({"error": repr(exc)}) + "\n")
    if fm is not None:
        fm.close()
    return 0


# ------------------------------------------------------------------------------------ dlib pipeline
class DlibPipeline:
    """dlib HOG frontal face detector (``upsample`` 0 or 1) + the 68-point ERT predictor; single-threaded."""

    kind = "peer"
    threads = "1 (dlib is single-threaded)"

    def __init__(self, upsample: int = 0) -> None:
        from benchmarks.peers.landmarkers import DlibPeer, PeerUnavailable

        try:
            peer = DlibPeer()  # locates and loads the predictor (face-recognition-models)
        except PeerUnavailable as exc:
            raise PeerPipelineUnavailable(str(exc)) from None
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = peer.predictor
        self.model_file = peer.model_path  # the 68-point predictor's .dat (its sha256 goes into the result)
        self.upsample = int(upsample)
        self.key = f"dlib-hog{self.upsample}"
        self.label = f"dlib {dlib.__version__} HOG (upsample {self.upsample}) + 68-point ERT"

    def predict(self, image_bgr: np.ndarray) -> list[np.ndarray]:
        import cv2

        rgb = np.ascontiguousarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        faces = []
        for rect in self.detector(rgb, self.upsample):
            shape = self.predictor(rgb, rect)
            faces.append(np.array([(p.x, p.y) for p in shape.parts()], np.float32))
        return faces

    def run(self, image_bgr: np.ndarray, path: str | Path | None = None, repeat: int = 1) -> tuple[list[np.ndarray], list[float]]:
        from pipnet_edge.evaluation.timing import time_calls  # not at the top: the mediapipe worker runs this file too

        t = time_calls(lambda: self.predict(image_bgr), max(1, int(repeat)), warmup=0)
        return t.result, list(t.samples_ms)

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------- open
def open_peer_pipelines(names: Sequence[str] = PEER_PIPELINES, cache_dir: str | Path = DEFAULT_CACHE_DIR,
                        warmup: str | Path | None = None, pin_cpu: int = 0) -> tuple[list, dict[str, str]]:
    """Open the named peer pipelines; returns ``(pipelines, {name: why it was skipped})``.

    ``"mediapipe"``: the FaceMesh worker as is; ``"mediapipe-1core"``: pinned to core ``pin_cpu``;
    ``"dlib-hog0"`` / ``"dlib-hog1"``: dlib with HOG upsample 0 / 1.
    """
    opened, skipped = [], {}
    for name in names:
        try:
            if name == "mediapipe":
                opened.append(MediaPipeWorker(cache_dir, None, warmup=warmup))
            elif name == "mediapipe-1core":
                opened.append(MediaPipeWorker(cache_dir, {pin_cpu}, warmup=warmup))
            elif name.startswith("dlib-hog"):
                opened.append(DlibPipeline(int(name[len("dlib-hog"):])))
            else:
                raise ValueError(f"unknown peer pipeline {name!r}; known: {', '.join(PEER_PIPELINES)}")
        except PeerPipelineUnavailable as exc:
            skipped[name] = str(exc)
    return opened, skipped


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mediapipe-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--check", metavar="PHOTO", help="run every peer pipeline on one photo and print what it found")
    p.add_argument("--peers", nargs="+", default=list(PEER_PIPELINES), choices=PEER_PIPELINES)
    p.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR))
    args = p.parse_args(argv)
    if args.mediapipe_worker:
        return _worker_main()
    if not args.check:
        p.error("--check PHOTO (or run python -m benchmarks end_to_end)")
    import cv2

    img = cv2.imread(args.check)
    pipes, skipped = open_peer_pipelines(args.peers, args.cache_dir, warmup=args.check)
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    for pipe in pipes:
        faces, ms = pipe.run(img, args.check, repeat=5)
        print(f"{pipe.key}: {len(faces)} face(s), median {np.median(ms):.1f} ms; threads: {pipe.threads}\n    {pipe.label}")
        for f in faces:
            print(f"    box {np.round([*f.min(0), *f.max(0)], 1).tolist()}")
        pipe.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sony IMX500 (the Raspberry Pi AI Camera): MCT quantization and ``imxconv-pt``, each in its own virtual environment.

Sony's tools install from the package registry but clash with each other and with our export toolchain
(``imx500-converter`` pins ``mct-quantizers~=1.6``, ``model-compression-toolkit`` 2.6 needs ``~=1.7``), so
``scripts/setup_imx500.sh`` installs them on demand into ``.venv-mct`` and ``.venv-imxconv`` beside the checkout
(or where ``PIPNET_EDGE_MCT_VENV`` / ``PIPNET_EDGE_IMXCONV_VENV`` say), and pipnet-edge drives them by subprocess,
never importing either:

1. ``.venv-mct/bin/python imx500_mct.py run JOB.json`` (:mod:`pipnet_edge.converters.imx500_mct`): MCT post-training
   quantization of the float model for the IMX500's target platform capabilities (SDSP 3.18), calibrated on our
   calibration crops; MCT's ONNX; MCT's quantized network run in simulation on the crops the accuracy check needs.
2. ``.venv-imxconv/bin/imxconv-pt -i M.onnx -o DIR`` (Java 17 on PATH): ``packerOut.zip`` (what ``imx500-package``
   turns into the camera's ``.rpk`` on the Pi) and ``*_MemoryReport.json`` (``Fit In Chip``, memory use).

:func:`check_imx500_tools` runs before any work and names exactly what is missing and the command that installs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError

__all__ = [
    "IMXCONV_VERSION", "JAVA_MAJOR", "MCT_VERSION", "SDSP_VERSION", "SETUP_COMMAND", "SIDECAR_NAME", "Imx500Tools",
    "ReplayBackend", "build_imx500", "check_imx500_tools", "find_imx500_tools", "missing_imx500_tools",
    "read_memory_report", "run_imxconv", "run_mct",
]

ROOT = Path(__file__).resolve().parents[2]  # the checkout (an editable install): where the venvs live by default
SETUP_COMMAND = "scripts/setup_imx500.sh"
MCT_VERSION = "2.6.1"  # model-compression-toolkit, as scripts/imx500-mct-requirements.txt pins it
IMXCONV_VERSION = "3.19.2"  # imx500-converter[pt]
JAVA_MAJOR = 17
SDSP_VERSION = "3.18"  # the converter version whose target platform capabilities MCT quantizes for (TPC v5.0)
SIDECAR_NAME = "pipnet_edge.json"  # beside packerOut.zip: our metadata, which the .zip / .rpk cannot carry
DRIVER = Path(__file__).resolve().with_name("imx500_mct.py")
log = logging.getLogger("pipnet_edge.export")


@dataclass(frozen=True)
class Imx500Tools:
    """Where the IMX500 tools are: the MCT venv's Python, ``imxconv-pt`` and ``java``."""

    mct_python: Path
    imxconv: Path
    java: str
    versions: dict[str, Any]


def _venv(env: str, default: str) -> Path:
    return Path(os.environ.get(env) or ROOT / default)


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(m.group(1)) if m else None


def missing_imx500_tools() -> tuple[list[str], Imx500Tools | None]:
    """What is missing for the ``imx500`` target (one line each; empty when all is there) and the tools found."""
    missing: list[str] = []
    mct_venv = _venv("PIPNET_EDGE_MCT_VENV", ".venv-mct")
    imx_venv = _venv("PIPNET_EDGE_IMXCONV_VENV", ".venv-imxconv")
    mct_python = mct_venv / "bin" / "python"
    imxconv = imx_venv / "bin" / "imxconv-pt"
    versions: dict[str, Any] = {}
    if not mct_python.is_file():
        missing.append(f"Sony's Model Compression Toolkit: no virtual environment at {mct_venv} "
                       f"(model-compression-toolkit {MCT_VERSION} on CPU torch; set PIPNET_EDGE_MCT_VENV to use another)")
    else:
        try:
            proc = subprocess.run([str(mct_python), str(DRIVER), "check"], capture_output=True, text=True, timeout=300,
                                  check=False)
            info = json.loads(proc.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
            info = {"ok": False, "error": "its Python did not answer"}
        versions["mct"] = info
        if not info.get("ok"):
            missing.append(f"Sony's Model Compression Toolkit in {mct_venv} does not import: {info.get('error')}")
    if not imxconv.is_file():
        missing.append(f"Sony's IMX500 converter: no imxconv-pt at {imxconv} (imx500-converter[pt] {IMXCONV_VERSION}; "
                       "set PIPNET_EDGE_IMXCONV_VENV to use another virtual environment)")
    java = shutil.which("java")
    if java is None:
        missing.append(f"a Java {JAVA_MAJOR} runtime on PATH for imxconv-pt "
                       f"(a system package: sudo apt-get install openjdk-{JAVA_MAJOR}-jre-headless)")
    else:
        major = _java_major(java)
        versions["java"] = major
        if major is None or major < JAVA_MAJOR:
            missing.append(f"Java {JAVA_MAJOR} for imxconv-pt: {java} is Java {major or '?'} "
                           f"(sudo apt-get install openjdk-{JAVA_MAJOR}-jre-headless)")
    if missing:
        return missing, None
    return [], Imx500Tools(mct_python, imxconv, java, versions)


_FOUND: dict[tuple, tuple[list[str], Imx500Tools | None]] = {}


def _found() -> tuple[list[str], Imx500Tools | None]:
    """:func:`missing_imx500_tools`, asked once per process for the same venvs and PATH (the MCT check imports MCT)."""
    key = tuple(os.environ.get(k) for k in ("PIPNET_EDGE_MCT_VENV", "PIPNET_EDGE_IMXCONV_VENV", "PATH"))
    if key not in _FOUND or _FOUND[key][1] is None:
        _FOUND[key] = missing_imx500_tools()
    return _FOUND[key]


def check_imx500_tools() -> Imx500Tools:
    """The IMX500 tools, or :class:`ExportError` saying exactly what is missing and how to install it."""
    missing, tools = _found()
    if missing:
        lines = "\n  ".join(missing)
        raise ExportError(f"target imx500 needs Sony's IMX500 tools, each in its own virtual environment; missing:\n  "
                          f"{lines}\ninstall them with: {SETUP_COMMAND}   (from the pipnet-edge checkout; "
                          f"Java {JAVA_MAJOR} is a system requirement it checks, not something it installs)")
    return tools


def find_imx500_tools() -> Imx500Tools | None:
    """The IMX500 tools when all are installed, else ``None`` (for tests and benchmarks that skip without them)."""
    return _found()[1]


# --------------------------------------------------------------------------- MCT (in .venv-mct)
def run_mct(tools: Imx500Tools, weights: Path, calib: np.ndarray, runs: dict[str, np.ndarray] | None = None,
            onnx_path: Path | None = None, *, threads: int | None = None, timeout: float = 3600,
            verbose: bool = False) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Quantize the float model ``weights`` with MCT on ``calib`` (``(K, S, S, 3)`` uint8 RGB crops), export MCT's
    ONNX to ``onnx_path`` (when given) and run the quantized network on each crop set of ``runs``.

    Returns MCT's report (versions, seconds, calibration count) and, per run, the five heads channels-last.

    Raises:
        ExportError: the driver fails or times out (its last lines in the message).
    """
    runs = runs or {}
    with tempfile.TemporaryDirectory(prefix="pipnet-imx500-") as tmp:
        tmp = Path(tmp)
        np.save(tmp / "calib.npy", np.ascontiguousarray(calib, dtype=np.uint8))
        job: dict[str, Any] = {"weights": str(weights), "calib": str(tmp / "calib.npy"), "report": str(tmp / "report.json"),
                               "onnx": str(onnx_path) if onnx_path else None, "threads": threads, "run": {}}
        for name, crops in runs.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(crops, dtype=np.uint8))
            job["run"][name] = {"crops": str(tmp / f"{name}.npy"), "heads": str(tmp / f"{name}.heads.npz")}
        (tmp / "job.json").write_text(json.dumps(job))
        cmd = [str(tools.mct_python), str(DRIVER), "run", str(tmp / "job.json")]
        try:
            proc = subprocess.run(cmd, capture_output=not verbose, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ExportError(f"MCT did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0 or not (tmp / "report.json").is_file():
            tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).strip().splitlines()[-15:])
            raise ExportError(f"MCT quantization failed (exit {proc.returncode}):\n{tail}")
        report = json.loads((tmp / "report.json").read_text())
        heads = {}
        for name, spec in job["run"].items():
            with np.load(spec["heads"]) as z:
                heads[name] = {k: z[k] for k in z.files}
    return report, heads


# --------------------------------------------------------------------------- imxconv-pt (in .venv-imxconv)
def run_imxconv(tools: Imx500Tools, onnx_path: Path, out_dir: Path, *, timeout: float = 1800,
                verbose: bool = False) -> dict[str, Any]:
    """``imxconv-pt -i onnx_path -o out_dir --overwrite-output``; returns its memory report (``fits_in_chip``,
    memory use in bytes and MB, the chip's capacity) and the files it wrote.

    Raises:
        ExportError: the converter fails, times out, or writes no ``packerOut.zip``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [str(tools.imxconv), "-i", str(onnx_path), "-o", str(out_dir), "--overwrite-output", "--report-size-unit", "B"]
    env = dict(os.environ, PATH=f"{Path(tools.java).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, capture_output=not verbose, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise ExportError(f"imxconv-pt did not finish within {timeout:.0f} s") from None
    packer = out_dir / "packerOut.zip"
    if proc.returncode != 0 or not packer.is_file():
        tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).strip().splitlines()[-15:])
        raise ExportError(f"imxconv-pt failed (exit {proc.returncode}):\n{tail}")
    report = {"compiler": f"imxconv-pt {IMXCONV_VERSION}", **read_memory_report(out_dir)}
    report["seconds"] = round(time.time() - t0, 1)
    return report


def _bytes(value: Any) -> int | None:
    """``"1620864B"`` (``--report-size-unit B``), ``"1.55MB"``, ``"426.09KB"`` -> bytes (KB, MB: powers of 1024)."""
    if isinstance(value, (int, float)):
        return int(value)
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMG]?)B?\s*", str(value or ""))
    if not m:
        return None
    return round(float(m.group(1)) * 1024 ** " KMG".index(m.group(2) or " "))


def read_memory_report(out_dir: Path) -> dict[str, Any]:
    """The converter's ``*_MemoryReport.json`` in ``out_dir`` in our keys: ``fits_in_chip``, ``memory_bytes`` (model
    + runtime + reserved), ``model_memory_bytes``, ``runtime_memory_bytes``, ``chip_memory_bytes`` (8 MiB),
    ``memory_utilization`` (the report's percentage), ``input_persistent``; its own text under ``memory_report``."""
    path = next(iter(sorted(out_dir.glob("*_MemoryReport.json"))), None)
    if path is None:
        return {"fits_in_chip": None, "memory_report_file": None}
    raw = json.loads(path.read_text())
    rep = raw.get("Memory Report", raw)
    util = re.match(r"\s*([\d.]+)", str(rep.get("Memory Utilization", "")))
    return {
        "fits_in_chip": rep.get("Fit In Chip"),
        "memory_bytes": _bytes(rep.get("Memory Usage")),
        "model_memory_bytes": _bytes(rep.get("Model Memory Physical Size")),
        "runtime_memory_bytes": _bytes(rep.get("Runtime Memory Physical Size")),
        "chip_memory_bytes": _bytes(rep.get("Total Memory Available On Chip")),
        "memory_utilization_percent": float(util.group(1)) if util else None,
        "input_persistent": rep.get("Input Persistent"),
        "memory_report_file": path.name,
        "memory_report": raw,
    }



# --------------------------------------------------------------------------- the export target
def _check_crops(ctx, spec) -> np.ndarray | None:
    """The crops the run's accuracy check will ask the network for: the bundled check set's, or ``--data``'s faces
    cropped from their ground-truth boxes (the first ``data_limit``; 0 = all); ``None`` with ``--data none``."""
    data = ctx.check_data
    if data is not None and str(data) == "none":
        return None
    if data is None:
        from ..calibration.check_set import load_check_set

        return load_check_set().crops(spec.input_size)
    from ..data.annotations import load_faces
    from ..evaluation.runner import read_face_crops

    faces = load_faces(data)
    if ctx.data_limit:
        faces = faces[: ctx.data_limit]
    return read_face_crops(faces, spec)[0]


def build_imx500(ctx, target, path: Path, metadata: str) -> tuple[Path, dict[str, Any]]:
    """The ``imx500`` target: ``path.with_suffix("")/packerOut.zip`` (with the converter's memory report, MCT's ONNX
    and :data:`SIDECAR_NAME`, our metadata), the compiler report (``fits_in_chip``, memory use) and the quantization
    account; MCT's simulation of the quantized network on the accuracy check's crops is left in ``ctx.simulated``."""
    import torch

    from ..models.checkpoint import save_model
    from ..runtime.artifact import HEAD_NAMES, decode_metadata

    tools = check_imx500_tools()
    model = ctx.require_float_model(target.name)
    if ctx.calib is None:
        raise ExportError("target imx500 quantizes the float model with MCT on calibration faces: pass --calib DIR "
                          "(calib= in Python): training faces, never the test set")
    spec = model.spec
    folder = path.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path = folder / f"{folder.name}.onnx"  # MCT's ONNX; imxconv-pt names its reports after it
    crops = _check_crops(ctx, spec)
    log.info("%-14s MCT post-training quantization (IMX500, SDSP %s) on %d calibration crops%s", target.name,
             SDSP_VERSION, len(ctx.calib), "" if crops is None else f", then its simulation on {len(crops)} check crops")
    with tempfile.TemporaryDirectory(prefix="pipnet-imx500-") as tmp:
        weights = Path(tmp) / "float.safetensors"
        save_model(model, weights, dtype=torch.float32)
        mct, heads = run_mct(tools, weights, ctx.calib.images, {} if crops is None else {"check": crops}, onnx_path,
                             verbose=ctx.verbose)
    log.info("%-14s MCT: %.0f s; imxconv-pt -> %s", target.name, mct.get("seconds", 0), folder)
    conv = run_imxconv(tools, onnx_path, folder, verbose=ctx.verbose)
    packer = folder / "packerOut.zip"
    report = {k: v for k, v in conv.items() if k != "memory_report"}
    report["mct"] = {k: mct.get(k) for k in ("quantize_seconds", "export_seconds", "calibration_crops")}
    report["mct"]["versions"] = mct.get("versions")
    quantization = {
        "method": "mct-ptq",
        "toolkit": f"model-compression-toolkit {(mct.get('versions') or {}).get('model-compression-toolkit')}",
        "target_platform": f"IMX500, SDSP {SDSP_VERSION} (get_target_platform_capabilities_sdsp)",
        "normalization": "folded into the first convolution: the chip's input is the camera's 8-bit RGB pixels",
        "calibration": ctx.calib.info,
    }
    doc = json.loads(metadata)
    doc["export"].update({
        "quantization": quantization,
        "input": {"name": "the camera's inference ROI, scaled to the input size", "layout": "chip", "range": [0, 255],
                  "color": "RGB"},
        "output_layout": "CHW",  # per head, as Picamera2's IMX500.get_outputs() returns it (no batch)
        "outputs": list(HEAD_NAMES),  # their order (the network's output ordinals)
        "npu": {"vendor": "Sony", "accelerator": "IMX500 (Raspberry Pi AI Camera)", "packer": packer.name, **report},
    })
    sidecar = folder / SIDECAR_NAME
    sidecar.write_text(json.dumps(doc, indent=1))
    if heads:
        info = decode_metadata(json.dumps(doc), str(sidecar))

        def simulated(crops=crops, heads=heads["check"], info=info):
            from ..runtime import Landmarker

            return Landmarker.from_backend(ReplayBackend(crops, heads, packer, info), detector=None)

        ctx.simulated[target.name] = simulated
    if report.get("fits_in_chip") is False:
        log.warning("%s: imxconv-pt says the network does not fit in the IMX500's memory (%s)", target.name,
                    conv.get("memory_report_file"))
    return packer, {"compiler_report": report, "quantization": quantization, "files": [packer, sidecar]}


# --------------------------------------------------------------------------- the simulation's outputs, replayed
class ReplayBackend:
    """A runtime backend that returns heads computed elsewhere (MCT's simulation, in ``.venv-mct``) for the exact
    crops they were computed on, so the accuracy check runs through the runtime's one path
    (:meth:`Landmarker.predict_crops <pipnet_edge.runtime.Landmarker.predict_crops>` and its decode)."""

    name = "MCT simulation"
    closed = False

    def __init__(self, crops: np.ndarray, heads: dict[str, np.ndarray], path: Path, info) -> None:
        self.path = Path(path)
        self.info = info
        self.num_threads = None
        self._index = {self._key(c): i for i, c in enumerate(crops)}
        self._heads = heads

    @staticmethod
    def _key(crop: np.ndarray) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(crop, dtype=np.uint8).tobytes(), digest_size=16).digest()

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        try:
            rows = [self._index[self._key(img)] for img in images]
        except KeyError:
            raise ExportError("the MCT simulation was not run on this crop (a crop the export did not send)") from None
        return {k: v[rows] for k, v in self._heads.items()}

    def close(self) -> None:
        self.closed = True

    def describe(self) -> str:
        return f"{self.name} ({self.path.name}, int8)"

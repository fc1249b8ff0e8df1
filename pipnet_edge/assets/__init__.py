"""Models shipped inside the package (trained on 300W: non-commercial research use only).

Each bundled model is a family of three files named after its stem:

* ``<stem>_int8.tflite``: the full-INT8 TFLite the runtime loads (``Landmarker("lite")``);
* ``<stem>_fp16.safetensors``: the float weights (float16), for float exports;
* ``<stem>_qat.safetensors``: the QAT model, from which every INT8 target is exported.

Every model file here (and the face detectors under ``detectors/``) is listed with its SHA-256 in ``SHA256SUMS``
(``sha256sum`` format). A file is checked against it the first time a process opens it: a corrupted or truncated
install raises :class:`~pipnet_edge.errors.ModelLoadError` instead of running silently. After replacing a bundled
file on purpose (``scripts/bundle_model.py``, ``scripts/quantize_blazeface.py``), :func:`write_manifest` rewrites it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError

__all__ = ["ASSETS_DIR", "BundledModel", "BUNDLED", "BUNDLED_MODELS", "bundled_model_path", "verify_asset", "write_manifest",
           "MANIFEST", "MODEL_SUFFIXES"]

ASSETS_DIR = Path(__file__).resolve().parent
MANIFEST = ASSETS_DIR / "SHA256SUMS"
MODEL_SUFFIXES = (".tflite", ".onnx", ".safetensors")  # the files the manifest covers


@dataclass(frozen=True)
class BundledModel:
    """One shipped model: its name, file stem and what it is for."""

    name: str
    stem: str
    description: str

    @property
    def files(self) -> dict[str, str]:
        """``{"<name>": int8 tflite, "<name>-float": fp16 weights, "<name>-qat": QAT model}``."""
        return {
            self.name: f"{self.stem}_int8.tflite",
            f"{self.name}-float": f"{self.stem}_fp16.safetensors",
            f"{self.name}-qat": f"{self.stem}_qat.safetensors",
        }


BUNDLED = {
    "default": BundledModel("default", "pipnet_mbv2_300w68", "MobileNetV2-PIPNet-68, 256x256 input, stride 32: the accurate one"),
    "lite": BundledModel("lite", "pipnet_lite_300w68",
                         "MobileNetV2 cut at stride 16 with a 512-channel projection, 112x112 input, num_nb 5: the fast one"),
}

# every bundled file by name ("default", "default-float", "default-qat", "lite", ...)
BUNDLED_MODELS = {key: file for model in BUNDLED.values() for key, file in model.files.items()}


def bundled_model_path(name: str = "default") -> Path:
    """Path of a bundled file by name; a clear error when the name is unknown or the file is missing."""
    if name not in BUNDLED_MODELS:
        raise ModelLoadError(f"unknown bundled model {name!r}; bundled: {', '.join(BUNDLED_MODELS)}")
    path = ASSETS_DIR / BUNDLED_MODELS[name]
    if not path.is_file():
        raise ModelLoadError(f"bundled model {name!r} ({path.name}) is missing from this installation")
    return verify_asset(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest() -> dict[str, str]:
    if not MANIFEST.is_file():
        raise ModelLoadError(f"{MANIFEST} is missing from this installation; reinstall pipnet-edge")
    entries = {}
    for line in MANIFEST.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.lstrip("*")] = digest
    return entries


_verified: dict[tuple[str, int, int], bool] = {}
_verify_lock = threading.Lock()


def verify_asset(path: str | Path, name: str | None = None) -> Path:
    """``path`` after checking its SHA-256 against ``SHA256SUMS`` (under ``name``, default: its path relative to the
    assets folder); once per file and process (keyed by path, size and modification time).

    Raises:
        ModelLoadError: the file is not in the manifest, or its content differs (corrupted, truncated, replaced).
    """
    path = Path(path)
    key = name or path.resolve().relative_to(ASSETS_DIR).as_posix()
    st = path.stat()
    cache = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _verify_lock:
        if _verified.get(cache):
            return path
        expected = _manifest().get(key)
        if expected is None:
            raise ModelLoadError(f"bundled file {key} is not listed in {MANIFEST.name}; reinstall pipnet-edge")
        if _sha256(path) != expected:
            raise ModelLoadError(f"bundled file {key} ({path}) is corrupted: its SHA-256 differs from {MANIFEST.name}; "
                                 "reinstall pipnet-edge")
        _verified[cache] = True
    return path


def write_manifest() -> Path:
    """Rewrite ``SHA256SUMS`` from the model files now in the assets folder (after replacing one on purpose)."""
    files = sorted(p for p in ASSETS_DIR.rglob("*") if p.is_file() and p.suffix in MODEL_SUFFIXES)
    MANIFEST.write_text("".join(f"{_sha256(p)}  {p.relative_to(ASSETS_DIR).as_posix()}\n" for p in files))
    return MANIFEST

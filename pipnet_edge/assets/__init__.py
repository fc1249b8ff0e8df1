"""Models shipped inside the package (trained on 300W: non-commercial research use only).

Each bundled model is a family of three files named after its stem:

* ``<stem>_int8.tflite``: the full-INT8 TFLite the runtime loads (``Landmarker("lite")``);
* ``<stem>_fp16.safetensors``: the float weights (float16), for float exports;
* ``<stem>_qat.safetensors``: the QAT model, from which every INT8 target is exported.

The wheel (what a device installs) carries the INT8 files, the detectors and ``SHA256SUMS`` only; the float and QAT
weights are in the git checkout and the sdist, and an editable install of either (``scripts/setup.sh``) reads them from
this folder (``pyproject.toml``: ``exclude-package-data``; ``tests/test_packaging.py``).

Every model file here (and the face detectors under ``detectors/``) is listed with its SHA-256 in ``SHA256SUMS``
(``sha256sum`` format). A file is checked against it the first time a process opens it: a corrupted or truncated
install raises :class:`~pipnet_edge.errors.ModelLoadError` instead of running silently. After replacing a bundled
file on purpose (``scripts/bundle_model.py``, ``scripts/quantize_blazeface.py``), :func:`write_manifest` rewrites it.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError

__all__ = ["ASSETS_DIR", "CARDS", "ModelCard", "ResolvedModel", "get_card", "model_names", "resolve_model",
           "BUNDLED_MODELS", "bundled_model_path", "verify_asset", "write_manifest", "MANIFEST", "MODEL_SUFFIXES"]

ASSETS_DIR = Path(__file__).resolve().parent
MANIFEST = ASSETS_DIR / "SHA256SUMS"
MODEL_SUFFIXES = (".tflite", ".onnx", ".safetensors")  # the files the manifest covers


from .registry import CARDS, ModelCard, ResolvedModel, bundled_files, get_card, model_names, resolve_model


def bundled_model_path(name: str = "default") -> Path:
    """Path of a bundled file by name (see :func:`~pipnet_edge.assets.registry.model_names`); a clear error when the
    name is unknown or the file is missing or corrupted."""
    if not isinstance(name, str) or name not in BUNDLED_MODELS:
        raise ModelLoadError(f"unknown bundled model {name!r}; bundled: {', '.join(model_names())}")
    return resolve_model(name).path


# every bundled file by name ("default", "default-int8", "default-fp16", "default-qat", "lite", ...), old names included
BUNDLED_MODELS = bundled_files()


@dataclass(frozen=True)
class BundledModel:
    """Deprecated: use :class:`~pipnet_edge.assets.registry.ModelCard` (``get_card(name)``)."""

    name: str
    stem: str
    description: str

    @property
    def files(self) -> dict[str, str]:
        return {self.name: f"{self.stem}_int8.tflite", f"{self.name}-float": f"{self.stem}_fp16.safetensors",
                f"{self.name}-qat": f"{self.stem}_qat.safetensors"}


def __getattr__(name: str):
    if name == "BUNDLED":  # the old table of families; one release of grace
        warnings.warn("pipnet_edge.assets.BUNDLED is deprecated; use pipnet_edge.assets.CARDS (model cards) or "
                      "get_card(name)", FutureWarning, stacklevel=2)
        return {c.name: BundledModel(c.name, c.files["int8"].removesuffix("_int8.tflite"), c.title) for c in CARDS.values()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

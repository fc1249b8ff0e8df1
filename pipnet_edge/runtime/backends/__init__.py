"""Inference backends, imported lazily: a device needs only the one it uses.

========== =========== ======================================================
backend    files       package
========== =========== ======================================================
tflite     .tflite     ai-edge-litert (or tflite-runtime, or tensorflow.lite)
onnxruntime .onnx      onnxruntime
openvino   .xml        openvino
opencv     .onnx       OpenCV's DNN (a core dependency: nothing else to install)
========== =========== ======================================================

Every backend also opens a model held in memory (``content=``: a ``.tflite`` / ``.onnx`` file's
bytes, OpenVINO IR's ``(xml_bytes, bin_bytes)``); :func:`open_backend` recognises its format.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ModelLoadError
from ..artifact import FORMATS, as_model_content, content_label, format_of, format_of_content, is_model_content
from .base import Backend

__all__ = ["Backend", "open_backend", "BACKENDS"]

# backend name -> (module, class); which file formats each runs is in artifact.FORMATS
BACKENDS: dict[str, tuple[str, str]] = {
    "tflite": ("tflite", "TFLiteBackend"),
    "onnxruntime": ("onnxruntime", "OnnxRuntimeBackend"),
    "openvino": ("openvino", "OpenVINOBackend"),
    "opencv": ("opencv", "OpenCVBackend"),
}


def open_backend(model, info, backend: str = "auto", **options) -> Backend:
    """Open a model with the named backend (``auto``: the first backend of its format in :data:`~pipnet_edge.runtime.artifact.FORMATS`).

    Args:
        model: the artifact's path (``str`` or ``Path``), or its content in memory: a ``.tflite`` or
            ``.onnx`` file's ``bytes`` / ``bytearray`` / ``memoryview``, or OpenVINO IR's
            ``(xml_bytes, bin_bytes)`` (see :func:`~pipnet_edge.runtime.artifact.format_of_content`).
            A backend opened from memory has a placeholder ``path`` such as ``<bytes 4821944 B, tflite>``.
        info: the artifact's :class:`~pipnet_edge.runtime.artifact.ArtifactInfo`.
        backend: a name in :data:`BACKENDS`, or ``"auto"``.
        **options: passed to the backend (``num_threads``, ``delegate``, ``device``, ``providers`` ...).

    Raises:
        ModelLoadError: an unknown backend, one that does not run this format, a backend package
            that is not installed, or a model it cannot load (corrupt, truncated, empty or unknown content).
    """
    import importlib

    if is_model_content(model):
        content = as_model_content(model)
        fmt = format_of_content(content)
        path = Path(content_label(content, fmt))
        what = f"{fmt.description} model bytes"
        options["content"] = content
    else:
        path = Path(model)
        fmt = format_of(path)
        what = path.name
    name = fmt.backends[0] if backend == "auto" else backend
    if name not in BACKENDS:
        raise ModelLoadError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)} or 'auto'")
    if name not in fmt.backends:
        runs = [f.suffix for f in FORMATS.values() if name in f.backends]
        raise ModelLoadError(f"backend {name!r} runs {' / '.join(runs)} files, not {what}")
    module, cls = BACKENDS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(path, info, **options)

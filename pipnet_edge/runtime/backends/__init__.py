"""Inference backends, imported lazily: a device needs only the one it uses.

========== =========== ======================================================
backend    files       package
========== =========== ======================================================
tflite     .tflite     ai-edge-litert (or tflite-runtime, or tensorflow.lite)
onnxruntime .onnx      onnxruntime
openvino   .xml        openvino
opencv     .onnx       OpenCV's DNN (a core dependency; float ONNX only for now)
========== =========== ======================================================
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ModelLoadError
from .base import Backend

__all__ = ["Backend", "open_backend", "BACKEND_FOR_SUFFIX", "SUFFIX_FOR_BACKEND"]

BACKEND_FOR_SUFFIX = {".tflite": "tflite", ".onnx": "onnxruntime", ".xml": "openvino"}  # what "auto" picks
SUFFIX_FOR_BACKEND = {"tflite": ".tflite", "onnxruntime": ".onnx", "openvino": ".xml", "opencv": ".onnx"}


def open_backend(path: str | Path, info, backend: str = "auto", **options) -> Backend:
    """Open ``path`` with the named backend (``auto`` picks by file suffix)."""
    path = Path(path)
    name = BACKEND_FOR_SUFFIX.get(path.suffix.lower()) if backend == "auto" else backend
    if name is None:
        raise ModelLoadError(f"{path}: no backend runs {path.suffix!r} files; use .tflite, .onnx or .xml")
    expected = SUFFIX_FOR_BACKEND
    if name not in expected:
        raise ModelLoadError(f"unknown backend {name!r}; choose from {', '.join(expected)} or 'auto'")
    if path.suffix.lower() != expected[name]:
        raise ModelLoadError(f"backend {name!r} runs {expected[name]} files, not {path.name}")
    if name == "tflite":
        from .tflite import TFLiteBackend as cls
    elif name == "onnxruntime":
        from .onnxruntime import OnnxRuntimeBackend as cls
    elif name == "opencv":
        from .opencv import OpenCVBackend as cls
    else:
        from .openvino import OpenVINOBackend as cls
    return cls(path, info, **options)

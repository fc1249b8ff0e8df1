"""OpenCV DNN backend for ``.onnx`` artifacts: runs a model with nothing but OpenCV, a core dependency.

``Landmarker("model.onnx", backend="opencv")``. Float ONNX artifacts run and match onnxruntime to
about 1e-6 in the head outputs; INT8 (QDQ) ONNX artifacts quantized with ReLU6 fused into its
convolution (the QAT scheme since 2026-11-30) run at onnxruntime's NME (within 0.01 on the 554 test
faces), but 7-8x slower than onnxruntime and no faster than OpenCV's own float path. OpenCV 4.14 cannot read INT8 ONNX made with the older
shared-grid scheme: their ReLU6 clips run on the uint8 tensors and its Clip layer reads uint8 bounds above
127 as negative ("minValue <= maxValue"); loading one raises a ``ModelLoadError`` that says to use
onnxruntime.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError, ModelLoadError
from ..artifact import HEAD_NAMES, INPUT_NAME
from .base import Backend

__all__ = ["OpenCVBackend"]


class OpenCVBackend(Backend):
    name = "opencv"
    _RUNTIME_ATTRS = ("net",)

    def __init__(self, path, info, num_threads=None, content=None, **options) -> None:
        super().__init__(path, info, num_threads)
        import cv2

        try:
            # content: the .onnx file's bytes, read from an in-memory buffer
            self.net = cv2.dnn.readNetFromONNX(str(path) if content is None else np.frombuffer(content, np.uint8))
        except cv2.error as exc:
            lines = [ln.lstrip("> ").strip() for ln in str(exc).strip().splitlines()]
            reason = next((ln for ln in lines if ln.startswith("Node")), lines[0] if lines else "unknown error")[:200]
            hint = (" (OpenCV's DNN does not read INT8 ONNX exported before 2026-11-30, with the older QAT scheme; "
                    "use backend='onnxruntime' or export it again)") if info.precision == "int8" else ""
            raise ModelLoadError(f"OpenCV's DNN cannot load {path}{hint}: {reason}") from None
        if self.net.empty():
            raise ModelLoadError(f"OpenCV's DNN read no network from {path}")

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        self._check_open()
        import cv2

        threads = cv2.getNumThreads()
        if self.num_threads:
            cv2.setNumThreads(int(self.num_threads))
        try:
            self.net.setInput(np.ascontiguousarray(images, dtype=np.float32), INPUT_NAME)
            outs = self.net.forward(list(HEAD_NAMES))
        except cv2.error as exc:
            reason = str(exc).strip().splitlines()[-1]
            raise InputError(f"OpenCV's DNN rejected input of shape {images.shape}: {reason}") from None
        finally:
            if self.num_threads:
                cv2.setNumThreads(threads)
        return self._check_outputs({n: np.asarray(o, np.float32) for n, o in zip(HEAD_NAMES, outs)}, str(self.path))

    def describe(self) -> str:
        return f"opencv-dnn ({self.path.name}, {self.info.precision})"

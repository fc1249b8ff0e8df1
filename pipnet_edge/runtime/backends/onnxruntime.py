"""onnxruntime backend (any execution providers; CPU by default).

``optimize=False`` turns every graph optimisation off: an INT8 (QDQ) ONNX then runs each DequantizeLinear -> float op ->
QuantizeLinear as written, with no integer kernels and no fusion. That is the graph's exact semantics, the reference
``benchmarks/int8_agreement.py`` and the parity tests hold every INT8 runtime to (several times slower; not for use).
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError, ModelLoadError
from ..artifact import HEAD_NAMES, INPUT_NAME
from .base import Backend

__all__ = ["OnnxRuntimeBackend"]


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"

    def __init__(self, path, info, num_threads=None, providers=None, content=None, optimize: bool = True, **options) -> None:
        super().__init__(path, info, num_threads)
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelLoadError("running .onnx models needs onnxruntime: pip install 'pipnet-edge[onnxruntime]'") from None
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if not optimize:
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        if num_threads:
            so.intra_op_num_threads = int(num_threads)
            so.inter_op_num_threads = 1
        try:
            model = str(path) if content is None else bytes(content)  # content: the .onnx file's bytes
            self.session = ort.InferenceSession(model, so, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelLoadError(f"onnxruntime cannot load {path}: {exc}") from None
        names = [i.name for i in self.session.get_inputs()]
        if INPUT_NAME not in names:
            raise ModelLoadError(f"{path}: no input named {INPUT_NAME!r} (inputs: {names})")
        self.input_type = next(i.type for i in self.session.get_inputs() if i.name == INPUT_NAME)

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        x = images.astype(np.uint8 if self.input_type == "tensor(uint8)" else np.float32, copy=False)
        try:
            outs = self.session.run(list(HEAD_NAMES), {INPUT_NAME: np.ascontiguousarray(x)})
        except Exception as exc:
            raise InputError(f"onnxruntime rejected input of shape {x.shape}: {exc}") from None
        return {n: o.astype(np.float32, copy=False) for n, o in zip(HEAD_NAMES, outs)}

"""onnxruntime backend (any execution providers; CPU by default).

``optimize=False`` turns every graph optimisation off: an INT8 (QDQ) ONNX then runs each DequantizeLinear -> float op ->
QuantizeLinear as written, with no integer kernels and no fusion. That is the graph's exact semantics, the reference
``python -m benchmarks int8_agreement`` and the parity tests hold every INT8 runtime to (several times slower; not for use).

``providers=["QNNExecutionProvider"]`` (or ``[("QNNExecutionProvider", {options})]``) runs the model on a Qualcomm
Hexagon NPU through onnxruntime-qnn, whole or not at all: see :mod:`.qnn`. A model whose batch dimension is fixed to 1
(so under QNN, and an ahead-of-time QNN context binary) is run one face at a time.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError, ModelLoadError
from ..artifact import HEAD_NAMES, INPUT_NAME
from .base import Backend
from .qnn import configure_qnn, context_binary_hint, is_context_model, qnn_load_error, qnn_provider_options

__all__ = ["OnnxRuntimeBackend"]


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    _RUNTIME_ATTRS = ("session",)

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
        model = str(path) if content is None else bytes(content)  # content: the .onnx file's bytes
        qnn = qnn_provider_options(providers)  # None unless QNNExecutionProvider is asked for
        if qnn is not None:
            precision = None if is_context_model(model) else info.precision  # None: compiled ahead of time
            qnn = configure_qnn(ort, so, qnn, precision=precision, source=str(path))
        try:
            providers = None if qnn is not None else providers or ["CPUExecutionProvider"]  # QNN: set in so
            self.session = ort.InferenceSession(model, so, providers=providers)
        except Exception as exc:
            if qnn is not None:
                raise qnn_load_error(ort, model, exc, str(path), info.precision, qnn) from None
            raise ModelLoadError(f"onnxruntime cannot load {path}: {exc}{context_binary_hint(str(exc))}") from None
        names = [i.name for i in self.session.get_inputs()]
        if INPUT_NAME not in names:
            raise ModelLoadError(f"{path}: no input named {INPUT_NAME!r} (inputs: {names})")
        image = next(i for i in self.session.get_inputs() if i.name == INPUT_NAME)
        self.input_type = image.type
        self.one_at_a_time = bool(image.shape) and image.shape[0] == 1  # a fixed batch of 1 (QNN, a context binary)
        self.qnn_options = qnn  # the QNN provider options in use, or None
        if qnn is not None and not self.one_at_a_time:
            raise ModelLoadError(f"{path}: QNN needs a static batch of 1, but input {INPUT_NAME!r} has shape {image.shape}")

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        self._check_open()
        x = images.astype(np.uint8 if self.input_type == "tensor(uint8)" else np.float32, copy=False)
        batches = [x[i : i + 1] for i in range(len(x))] if self.one_at_a_time and len(x) != 1 else [x]
        try:
            runs = [self.session.run(list(HEAD_NAMES), {INPUT_NAME: np.ascontiguousarray(b)}) for b in batches]
        except Exception as exc:
            raise InputError(f"onnxruntime rejected input of shape {x.shape}: {exc}") from None
        outs = runs[0] if len(runs) == 1 else [np.concatenate(o) for o in zip(*runs)]
        return {n: o.astype(np.float32, copy=False) for n, o in zip(HEAD_NAMES, outs)}

    def describe(self) -> str:
        if self.qnn_options is None:
            return super().describe()
        soc = self.qnn_options.get("soc_model", "0")
        return f"{self.name} + QNN HTP (soc_model {soc}) ({self.path.name}, {self.info.precision})"

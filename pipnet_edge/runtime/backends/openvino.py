"""OpenVINO backend (``CPU``, ``GPU``, ``NPU`` ... devices).

On CPUs with bf16 support OpenVINO runs FP32 IR in bf16 unless told otherwise; this backend
pins ``INFERENCE_PRECISION_HINT=f32`` for fp32 / fp16 IR so results match the float model
(INT8 IR runs with OpenVINO's own choice).
Pass ``precision_hint="bf16"`` for speed when that accuracy loss is acceptable.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError, ModelLoadError
from ..artifact import HEAD_NAMES, INPUT_NAME
from .base import Backend

__all__ = ["OpenVINOBackend"]


class OpenVINOBackend(Backend):
    name = "openvino"
    _RUNTIME_ATTRS = ("request", "compiled")

    def __init__(self, path, info, num_threads=None, device=None, precision_hint=None, content=None, **options) -> None:
        super().__init__(path, info, num_threads)
        try:
            import openvino as ov
        except ImportError:
            raise ModelLoadError("running OpenVINO IR needs openvino: pip install 'pipnet-edge[openvino]'") from None
        self.device = device or "CPU"
        core = ov.Core()
        if content is not None and (not isinstance(content, tuple) or len(content) != 2):
            raise ModelLoadError("OpenVINO IR from memory is a pair (xml_bytes, bin_bytes); or pass the .xml path")
        try:
            if content is None:
                model = core.read_model(str(path))
            else:  # content: the .xml and .bin files' bytes
                model = core.read_model(bytes(content[0]), bytes(content[1]))
        except Exception as exc:
            raise ModelLoadError(f"OpenVINO cannot read {path}: {exc}") from None
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if self.device.startswith("CPU"):
            # float IR: pin f32 (matches the float model); INT8 IR: let OpenVINO pick its integer
            # kernels (pinning f32 made it 1.5x slower here without changing the result)
            hint = precision_hint or ("f32" if info.precision != "int8" else None)
            if hint:
                config["INFERENCE_PRECISION_HINT"] = hint
            if num_threads:
                config["INFERENCE_NUM_THREADS"] = int(num_threads)
                config["NUM_STREAMS"] = 1
        try:
            self.compiled = core.compile_model(model, self.device, config)
        except Exception as exc:
            raise ModelLoadError(f"OpenVINO cannot compile {path} for {self.device}: {exc}") from None
        self.request = self.compiled.create_infer_request()
        self.outputs = {n: self.compiled.output(n) for n in HEAD_NAMES}

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        self._check_open()
        x = np.ascontiguousarray(images.astype(np.float32, copy=False))
        try:
            res = self.request.infer({INPUT_NAME: x})
        except Exception as exc:
            raise InputError(f"OpenVINO rejected input of shape {x.shape}: {exc}") from None
        return {n: np.asarray(res[port], dtype=np.float32) for n, port in self.outputs.items()}

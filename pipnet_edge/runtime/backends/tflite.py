"""TFLite backend: ai-edge-litert, else tflite-runtime, else tensorflow.lite.

tflite-runtime 2.14 (the last release) needs numpy < 2 and ran full-INT8 models about 14x
slower than ai-edge-litert on an x86 CPU in our measurements; prefer ai-edge-litert.
Outputs are read through the model's signature by name, never by tensor index.
"""

from __future__ import annotations

import logging

import numpy as np

from ...errors import InputError, ModelLoadError
from ..artifact import INPUT_NAME
from .base import Backend, dequantize, quantize
from .quiet import quiet_native

__all__ = ["TFLiteBackend", "import_interpreter"]

log = logging.getLogger("pipnet_edge.runtime")


def import_interpreter():
    """``(Interpreter, load_delegate, package name)`` from the first TFLite package available."""
    try:
        from ai_edge_litert.interpreter import Interpreter, load_delegate

        return Interpreter, load_delegate, "ai-edge-litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter, load_delegate  # type: ignore

        return Interpreter, load_delegate, "tflite-runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf  # type: ignore

        return tf.lite.Interpreter, tf.lite.experimental.load_delegate, "tensorflow"
    except ImportError:
        raise ModelLoadError(
            "running .tflite models needs a TFLite interpreter: pip install 'pipnet-edge[tflite]' (ai-edge-litert)"
        ) from None


class TFLiteBackend(Backend):
    name = "tflite"
    _RUNTIME_ATTRS = ("runner", "interpreter")

    def __init__(self, path, info, num_threads=None, delegate=None, delegate_options=None, content=None, **options) -> None:
        super().__init__(path, info, num_threads)
        npu = (info.export.get("npu") or {}) if info is not None else {}
        if npu.get("delegate") and delegate is None:
            raise ModelLoadError(
                f"{path} is compiled for an NPU ({npu.get('accelerator', '?')}, by {npu.get('compiler', '?')}): its graph is "
                f"one '{npu['delegate']}' custom operator that only the NPU's TFLite delegate runs. Pass the delegate, e.g. "
                f"Landmarker(path, delegate='/usr/lib/libethosu_delegate.so') on an NXP i.MX 93, or run the "
                f"tflite-int8 export of the same model on the CPU"
            )
        Interpreter, load_delegate, self.package = import_interpreter()
        delegates = []
        if delegate is not None:
            try:
                delegates = [delegate if not isinstance(delegate, str) else load_delegate(delegate, delegate_options or {})]
            except (ValueError, OSError, RuntimeError) as exc:
                raise ModelLoadError(f"cannot load TFLite delegate {delegate!r}: {exc}") from None
        try:
            # content: the .tflite file's bytes (the interpreter keeps a reference to them)
            source = {"model_path": str(path)} if content is None else {"model_content": bytes(content)}
            with quiet_native("TFLite"):  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on fd 2
                self.interpreter = Interpreter(**source, num_threads=num_threads or 1, experimental_delegates=delegates or None)
                self.interpreter.allocate_tensors()  # an operator this interpreter cannot run fails here, not at the first face
            self.runner = self.interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as exc:
            hint = ""
            if "unresolved custom op" in str(exc):
                hint = (" (the model holds a custom operator, e.g. Vela's 'ethos-u' for an Arm Ethos-U NPU: pass that NPU's "
                        "TFLite delegate with delegate=)")
            raise ModelLoadError(f"TFLite cannot load {path}: {str(exc).strip()}{hint}") from None
        self._per_image = False  # set once a batch cannot be resized
        ins = self.runner.get_input_details()
        if INPUT_NAME not in ins:
            raise ModelLoadError(f"{path}: signature has no input {INPUT_NAME!r} (inputs: {sorted(ins)})")
        self.input = ins[INPUT_NAME]
        self.outputs = self.runner.get_output_details()

    @staticmethod
    def _qparams(details):
        q = details.get("quantization_parameters") or {}
        scales, zps = q.get("scales"), q.get("zero_points")
        if scales is None or len(scales) == 0:
            return None
        return float(scales[0]), int(zps[0])

    def _invoke_per_image(self, x: np.ndarray) -> dict[str, np.ndarray]:
        try:
            parts = [self.runner(**{INPUT_NAME: np.ascontiguousarray(x[i : i + 1])}) for i in range(len(x))]
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"TFLite rejected input of shape {x[:1].shape} {x.dtype}: {exc}") from None
        return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        self._check_open()
        dtype = np.dtype(self.input["dtype"])
        if dtype.kind in "iu":
            qp = self._qparams(self.input)
            if qp is None:
                raise ModelLoadError(f"{self.path}: integer input without quantization parameters")
            x = quantize(images, qp[0], qp[1], dtype)
        else:
            x = images.astype(dtype, copy=False)
        if len(x) > 1 and self._per_image:
            raw = self._invoke_per_image(x)
        else:
            try:
                raw = self.runner(**{INPUT_NAME: np.ascontiguousarray(x)})
            except (ValueError, RuntimeError) as exc:
                if len(x) == 1:
                    raise InputError(f"TFLite rejected input of shape {x.shape} {x.dtype}: {exc}") from None
                # some graphs (e.g. a reshape traced with batch 1) cannot be resized; faces go one at a time
                log.info("%s cannot run a batch of %d (%s); running faces one at a time", self.path.name, len(x), exc)
                self._per_image = True
                raw = self._invoke_per_image(x)
        out = {}
        for name, arr in raw.items():
            det = self.outputs[name]
            if np.dtype(det["dtype"]).kind in "iu":
                s, z = self._qparams(det)
                out[name] = dequantize(arr, s, z)
            else:
                out[name] = arr.astype(np.float32, copy=False)
        return self._check_outputs(out, str(self.path))

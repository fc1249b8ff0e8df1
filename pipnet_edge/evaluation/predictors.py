"""Open any model for evaluation as a :class:`~pipnet_edge.runtime.Landmarker` (no face detector).

* exported artifacts (``.tflite``, ``.onnx``, ``.xml``) through the runtime backends, exactly as a device runs them;
* float checkpoints (``.safetensors`` / training ``.pt``) and QAT models through :class:`TorchBackend`.

Every accuracy figure (evaluate, parity, export summaries, benchmarks, validation during training) then goes
through :meth:`Landmarker.predict_crops <pipnet_edge.runtime.Landmarker.predict_crops>`: one decode, one path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelLoadError
from ..runtime import Landmarker
from ..runtime.artifact import ARTIFACT_SUFFIXES, HEAD_NAMES, ArtifactInfo
from ..runtime.backends import Backend

__all__ = ["Predictor", "open_predictor", "torch_predictor", "TorchBackend"]

Predictor = Landmarker  # what evaluation takes: anything with ``spec``, ``name`` and ``predict_crops``


class TorchBackend(Backend):
    """A float PIPNet (normalisation as in training) or a QAT model (raw pixels, fake quantization) behind the
    runtime's backend interface: ``(B, S, S, 3)`` RGB pixels in, channels-last heads out."""

    def __init__(self, model, name: str, path: str | Path | None = None) -> None:
        import torch

        self.torch = torch
        self.model = model.eval()
        self.qat = bool(getattr(model, "takes_raw_pixels", False))
        precision = "fp32 (QAT fake-quant)" if self.qat else "fp32"
        super().__init__(Path(path or name), ArtifactInfo(model.spec, {"target": "torch", "precision": precision}))
        self.name = "torch QAT fake-quant" if self.qat else "torch float"
        self.label = name

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(images))
        with torch.no_grad():
            if self.qat:  # the QAT graph takes raw NHWC pixels and returns channels-last heads
                outs = self.model.graph(x.float())
                return {n: outs[n].float().cpu().numpy() for n in HEAD_NAMES}
            from ..models.normalization import normalize_batch

            device = next(iter(self.model.parameters())).device  # validation during GPU training
            outs = self.model(normalize_batch(x, self.model.spec).to(device))
            return {n: o.float().permute(0, 2, 3, 1).cpu().numpy() for n, o in zip(HEAD_NAMES, outs)}

    def describe(self) -> str:
        return f"{self.name} ({self.label})"


def torch_predictor(model, name: str, path: str | Path | None = None, *, use_nrm: bool = True) -> Landmarker:
    """A detector-less Landmarker over a torch float model or QAT model (see :class:`TorchBackend`)."""
    return Landmarker.from_backend(TorchBackend(model, name, path), detector=None, use_nrm=use_nrm)


def open_predictor(model: str | Path, backend: str = "auto", num_threads: int | None = None, *, use_nrm: bool = True,
                   **opts) -> Landmarker:
    """A detector-less Landmarker for an artifact, a float checkpoint, a QAT model or a bundled model name.

    Raises:
        ModelLoadError: a missing file or an unknown model type.
    """
    from ..assets.registry import resolve_model

    path = resolve_model(model).path
    if path.suffix.lower() in ARTIFACT_SUFFIXES:
        return Landmarker(path, backend=backend, num_threads=num_threads, detector=None, use_nrm=use_nrm,
                          backend_options=opts or None)
    if path.suffix in (".safetensors", ".pt"):
        from ..quantization import QATModel, is_qat_file

        if is_qat_file(path):
            return torch_predictor(QATModel.load(path), path.name, path, use_nrm=use_nrm)
        from ..models.checkpoint import load_model

        return torch_predictor(load_model(path), path.name, path, use_nrm=use_nrm)
    raise ModelLoadError(f"{path}: unknown model type {path.suffix!r}; expected .tflite/.onnx/.xml or .safetensors/.pt")

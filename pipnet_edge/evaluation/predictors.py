"""Predictors: anything that maps input crops to PIPNet head outputs.

* exported artifacts (``.tflite``, ``.onnx``, ``.xml``) through the runtime backends;
* float checkpoints (``.safetensors`` / training ``.pt``) and QAT models through torch.

All take ``(B, S, S, 3)`` uint8 RGB crops and return NCHW :class:`HeadOutputs`, so the
decode, metrics and reports downstream are shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelLoadError
from ..models_io import HEAD_NAMES
from ..runtime.decode import HeadOutputs

__all__ = ["Predictor", "open_predictor", "ARTIFACT_SUFFIXES"]

ARTIFACT_SUFFIXES = (".tflite", ".onnx", ".xml")


class Predictor:
    name: str
    spec: object
    kind: str  # "artifact" | "torch-float" | "torch-qat"

    def heads(self, crops: np.ndarray) -> HeadOutputs:  # pragma: no cover - interface
        raise NotImplementedError


class ArtifactPredictor(Predictor):
    kind = "artifact"

    def __init__(self, path: Path, backend: str = "auto", num_threads: int | None = None, **opts) -> None:
        from ..runtime.backends import open_backend
        from ..runtime.metadata import read_artifact_info

        self.path = path
        self.info = read_artifact_info(path)
        self.spec = self.info.spec
        self.backend = open_backend(path, self.info, backend, num_threads=num_threads, **opts)
        self.name = f"{path.name} [{self.backend.name}]"

    def heads(self, crops: np.ndarray) -> HeadOutputs:
        outs = self.backend.run(crops)
        return HeadOutputs(*(np.transpose(outs[n], (0, 3, 1, 2)) for n in HEAD_NAMES))


class TorchPredictor(Predictor):
    """A float PIPNet (normalisation as in training) or a QAT model (raw pixels, fake-quant)."""

    def __init__(self, model, name: str) -> None:
        import torch

        self.torch = torch
        self.model = model.eval()
        self.spec = model.spec
        self.name = name
        self.kind = "torch-qat" if getattr(model, "takes_raw_pixels", False) else "torch-float"

    def heads(self, crops: np.ndarray) -> HeadOutputs:
        from ..training.predict import run_heads

        return run_heads(self.model, self.torch.from_numpy(np.ascontiguousarray(crops)), self.spec)


def open_predictor(model: str | Path, backend: str = "auto", num_threads: int | None = None, **opts) -> Predictor:
    """A predictor for an artifact, a float checkpoint, a QAT model or a bundled model name."""
    from ..assets import BUNDLED_MODELS, bundled_model_path

    if isinstance(model, str) and model in BUNDLED_MODELS:
        model = bundled_model_path(model)
    path = Path(model)
    if not path.exists():
        raise ModelLoadError(f"model {path} does not exist")
    if path.suffix.lower() in ARTIFACT_SUFFIXES:
        return ArtifactPredictor(path, backend, num_threads, **opts)
    if path.suffix in (".safetensors", ".pt"):
        from ..training.qat import QATModel, is_qat_file

        if is_qat_file(path):
            return TorchPredictor(QATModel.load(path), f"{path.name} [torch QAT fake-quant]")
        from ..models.checkpoint import load_model

        return TorchPredictor(load_model(path), f"{path.name} [torch float]")
    raise ModelLoadError(f"{path}: unknown model type {path.suffix!r}; expected .tflite/.onnx/.xml or .safetensors/.pt")

"""Models shipped inside the package (trained on 300W: non-commercial research use only)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelLoadError

__all__ = ["ASSETS_DIR", "BUNDLED_MODELS", "bundled_model_path"]

ASSETS_DIR = Path(__file__).resolve().parent

# name -> file. "default": MobileNetV2-PIPNet-68, 256x256, QAT full-INT8 TFLite.
BUNDLED_MODELS = {
    "default": "pipnet_mbv2_300w68_int8.tflite",
    "default-float": "pipnet_mbv2_300w68_fp16.safetensors",
    "default-qat": "pipnet_mbv2_300w68_qat.safetensors",
}


def bundled_model_path(name: str = "default") -> Path:
    if name not in BUNDLED_MODELS:
        raise ModelLoadError(f"unknown bundled model {name!r}; bundled: {', '.join(BUNDLED_MODELS)}")
    path = ASSETS_DIR / BUNDLED_MODELS[name]
    if not path.is_file():
        raise ModelLoadError(f"bundled model {name!r} ({path.name}) is missing from this installation")
    return path

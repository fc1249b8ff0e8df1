"""Models shipped inside the package (trained on 300W: non-commercial research use only).

Each bundled model is a family of three files named after its stem:

* ``<stem>_int8.tflite``: the full-INT8 TFLite the runtime loads (``Landmarker("lite")``);
* ``<stem>_fp16.safetensors``: the float weights (float16), for float exports;
* ``<stem>_qat.safetensors``: the QAT model, from which every INT8 target is exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelLoadError

__all__ = ["ASSETS_DIR", "BundledModel", "BUNDLED", "BUNDLED_MODELS", "bundled_model_path"]

ASSETS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BundledModel:
    """One shipped model: its name, file stem and what it is for."""

    name: str
    stem: str
    description: str

    @property
    def files(self) -> dict[str, str]:
        """``{"<name>": int8 tflite, "<name>-float": fp16 weights, "<name>-qat": QAT model}``."""
        return {
            self.name: f"{self.stem}_int8.tflite",
            f"{self.name}-float": f"{self.stem}_fp16.safetensors",
            f"{self.name}-qat": f"{self.stem}_qat.safetensors",
        }


BUNDLED = {
    "default": BundledModel("default", "pipnet_mbv2_300w68", "MobileNetV2-PIPNet-68, 256x256 input, stride 32: the accurate one"),
    "lite": BundledModel("lite", "pipnet_lite_300w68",
                         "MobileNetV2 cut at stride 16 with a 512-channel projection, 112x112 input, num_nb 5: the fast one"),
}

# every bundled file by name ("default", "default-float", "default-qat", "lite", ...)
BUNDLED_MODELS = {key: file for model in BUNDLED.values() for key, file in model.files.items()}


def bundled_model_path(name: str = "default") -> Path:
    """Path of a bundled file by name; a clear error when the name is unknown or the file is missing."""
    if name not in BUNDLED_MODELS:
        raise ModelLoadError(f"unknown bundled model {name!r}; bundled: {', '.join(BUNDLED_MODELS)}")
    path = ASSETS_DIR / BUNDLED_MODELS[name]
    if not path.is_file():
        raise ModelLoadError(f"bundled model {name!r} ({path.name}) is missing from this installation")
    return path

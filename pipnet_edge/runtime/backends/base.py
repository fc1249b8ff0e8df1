"""Backend interface: raw RGB pixels in, named channels-last head outputs (float32) out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..artifact import HEAD_NAMES

__all__ = ["Backend", "quantize", "dequantize"]


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    q = np.rint(x.astype(np.float32) / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * scale


class Backend(ABC):
    """One loaded model. ``run`` takes ``(B, S, S, 3)`` RGB pixels in [0, 255] (uint8 or float).

    ``path`` is the model file, or for a model opened from memory (a backend's ``content=`` keyword,
    see :func:`~pipnet_edge.runtime.backends.open_backend`) a placeholder naming it in logs and
    reports, such as ``<bytes 4821944 B, tflite>``.
    """

    name: str = "?"

    def __init__(self, path: Path, info, num_threads: int | None = None, **options) -> None:
        self.path = path
        self.info = info
        self.num_threads = num_threads

    @abstractmethod
    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Head outputs by name (``score``, ``offset_x`` ...), NHWC float32."""

    _RUNTIME_ATTRS: tuple[str, ...] = ()  # the attributes holding the runtime's objects, dropped by close()
    closed: bool = False

    def close(self) -> None:
        """Release the runtime's model (interpreter, session, compiled model). Idempotent; ``run`` afterwards raises
        :class:`~pipnet_edge.errors.InputError`."""
        for attr in self._RUNTIME_ATTRS:
            setattr(self, attr, None)
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            from ...errors import InputError

            raise InputError(f"the {self.name} backend of {self.path.name} is closed")

    @staticmethod
    def _check_outputs(outputs: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
        missing = [n for n in HEAD_NAMES if n not in outputs]
        if missing:
            from ...errors import ModelLoadError

            raise ModelLoadError(f"{source} lacks output(s) {missing}; outputs are {sorted(outputs)}")
        return outputs

    def describe(self) -> str:
        return f"{self.name} ({self.path.name}, {self.info.precision})"

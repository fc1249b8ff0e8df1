"""TFLite export with litert-torch (no TensorFlow).

* float32: ``litert_torch.convert`` of :class:`EdgePIPNet`;
* fp16: the same with litert-torch's float16 weight recipe (fp16 weights, float32 compute/IO);
* full INT8: the PT2E quantized graph converted with ``QuantConfig(pt2e_quantizer=...)``:
  int8 weights and activations, int8 I/O; ``io_dtype="uint8"`` rewrites the boundary to uint8
  (raw pixels in, for NPUs), ``"float32"`` to float with (de)quantize ops.

Channels-last input and outputs keep the graph free of transposes and let the interpreter
resize the batch. Outputs are named (``score``, ``offset_x``, ...) in the signature.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..models.edge import EdgePIPNet
from ..runtime.artifact import METADATA_KEY
from .tflite_flatbuffer import add_metadata, change_io_types

__all__ = ["export_tflite", "export_tflite_int8"]

os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")


def _sample(input_size: int) -> dict[str, torch.Tensor]:
    return {"image": torch.rand(1, input_size, input_size, 3) * 255}


def export_tflite(model, path: Path, metadata: str, fp16: bool = False) -> Path:
    import litert_torch

    edge = EdgePIPNet(model.eval(), fold_normalization=False).eval()
    kwargs = {}
    if fp16:
        from litert_torch.generative.quantize import quant_recipes

        kwargs["quant_config"] = quant_recipes.full_fp16_recipe()
    converted = litert_torch.convert(edge, sample_kwargs=_sample(model.spec.input_size), **kwargs)
    converted.export(str(path))
    add_metadata(path, METADATA_KEY, metadata.encode())
    return path


def export_tflite_int8(qgraph, path: Path, metadata: str | None, io_dtype: str = "int8") -> Path:
    """The full-INT8 TFLite of ``qgraph`` at ``path``, with ``metadata`` (``None``: added later by the caller)."""
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig

    converted = litert_torch.convert(
        qgraph.graph, sample_kwargs=_sample(qgraph.spec.input_size), quant_config=QuantConfig(pt2e_quantizer=qgraph.quantizer)
    )
    converted.export(str(path))
    if io_dtype != "int8":
        change_io_types(path, io_dtype, io_dtype)
    if metadata is not None:
        add_metadata(path, METADATA_KEY, metadata.encode())
    return path

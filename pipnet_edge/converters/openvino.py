"""OpenVINO IR export: ``openvino.convert_model`` on our ONNX, ``save_model`` (FP32 / FP16 weights).

INT8 IR is converted from the QDQ ONNX (OpenVINO turns Q/DQ pairs into FakeQuantize and runs
the convolutions in u8/i8), so it carries the same scales as the other INT8 targets.
"""

from __future__ import annotations

from pathlib import Path

from ..runtime.artifact import METADATA_KEY

__all__ = ["export_openvino"]


def export_openvino(onnx_path: Path, xml_path: Path, metadata: str, fp16: bool) -> Path:
    import openvino as ov

    # core.read_model (the ONNX frontend as the runtime uses it) rather than ov.convert_model:
    # on PT2E QDQ graphs convert_model's extra transformations moved INT8 outputs by up to
    # 30 % of their range (openvino 2026.4), read_model matches onnxruntime to ~1 quant step.
    model = ov.Core().read_model(str(onnx_path))
    # metadata_props come across as rt_info["framework"]; keep ours in one documented place
    model.set_rt_info(metadata, [METADATA_KEY, "metadata"])
    ov.save_model(model, str(xml_path), compress_to_fp16=fp16)
    return xml_path

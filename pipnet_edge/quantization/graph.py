"""The one quantized graph every INT8 target is made from.

From a QAT model it is the PT2E conversion of that model (its learned weights and ranges);
from a float model it is post-training quantization with the same quantizer, calibrated on a
:class:`~pipnet_edge.calibration.CalibrationSet` (any :class:`CalibrationBatches`). TFLite, ONNX (QDQ) and OpenVINO INT8 are
all converted from this graph, so the three share one set of scales.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch

from ..errors import ExportError
from ..models.pipnet import PIPNet
from .qat_model import QATModel
from .quantizer import DEFAULT_SCHEME, capture, make_quantizer


__all__ = ["CalibrationBatches", "QuantizedGraph", "quantize_model"]

log = logging.getLogger("pipnet_edge.export")


class CalibrationBatches(Protocol):
    """What post-training quantization reads (a :class:`~pipnet_edge.calibration.CalibrationSet`, which lives a layer
    above): face crops in batches, and where they came from."""

    info: dict

    def __len__(self) -> int: ...

    def batches(self, batch_size: int) -> Iterator[np.ndarray]: ...


class QuantizedGraph:
    """A PT2E-converted (Q/DQ) graph taking raw NHWC pixels, with the quantizer that made it."""

    def __init__(self, graph: torch.fx.GraphModule, quantizer, spec, info: dict) -> None:
        self.graph, self.quantizer, self.spec, self.info = graph, quantizer, spec, info


def quantize_model(source, calib: CalibrationBatches | None) -> QuantizedGraph:
    """``source``: a :class:`~pipnet_edge.quantization.QATModel` or a float :class:`PIPNet`."""
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e


    if isinstance(source, QATModel):
        log.info("INT8 from the QAT model's learned quantization (no re-calibration)")
        return QuantizedGraph(source.convert(), source.quantizer(), source.spec, {"method": "qat", "activation_scheme": source.scheme,
                                                                                      "residual_adds": "int8"})
    if not isinstance(source, PIPNet):
        raise ExportError(f"cannot quantize a {type(source).__name__}")
    if calib is None:
        raise ExportError("post-training INT8 quantization of a float model needs calibration data (--calib DIR)")
    quantizer = make_quantizer(qat=False)
    gm = capture(source.eval(), train=False)
    move_exported_model_to_eval(gm)
    gm = prepare_pt2e(gm, quantizer)
    log.info("calibrating on %d faces from %s", len(calib), calib.info.get("source"))
    with torch.no_grad():
        for batch in calib.batches(16):
            gm(torch.from_numpy(batch).float())
    qm = convert_pt2e(gm, fold_quantize=False)
    move_exported_model_to_eval(qm)
    return QuantizedGraph(qm, quantizer, source.spec, {"method": "ptq", "activation_scheme": DEFAULT_SCHEME,
                                                         "residual_adds": "int8", "calibration": calib.info})

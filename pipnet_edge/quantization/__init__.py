"""INT8: the PT2E quantizer, the QAT model and the one quantized graph every INT8 artifact is made from.

Used by training (``--qat``), the converters (every INT8 target) and evaluation (QAT models run
with fake quantization).
"""

from .graph import QuantizedGraph, quantize_model
from .qat_model import QAT_FORMAT, QATModel, is_qat_file
from .quantizer import capture, make_quantizer, patch_litert_qat

__all__ = ["QATModel", "is_qat_file", "QAT_FORMAT", "QuantizedGraph", "quantize_model", "make_quantizer", "capture",
           "patch_litert_qat"]

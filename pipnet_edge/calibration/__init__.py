"""Representative data for INT8 quantization and the accuracy check of every artifact; a model's measured point bias
(:mod:`pipnet_edge.calibration.point_bias`, imported on use: it needs the evaluation side)."""

from .dataset import CalibrationSet, load_calibration_set

__all__ = ["CalibrationSet", "load_calibration_set"]

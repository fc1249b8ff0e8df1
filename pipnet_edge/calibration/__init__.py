"""Representative data for INT8 quantization and the accuracy check of every artifact."""

from .dataset import CalibrationSet, load_calibration_set

__all__ = ["CalibrationSet", "load_calibration_set"]

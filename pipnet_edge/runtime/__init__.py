"""Torch-free inference: numpy decode and geometry over tflite / OpenVINO / onnxruntime backends."""

from .decode import DecodeTables, HeadOutputs, decode

__all__ = ["decode", "DecodeTables", "HeadOutputs"]

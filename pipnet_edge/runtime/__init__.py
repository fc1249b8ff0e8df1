"""Torch-free inference: numpy decode and geometry over tflite / OpenVINO / onnxruntime backends.

    from pipnet_edge.runtime import Landmarker
    result = Landmarker().detect(image_rgb)
"""

from .decode import DecodeTables, Decoded, decode, decode_heads
from .drawing import draw_landmarks
from .face_geometry import HeadPose, Openness, aligned_crop, head_pose, openness
from .landmarker import Landmarker
from .options import LandmarkerOptions, RunningMode
from .artifact import ArtifactInfo, read_artifact_info
from .results import FaceLandmarks, LandmarkerResult

__all__ = [
    "Landmarker",
    "LandmarkerOptions",
    "RunningMode",
    "LandmarkerResult",
    "FaceLandmarks",
    "HeadPose",
    "Openness",
    "head_pose",
    "aligned_crop",
    "openness",
    "draw_landmarks",
    "read_artifact_info",
    "ArtifactInfo",
    "decode",
    "decode_heads",
    "Decoded",
    "DecodeTables",
]

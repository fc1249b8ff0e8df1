"""pipnet-edge: train, quantize, export and run PIPNet facial-landmark detectors on edge devices.

Importing ``pipnet_edge`` (or ``pipnet_edge.runtime``) never imports torch.
"""

from .errors import DataError, ExportError, InputError, ModelLoadError, PipnetEdgeError, SpecError
from .schemes import BUILTIN_SCHEMES, LandmarkScheme, custom_scheme, get_scheme
from .spec import SPEC_VERSION, CropRule, ModelSpec, Normalization

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ModelSpec",
    "Normalization",
    "CropRule",
    "SPEC_VERSION",
    "LandmarkScheme",
    "BUILTIN_SCHEMES",
    "get_scheme",
    "custom_scheme",
    "PipnetEdgeError",
    "SpecError",
    "ModelLoadError",
    "InputError",
    "DataError",
    "ExportError",
]

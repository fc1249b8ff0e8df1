"""PIPNet networks (torch): backbones registered by name, the PIPNet head, weight loaders.

Importing this package imports torch; the runtime never does.
"""

from . import mobilenetv2, mobilenetv3, resnet  # noqa: F401  (register backbones)
from .pipnet import HEAD_NAMES, PIPNet, create_model
from .registry import create_backbone, list_backbones, register_backbone
from .weights import load_imagenet_backbone, load_official_checkpoint, read_official_meanface

__all__ = [
    "PIPNet",
    "HEAD_NAMES",
    "create_model",
    "create_backbone",
    "list_backbones",
    "register_backbone",
    "load_imagenet_backbone",
    "load_official_checkpoint",
    "read_official_meanface",
]

"""Loading weights: torchvision-format ImageNet backbones and official PIPNet checkpoints.

Nothing here unpickles arbitrary objects: ``.pth`` files are read with
``torch.load(weights_only=True)``, which only accepts tensors and plain containers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelLoadError
from ..spec import ModelSpec
from .pipnet import PIPNet, create_model

__all__ = ["load_imagenet_backbone", "load_official_checkpoint", "read_official_meanface", "read_state_dict"]

log = logging.getLogger(__name__)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.pth`` (weights only) or ``.safetensors``."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt / truncated / not a weights file
        raise ModelLoadError(f"cannot read weights from {path}: {exc}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"{path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_imagenet_backbone(model: PIPNet, path: str | Path) -> tuple[int, int]:
    """Copy torchvision-layout ImageNet weights into ``model.backbone``.

    Returns ``(loaded, total)`` tensor counts; tensors with no counterpart (the
    classifier) are skipped. Raises if fewer than 90 % of the backbone's tensors load.
    """
    state = read_state_dict(path)
    own = model.backbone.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(matched) < 0.9 * len(own):
        raise ModelLoadError(
            f"{path} matches only {len(matched)} of {len(own)} tensors of backbone {model.spec.backbone}; "
            "is it the right architecture (torchvision layout)?"
        )
    model.backbone.load_state_dict(matched, strict=False)
    log.info("ImageNet init: %d of %d tensors from %s", len(matched), len(state), path)
    return len(matched), len(state)


def read_official_meanface(path: str | Path) -> np.ndarray:
    """Official PIPNet ``meanface.txt``: one line ``x1 y1 x2 y2 ...`` in the unit square."""
    try:
        values = np.array(Path(path).read_text().split(), dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read mean face {path}: {exc}") from None
    if values.size == 0 or values.size % 2:
        raise ModelLoadError(f"{path} must hold an even number of values (x y pairs), found {values.size}")
    return values.reshape(-1, 2)


def load_official_checkpoint(
    checkpoint: str | Path | dict[str, torch.Tensor],
    meanface: str | Path | np.ndarray,
    *,
    backbone: str,
    scheme: str = "300w-68",
    num_nb: int = 10,
    input_size: int = 256,
    net_stride: int = 32,
) -> PIPNet:
    """Load a ``jhb86253817/PIPNet`` checkpoint (and its ``meanface.txt``) into our network.

    Official keys (``conv1``/``layer*`` for ResNet, ``features.*`` / ``conv.*`` for
    MobileNets, heads ``cls_layer`` ...) map onto ours by prefixing the backbone ones with
    ``backbone.``. The neighbour table is recomputed from the mean face exactly as the
    official ``get_meanface`` does.
    """
    state = checkpoint if isinstance(checkpoint, dict) else read_state_dict(checkpoint)
    mf = meanface if isinstance(meanface, np.ndarray) else read_official_meanface(meanface)
    spec = ModelSpec.create(
        scheme, mf, backbone=backbone, input_size=input_size, net_stride=net_stride, num_nb=num_nb,
        extra={"source": "official PIPNet checkpoint"},
    )
    model = create_model(spec)
    heads = ("cls_layer", "x_layer", "y_layer", "nb_x_layer", "nb_y_layer")
    mapped = {}
    for k, v in state.items():
        if k.split(".")[0] in heads:
            mapped[k] = v
        else:
            mapped["backbone." + k] = v
    own = model.state_dict()
    unexpected = sorted(set(mapped) - set(own))
    # official models keep unused modules (e.g. the classifier); ignore those, but every
    # tensor of ours must be present with the right shape
    missing = sorted(k for k in own if k not in mapped)
    if missing:
        raise ModelLoadError(
            f"checkpoint lacks {len(missing)} tensor(s) of a {backbone} PIPNet, e.g. {missing[:3]}; "
            "check --backbone, num_nb and the landmark count"
        )
    bad = [k for k in own if mapped[k].shape != own[k].shape]
    if bad:
        k = bad[0]
        raise ModelLoadError(f"shape mismatch for {k}: checkpoint {tuple(mapped[k].shape)} vs model {tuple(own[k].shape)}")
    model.load_state_dict({k: mapped[k] for k in own})
    if unexpected:
        log.info("ignored %d checkpoint tensors not used by PIPNet (e.g. %s)", len(unexpected), unexpected[:2])
    return model

"""Model files: weights + ModelSpec in one ``.safetensors`` (no pickle), and resumable training state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import ModelLoadError
from ..spec import ModelSpec
from .pipnet import PIPNet, create_model

__all__ = ["save_model", "load_model", "read_spec", "save_training_state", "load_training_state", "SPEC_KEY"]

SPEC_KEY = "pipnet_edge.spec"


def save_model(model: PIPNet, path: str | Path, dtype: torch.dtype = torch.float32, extra_meta: dict[str, str] | None = None) -> Path:
    """Write weights (``float32`` or compact ``float16``) with the spec as safetensors metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    meta = {SPEC_KEY: model.spec.to_json(), "format": "pipnet-edge/weights"}
    meta.update(extra_meta or {})
    save_file(state, str(path), metadata=meta)
    return path


def read_spec(path: str | Path) -> ModelSpec:
    """The spec stored in a ``.safetensors`` model file or a training-state ``.pt`` file."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
        except Exception as exc:
            raise ModelLoadError(f"cannot read {path}: {exc}") from None
        if SPEC_KEY not in meta:
            raise ModelLoadError(f"{path} carries no pipnet-edge spec (metadata key {SPEC_KEY!r})")
        return ModelSpec.from_json(meta[SPEC_KEY])
    return ModelSpec.from_json(load_training_state(path)["spec"])


def load_model(path: str | Path) -> PIPNet:
    """Load a float model from ``.safetensors`` (weights + spec) or a training-state ``.pt``."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        spec = read_spec(path)
        try:
            state = load_file(str(path))
        except Exception as exc:
            raise ModelLoadError(f"cannot read weights from {path}: {exc}") from None
    else:
        ckpt = load_training_state(path)
        spec = ModelSpec.from_json(ckpt["spec"])
        state = ckpt["model"]
    model = create_model(spec)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except RuntimeError as exc:
        raise ModelLoadError(f"{path}: weights do not fit the {spec.backbone} model its spec describes: {exc}") from None
    return model.eval()


def save_training_state(path: str | Path, **state: Any) -> None:
    """Atomically write a resumable training state (tensors and plain values only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, str(tmp))
    tmp.replace(path)


def load_training_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelLoadError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(ckpt, dict) or "spec" not in ckpt or "model" not in ckpt:
        raise ModelLoadError(f"{path} is not a pipnet-edge training checkpoint")
    return ckpt

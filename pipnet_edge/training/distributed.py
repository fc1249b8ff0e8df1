"""Several processes training one model (``torchrun``): the process group, the device of this process, and which
process is the main one (writes checkpoints and logs)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["is_main", "pick_device", "setup_distributed"]


def is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def setup_distributed(device: torch.device) -> tuple[int, int]:
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", 0))
            return torch.device(f"cuda:{local}")
        return torch.device("cpu")
    return torch.device(name)

"""Backbone registry: name -> constructor returning an ``nn.Module`` with ``out_channels``."""

from __future__ import annotations

from typing import Callable

from torch import nn

from ..errors import SpecError

__all__ = ["register_backbone", "create_backbone", "list_backbones"]

_BACKBONES: dict[str, Callable[..., nn.Module]] = {}


def register_backbone(name: str):
    def deco(fn: Callable[..., nn.Module]):
        _BACKBONES[name] = fn
        return fn

    return deco


def list_backbones() -> list[str]:
    return sorted(_BACKBONES)


def create_backbone(name: str, **kwargs) -> nn.Module:
    if name not in _BACKBONES:
        raise SpecError(f"unknown backbone {name!r}; available: {', '.join(list_backbones())}")
    return _BACKBONES[name](**kwargs)

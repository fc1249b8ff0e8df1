"""Exceptions raised by pipnet-edge. Each message names the problem and what to do about it."""

from __future__ import annotations

__all__ = ["PipnetEdgeError", "SpecError", "ModelLoadError", "InputError", "DataError", "ExportError"]


class PipnetEdgeError(Exception):
    """Base class of every error pipnet-edge raises on purpose."""


class SpecError(PipnetEdgeError, ValueError):
    """A ModelSpec (or a part of it) is missing a field or holds an inconsistent value."""


class ModelLoadError(PipnetEdgeError, RuntimeError):
    """A model file is missing, corrupt, truncated, or lacks pipnet-edge metadata."""


class InputError(PipnetEdgeError, ValueError):
    """An image, box or argument passed to the runtime has the wrong type, shape or value."""


class DataError(PipnetEdgeError, ValueError):
    """A data set folder or annotation file cannot be read."""


class ExportError(PipnetEdgeError, RuntimeError):
    """An export target failed or was asked for with inconsistent arguments."""

"""The package's layers, pinned: the device side imports nothing from the training side.

The device side is what a Raspberry Pi installs and runs: ``pipnet_edge.runtime`` (Landmarker,
backends, detectors, decode, the artifact contract), ``pipnet_edge.assets`` and the model
description modules the artifacts' metadata is made of (spec, schemes, mean face, errors). It
may import numpy, OpenCV and a backend, never torch and never the training side (models, data,
training, quantization, converters, calibration, evaluation, export). The training side may import
the device side (it writes what the device reads).

Checked on the source (every ``import`` statement, also inside functions), so a lazy import
that would only fail on a device cannot slip through.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pipnet_edge"

DEVICE_MODULES = ("runtime", "assets", "spec", "schemes", "meanface", "errors", "__init__")
TRAINING_SIDE = ("models", "data", "training", "quantization", "converters", "calibration", "evaluation", "export",
                 "train", "evaluate", "parity", "metrics", "five_point")
FORBIDDEN_THIRD_PARTY = ("torch", "torchvision", "torchao", "litert_torch", "onnxslim", "nncf")  # tensorflow.lite is a TFLite fallback


def _device_files() -> list[Path]:
    files = []
    for name in DEVICE_MODULES:
        p = PKG / name
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p.with_suffix(".py")]
    return files


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    package = ["pipnet_edge", *path.relative_to(PKG).parent.parts]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x
                    out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
                    continue
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
    return out


def test_device_files_found():
    files = _device_files()
    assert PKG / "runtime" / "landmarker.py" in files and PKG / "spec.py" in files
    assert len(files) > 15


def _violations(imports: list[tuple[int, str]]) -> list[str]:
    bad = []
    for line, mod in imports:
        parts = mod.split(".")
        if parts[0] in FORBIDDEN_THIRD_PARTY or (parts[0] == "pipnet_edge" and len(parts) > 1 and parts[1] in TRAINING_SIDE):
            bad.append(f"line {line}: {mod}")
    return bad


@pytest.mark.parametrize("path", _device_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_device_side_imports_nothing_training_side(path):
    bad = _violations(_imports(path))
    assert not bad, f"{path.relative_to(PKG)} imports the training side / torch: {bad}"


def test_the_rule_catches_a_violation():
    """The checker itself: lazy training-side and torch imports inside a function are found."""
    src = "def f():\n    from ..training.trainer import train\n    import torch\n    from ...data import mtfl\n"
    found = _imports(PKG / "runtime" / "backends" / "probe.py", src)
    assert (2, "pipnet_edge.runtime.training.trainer") in found  # '..' from runtime/backends = pipnet_edge.runtime
    assert (3, "torch") in found and (4, "pipnet_edge.data") in found
    assert _violations(found) == ["line 3: torch", "line 4: pipnet_edge.data"]

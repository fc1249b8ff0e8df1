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


# ---------------------------------------------------------------------------------------------------------------------
# The whole order of layers. Each unit (a subpackage, or a module at the package root) may import only units of a
# lower layer: so no import circle between packages, lazy imports included. A new unit must be placed here.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),                          # the exceptions
    ("schemes", "meanface"),              # landmark schemes, mean faces
    ("spec",),                            # the model spec every artifact carries
    ("__init__",),                        # the package's face: version, spec, schemes
    ("assets",),                          # bundled files: the registry of model cards, the manifest
    ("runtime",),                         # the device side: Landmarker, backends, detectors, decode
    ("metrics",),                         # NME, FR, AUC
    ("five_point",),                      # 68 -> 5 points, five-point NME
    ("data",),                            # annotations, crops, augmentation, datasets, MTFL
    ("models",),                          # torch networks, checkpoints
    ("quantization",),                    # the PT2E quantizer, QAT model, the quantized graph
    ("evaluation",),                      # predictors over any model, the runner, reports
    ("calibration",),                     # calibration sets, point bias, activation ranges, crop rules
    ("converters",),                      # one module per export format, the targets table
    ("training",),                        # the loop, self-training, pseudo-labels
    ("export", "evaluate", "train", "parity"),  # workflows and their CLIs
)
# Code that runs only when a user asks for an old name: a module ``__getattr__`` serving a moved public name, or the
# ``if __name__ == "__main__":`` block forwarding an old ``python -m`` command. Each is a one-release deprecation
# shim; it never runs on import, so it cannot close a circle.
SHIM_SCOPES = ("__getattr__", "__main__")


def _unit(path: Path) -> str:
    rel = path.relative_to(PKG).parts
    return rel[0].removesuffix(".py") if len(rel) == 1 else rel[0]


def _imports_outside_shims(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    source = path.read_text() if source is None else source
    tree = ast.parse(source, str(path))
    shim_lines: set[int] = set()
    for node in tree.body:
        is_getattr = isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
        is_main = isinstance(node, ast.If) and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test)
        if is_getattr or is_main:
            shim_lines.update(range(node.lineno, node.end_lineno + 1))
    return [(line, mod) for line, mod in _imports(path, source) if line not in shim_lines]


def _layer_of() -> dict[str, int]:
    return {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _upward_imports(paths, source: str | None = None) -> list[str]:
    layer = _layer_of()
    bad = []
    for path in paths:
        u = _unit(path)
        for line, mod in _imports_outside_shims(path, source):
            parts = mod.split(".")
            if parts[0] != "pipnet_edge":
                continue
            v = parts[1] if len(parts) > 1 else "__init__"
            v = "__init__" if v in ("__version__",) else v
            if v == u:
                continue
            if v not in layer:
                continue  # a name imported from the package root (from pipnet_edge import x) is checked as __init__
            if layer[v] >= layer[u]:
                bad.append(f"{path.relative_to(PKG)}:{line} ({u}, layer {layer[u]}) imports {mod} ({v}, layer {layer[v]})")
    return bad


def test_every_unit_has_a_layer():
    units = {_unit(p) for p in PKG.rglob("*.py")}
    missing = units - set(_layer_of())
    assert not missing, f"place these in LAYERS (tests/test_layers.py): {sorted(missing)}"


def test_layers_only_import_downwards():
    """No unit imports its own layer or one above, lazy imports and TYPE_CHECKING blocks included."""
    bad = _upward_imports(sorted(PKG.rglob("*.py")))
    assert not bad, "imports against the order of layers:\n" + "\n".join(bad)


def test_no_module_circle_inside_training():
    """The trainer and self-training: self-training drives the trainer, never the other way round (the distributed
    helpers have their own module)."""
    training = PKG / "training"
    edges = {}
    for path in training.glob("*.py"):
        mods = {m for _, m in _imports_outside_shims(path) if m.startswith("pipnet_edge.training.")}
        edges[path.stem] = {m.split(".")[2] for m in mods}
    assert "self_training" not in edges["trainer"] and "trainer" in edges["self_training"]
    assert "distributed" in edges["trainer"] and "distributed" in edges["self_training"]
    for name, deps in edges.items():
        for dep in deps:
            assert name not in edges.get(dep, set()), f"training.{name} and training.{dep} import each other"


def test_the_layer_rule_catches_an_upward_import():
    """The checker itself: a lazy upward import is found; the same import in a deprecation shim is not."""
    probe = PKG / "quantization" / "_layer_probe.py"
    src = ("def f():\n    from ..calibration import CalibrationSet\n\n\n"
           "def __getattr__(name):\n    from ..calibration import point_bias\n\n\n"
           "if __name__ == '__main__':\n    from ..evaluation import open_predictor\n")
    bad = _upward_imports([probe], src)
    assert len(bad) == 1 and "quantization/_layer_probe.py:2" in bad[0] and "calibration" in bad[0]


def test_old_names_still_work_with_a_warning():
    """Public names that moved keep working for one release."""
    import importlib

    with pytest.warns(FutureWarning, match="calibration.activation_ranges"):
        from pipnet_edge.quantization.ranges import reestimate_checkpoint
    assert reestimate_checkpoint is importlib.import_module("pipnet_edge.calibration.activation_ranges").reestimate_checkpoint
    with pytest.warns(FutureWarning, match="pipnet_edge.training.train"):
        from pipnet_edge.training.trainer import train
    from pipnet_edge.training import train as new_train

    assert train is new_train

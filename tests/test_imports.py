"""The runtime is torch-free: a device installs numpy, OpenCV and one backend."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.torch_free  # runs without torch: the aarch64 stage selects it (-m torch_free)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_runtime_import_does_not_import_torch():
    r = _run(
        """
        import sys
        import pipnet_edge, pipnet_edge.runtime, pipnet_edge.runtime.decode, pipnet_edge.runtime.geometry
        import pipnet_edge.metrics, pipnet_edge.spec
        heavy = [m for m in ("torch", "tensorflow", "onnx", "openvino", "onnxruntime") if m in sys.modules]
        print("HEAVY", heavy)
        """
    )
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stdout, r.stdout


def test_runtime_works_with_torch_blocked():
    r = _run(
        """
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("torch", "torchvision", "torchao"):
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        import numpy as np
        from pipnet_edge import ModelSpec
        from pipnet_edge.runtime import decode, DecodeTables
        spec = ModelSpec.create("300w-68", np.random.default_rng(0).uniform(size=(68, 2)))
        z = np.zeros((1, 8, 8, 68), np.float32); nb = np.zeros((1, 8, 8, 680), np.float32)
        pts, _ = decode(dict(score=z, offset_x=z, offset_y=z, nb_x=nb, nb_y=nb), DecodeTables.from_spec(spec))
        print("OK", pts.shape)
        """
    )
    assert r.returncode == 0, r.stderr
    assert "OK (1, 68, 2)" in r.stdout

"""A Landmarker from model bytes (an Android asset, a zip member, a decrypted bundle): the format is
recognised from the content, the points are the file's, and bad content gets a clear error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipnet_edge.assets import ASSETS_DIR, BUNDLED_MODELS
from pipnet_edge.errors import InputError, ModelLoadError
from pipnet_edge.runtime import Landmarker, read_artifact_info
from pipnet_edge.runtime.artifact import FORMATS, format_of_content

ROOT = Path(__file__).resolve().parents[1]
YUNET = ASSETS_DIR / "detectors" / "yunet" / "face_detection_yunet_2023mar.onnx"


def _bundled(name: str) -> Path:
    path = ASSETS_DIR / BUNDLED_MODELS[name]
    if not path.exists():
        pytest.skip(f"the bundled {name!r} model is not in this checkout")
    return path


@pytest.fixture(scope="module")
def face_bgr() -> np.ndarray:
    import cv2

    image = cv2.imread(str(ROOT / "docs" / "grace_hopper.jpg"))
    assert image is not None
    return image


# ---------------------------------------------------------------------------- TFLite (bundled)
@pytest.mark.parametrize("name", ["default", "lite"])
def test_bundled_tflite_from_bytes_gives_the_files_points(name, face_bgr):
    path = _bundled(name)
    from_file = Landmarker(path, num_threads=1).detect(face_bgr, color_order="BGR")
    lm = Landmarker(path.read_bytes(), num_threads=1)
    from_bytes = lm.detect(face_bgr, color_order="BGR")
    assert len(from_file) == 1 and len(from_bytes) == 1
    np.testing.assert_array_equal(from_bytes.points, from_file.points)
    np.testing.assert_array_equal(from_bytes[0].point_scores, from_file[0].point_scores)
    size = path.stat().st_size
    assert lm.name == f"<bytes {size} B, tflite> [tflite]"
    assert f"<bytes {size} B, tflite>" in repr(lm) and lm.info.precision == "int8"


def test_bytearray_and_memoryview_work_like_bytes(face_bgr):
    path = _bundled("lite")
    data = path.read_bytes()
    box = [[180, 60, 340, 260]]
    ref = Landmarker(path, detector=None).detect(face_bgr, box, color_order="BGR").points
    buf = bytearray(data)
    lm = Landmarker(buf, detector=None)
    buf[:] = b"\0" * len(buf)  # the Landmarker holds its own copy of mutable content
    np.testing.assert_array_equal(lm.detect(face_bgr, box, color_order="BGR").points, ref)
    lm = Landmarker(memoryview(data), detector=None, backend="tflite")
    np.testing.assert_array_equal(lm.detect(face_bgr, box, color_order="BGR").points, ref)


def test_metadata_is_read_from_bytes():
    path = _bundled("lite")
    from_file, from_bytes = read_artifact_info(path), read_artifact_info(path.read_bytes())
    assert from_bytes.spec.to_dict() == from_file.spec.to_dict() and from_bytes.export == from_file.export
    assert format_of_content(path.read_bytes()) is FORMATS["tflite"]


# ---------------------------------------------------------------------------- errors
def test_empty_and_unknown_bytes_are_clear_errors():
    with pytest.raises(ModelLoadError, match="model bytes are empty"):
        Landmarker(b"")
    with pytest.raises(ModelLoadError, match="model bytes are empty"):
        read_artifact_info(bytearray())
    with pytest.raises(ModelLoadError, match=r"neither a TFLite model .* nor an ONNX model.*encrypted"):
        Landmarker(b"PK\x03\x04 a zip file, not a model" * 4)
    with pytest.raises(ModelLoadError, match="pass its path"):
        Landmarker(str(ROOT / "docs" / "grace_hopper.jpg").encode())  # a path as bytes is content, not a path
    with pytest.raises(InputError, match="model must be a path"):
        Landmarker(12345)


def test_corrupt_bytes_are_clear_errors():
    data = _bundled("lite").read_bytes()
    with pytest.raises(ModelLoadError, match="model bytes: not a valid TFLite flatbuffer"):
        Landmarker(data[:4096])
    onnx = YUNET.read_bytes()
    with pytest.raises(ModelLoadError, match="model bytes are not a loadable ONNX model"):
        Landmarker(onnx[:4096])


def test_onnx_without_pipnet_metadata_from_bytes():
    pytest.importorskip("onnxruntime")
    data = YUNET.read_bytes()
    assert format_of_content(data) is FORMATS["onnx"]
    with pytest.raises(ModelLoadError, match=r"model bytes carry no pipnet-edge metadata .*pipnet_edge\.export"):
        Landmarker(data)


def test_openvino_xml_bytes_alone_and_bad_pairs():
    xml = b'<?xml version="1.0"?>\n<net name="m" version="11"><layers/></net>\n'
    with pytest.raises(ModelLoadError, match=r"needs its weights \(\.bin\) too: pass the \.xml path.*xml_bytes, bin_bytes"):
        Landmarker(xml)
    with pytest.raises(ModelLoadError, match="OpenVINO IR content, \\(xml_bytes, bin_bytes\\); got \\(str, str\\)"):
        Landmarker(("model.xml", "model.bin"))
    with pytest.raises(ModelLoadError, match="first item is not OpenVINO IR"):
        Landmarker((_bundled("lite").read_bytes(), b"\0"))
    with pytest.raises(ModelLoadError, match="model bytes carry no pipnet-edge metadata"):
        read_artifact_info((xml, b""))


def test_a_backend_that_does_not_run_the_content():
    data = _bundled("lite").read_bytes()
    for backend in ("opencv", "onnxruntime", "openvino"):
        with pytest.raises(ModelLoadError, match=f"backend '{backend}' runs .* files, not TFLite flatbuffer model bytes"):
            Landmarker(data, backend=backend)
    with pytest.raises(ModelLoadError, match="unknown backend 'nope'"):
        Landmarker(data, backend="nope")


def test_bytes_load_without_torch():
    """The runtime stays torch-free when it loads model bytes."""
    path = _bundled("lite")
    code = f"""
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("torch", "torchvision", "torchao"):
                    raise ImportError(f"blocked: {{name}}")
        sys.meta_path.insert(0, Block())
        import numpy as np
        from pipnet_edge.runtime import Landmarker
        lm = Landmarker(open({str(path)!r}, "rb").read(), detector=None)
        pts = lm.detect(np.zeros((120, 120, 3), np.uint8), [[10, 10, 110, 110]]).points
        print("OK", lm.name.split(" [")[1], pts.shape, "torch" in sys.modules)
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert "OK tflite] (1, 68, 2) False" in r.stdout, r.stdout


# ---------------------------------------------------------------------------- ONNX and OpenVINO IR (tiny exports)
@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tiny import tiny_model

    from pipnet_edge.export import export

    torch.set_num_threads(1)
    targets = ["onnx"]
    try:
        import openvino  # noqa: F401

        targets.append("openvino")
    except ImportError:
        pass
    records = export(tiny_model(input_size=64), targets, tmp_path_factory.mktemp("bytes"), name="tiny", data="none")
    return {r.target: Path(r.path) for r in records}


def _photo():
    import cv2

    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (0, 0), 3)


BOXES = np.array([[30, 20, 90, 95], [100, 40, 150, 110]], float)


@pytest.mark.parametrize("backend", ["auto", "onnxruntime", "opencv"])
def test_onnx_from_bytes_gives_the_files_points(tiny_artifacts, backend):
    path = tiny_artifacts["onnx"]
    img = _photo()
    ref = Landmarker(path, backend=backend, detector=None).detect(img, BOXES).points
    lm = Landmarker(path.read_bytes(), backend=backend, detector=None)
    np.testing.assert_array_equal(lm.detect(img, BOXES).points, ref)
    expected = "onnxruntime" if backend == "auto" else backend
    assert lm.name == f"<bytes {path.stat().st_size} B, onnx> [{expected}]"
    assert read_artifact_info(path.read_bytes()).spec.to_dict() == read_artifact_info(path).spec.to_dict()


def test_truncated_onnx_bytes_for_each_onnx_backend(tiny_artifacts):
    data = tiny_artifacts["onnx"].read_bytes()
    assert format_of_content(data[:1000]) is FORMATS["onnx"]  # still sniffed as ONNX; loading it fails clearly
    with pytest.raises(ModelLoadError, match="model bytes are not a loadable ONNX model"):
        Landmarker(data[:1000], backend="opencv")
    with pytest.raises(ModelLoadError, match="backend 'tflite' runs .tflite files, not ONNX model bytes"):
        Landmarker(data, backend="tflite")


def test_openvino_ir_from_an_xml_bin_pair(tiny_artifacts):
    if "openvino" not in tiny_artifacts:
        pytest.skip("openvino is not installed")
    xml = tiny_artifacts["openvino"]
    img = _photo()
    ref = Landmarker(xml, detector=None).detect(img, BOXES).points
    pair = (xml.read_bytes(), xml.with_suffix(".bin").read_bytes())
    lm = Landmarker(pair, detector=None)
    np.testing.assert_array_equal(lm.detect(img, BOXES).points, ref)
    assert lm.name == f"<bytes {len(pair[0]) + len(pair[1])} B, openvino> [openvino]"
    assert read_artifact_info(pair).spec.to_dict() == read_artifact_info(xml).spec.to_dict()
    with pytest.raises(ModelLoadError, match="needs its weights"):
        Landmarker(pair[0])

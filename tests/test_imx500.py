"""The ``imx500`` export target (Sony IMX500, the Raspberry Pi AI Camera): its row in the targets table, the message
that names what is missing (always tested), the converter's memory report, and with the tools installed
(``scripts/setup_imx500.sh``: ``.venv-mct``, ``.venv-imxconv``, Java 17) a real export of a small random network:
``packerOut.zip``, ``fits_in_chip``, the sidecar the Pi side reads, the accuracy check through MCT's simulation, and
the converter's own account of the output tensors (order and layout) that ``pipnet_edge.runtime.imx500`` relies on.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from pipnet_edge.converters import imx500
from pipnet_edge.converters.imx500 import ReplayBackend, find_imx500_tools, read_memory_report
from pipnet_edge.converters.targets import TARGET_GROUPS, TARGETS
from pipnet_edge.errors import ExportError
from pipnet_edge.export import export, main
from pipnet_edge.runtime import Landmarker
from pipnet_edge.runtime.artifact import HEAD_NAMES, ArtifactInfo

needs_tools = pytest.mark.skipif(
    find_imx500_tools() is None,
    reason="Sony's IMX500 tools are not installed (scripts/setup_imx500.sh: .venv-mct, .venv-imxconv; Java 17)")


def test_the_target_row():
    t = TARGETS["imx500"]
    assert (t.group, t.format, t.precision, t.io_dtypes) == ("imx500", "imx500", "int8", ("uint8",))
    assert t.vendor_quantized and not t.pt2e and t.requires == ()  # nothing of Sony's is imported here
    assert "imx500" not in TARGET_GROUPS["all"] and "imx500" not in TARGET_GROUPS  # selected by its own name
    assert t.file_name("pipnet_lite_300w68", "uint8") == "pipnet_lite_300w68_imx500.zip"


def test_missing_tools_are_named_with_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PIPNET_EDGE_MCT_VENV", str(tmp_path / "no-mct"))
    monkeypatch.setenv("PIPNET_EDGE_IMXCONV_VENV", str(tmp_path / "no-imxconv"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no java
    out = tmp_path / "out"
    with pytest.raises(ExportError) as err:
        export("lite", "imx500", out)
    msg = str(err.value)
    assert "Model Compression Toolkit: no virtual environment at" in msg and str(tmp_path / "no-mct") in msg
    assert "no imxconv-pt at" in msg and "imx500-converter[pt] 3.19.2" in msg
    assert "Java 17 runtime on PATH" in msg and "openjdk-17-jre-headless" in msg
    assert "install them with: scripts/setup_imx500.sh" in msg
    assert not out.exists()  # checked before any work
    assert main(["--target", "imx500", "--model", "lite", "--out", str(out)]) == 2
    assert "scripts/setup_imx500.sh" in capsys.readouterr().err


def test_calibration_faces_are_required(tmp_path, monkeypatch):
    import dataclasses

    monkeypatch.setitem(TARGETS, "imx500", dataclasses.replace(TARGETS["imx500"], tool_check=None))  # tools or not
    monkeypatch.setenv("PIPNET_EDGE_SHARED", str(tmp_path / "no-shared"))  # no training faces to default to
    with pytest.raises(ExportError, match="imx500 quantizes the float model with MCT on calibration faces: pass --calib"):
        export("lite", "imx500", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_broken_mct_venv_is_reported(tmp_path, monkeypatch):
    bin_dir = tmp_path / "mct" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\necho '{\"ok\": false, \"error\": \"No module named model_compression_toolkit\"}'\n")
    (bin_dir / "python").chmod(0o755)
    monkeypatch.setenv("PIPNET_EDGE_MCT_VENV", str(tmp_path / "mct"))
    missing, tools = imx500.missing_imx500_tools()
    assert tools is None
    assert any("does not import: No module named model_compression_toolkit" in m for m in missing)


def test_memory_report_in_bytes_and_in_the_converters_default_units(tmp_path):
    rep = {"Memory Report": {"Name": "m", "Runtime Memory Physical Size": "436320B", "Model Memory Physical Size": "1183520B",
                             "Reserved Memory": "1024B", "Memory Usage": "1620864B", "Total Memory Available On Chip": "8388480B",
                             "Memory Utilization": "20%", "Fit In Chip": True, "Input Persistent": True}}
    (tmp_path / "m_MemoryReport.json").write_text(json.dumps(rep))
    got = read_memory_report(tmp_path)
    assert got["fits_in_chip"] is True and got["memory_bytes"] == 1620864 and got["chip_memory_bytes"] == 8388480
    assert got["memory_utilization_percent"] == 20.0 and got["memory_report_file"] == "m_MemoryReport.json"
    rep["Memory Report"].update({"Memory Usage": "6.41MB", "Runtime Memory Physical Size": "426.09KB", "Fit In Chip": False})
    (tmp_path / "m_MemoryReport.json").write_text(json.dumps(rep))
    got = read_memory_report(tmp_path)
    assert got["fits_in_chip"] is False and got["memory_bytes"] == round(6.41 * 2**20)
    assert got["runtime_memory_bytes"] == round(426.09 * 1024)
    assert read_memory_report(tmp_path / "nothing")["fits_in_chip"] is None


def test_replayed_heads_go_through_the_one_decode():
    from pipnet_edge.assets.registry import CARDS
    from pipnet_edge.runtime.artifact import read_artifact_info

    info = read_artifact_info(CARDS["lite"].path())
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (3, 112, 112, 3), dtype=np.uint8)
    with Landmarker("lite", detector=None) as lm:
        heads = lm.backend.run(crops)
        want = lm.predict_crops(crops).points
    replay = Landmarker.from_backend(ReplayBackend(crops, heads, Path("sim"), ArtifactInfo(info.spec, {})), detector=None)
    np.testing.assert_array_equal(replay.predict_crops(crops[::-1]).points, want[::-1])  # looked up by content
    with pytest.raises(ExportError, match="not run on this crop"):
        replay.predict_crops(crops[:1] // 2)


# --------------------------------------------------------------------------- with Sony's tools
@needs_tools
@pytest.mark.slow
def test_export_with_the_tools(tmp_path):
    """A random PIPNet on the lite model's backbone with 128 channels, at 64 px (4 x 4 maps): MCT, imxconv-pt, the record, the sidecar, the check through
    MCT's simulation, and dnnParams.xml's outputs: our five heads in HEAD_NAMES order, each (C, H, W), C serialised
    first (serialisation order = ordinal: Picamera2's get_outputs returns them in the shapes and order decoded)."""
    from conftest import make_synthetic_faces
    from tiny import tiny_model

    from pipnet_edge.runtime.imx500 import Imx500Landmarker

    model = tiny_model(input_size=64, num_nb=4, backbone="mobilenet_v2_s16_c128", net_stride=16)
    faces = make_synthetic_faces(tmp_path / "faces", count=16)
    (rec,) = export(model, "imx500", tmp_path / "out", calib=faces, calib_count=16, name="tiny")
    folder = tmp_path / "out" / "tiny_imx500"
    assert rec.path == folder / "packerOut.zip" and rec.path.is_file()
    assert (folder / "tiny_imx500.onnx").is_file() and (folder / "tiny_imx500_MemoryReport.json").is_file()
    rep = rec.compiler_report
    assert rep["fits_in_chip"] is True and 0 < rep["memory_bytes"] < rep["chip_memory_bytes"] == 8 * 2**20 - 128
    assert rec.quantization["method"] == "mct-ptq" and rec.quantization["calibration"]["count"] == 16
    assert rec.size_bytes == rec.path.stat().st_size + (folder / "pipnet_edge.json").stat().st_size
    s = rec.summary
    assert s["check"].startswith("no labels") and "argmax_agreement" in s  # MCT's simulation, on the check set
    d = json.loads(json.dumps(rec.to_dict()))
    assert d["compiler_report"]["fits_in_chip"] is True

    lm = Imx500Landmarker(rec.path)  # the Pi side reads the sidecar beside packerOut.zip
    assert lm.spec.input_size == 64 and lm.output_names == HEAD_NAMES

    layers = {"cls_layer": "score", "x_layer": "offset_x", "y_layer": "offset_y", "nb_x_layer": "nb_x", "nb_y_layer": "nb_y"}
    tensors = ET.parse(folder / "dnnParams.xml").getroot().iter("outputTensor")
    order = {}
    for t in tensors:
        head = next(h for layer, h in layers.items() if f"/{layer}/" in t.get("name"))
        order[int(t.get("ordinal"))] = head
        dims = sorted(t.iter("dimension"), key=lambda e: int(e.get("ordinal")))
        ch = 68 if head in ("score", "offset_x", "offset_y") else 68 * 4
        assert [int(e.get("size")) for e in dims] == [ch, 4, 4]
        assert [int(e.get("serializationOrder")) for e in dims] == [0, 1, 2]
    assert tuple(order[i] for i in range(5)) == HEAD_NAMES

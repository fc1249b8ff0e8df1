"""The bundled check set and the accuracy check that needs no labels (``export`` without ``--data``)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from pipnet_edge.calibration.check_set import CHECK_SET_PATH, CHECK_SET_SHA256, load_check_set

ROOT = Path(__file__).resolve().parents[1]
PINNED_SHA256 = "52364e65e752fb1354c7d472ace816742bd9b5e3af9a640ed69d7157b685d848"
PORTRAITS = ("docs/grace_hopper.jpg", "docs/astronaut.png")  # public domain (docs/IMAGES.md)


def _generator():
    spec = importlib.util.spec_from_file_location("make_check_set", ROOT / "scripts" / "make_check_set.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- the data
def test_check_set_is_small_pinned_and_made_of_the_docs_portraits_only():
    data = CHECK_SET_PATH.read_bytes()
    assert len(data) <= 1_000_000
    assert hashlib.sha256(data).hexdigest() == PINNED_SHA256 == CHECK_SET_SHA256
    check = load_check_set()
    assert len(check) >= 64 and tuple(check.names) == PORTRAITS
    assert (ROOT / "pipnet_edge" / "assets" / "check_set" / "README.md").is_file()  # sources and licences
    import cv2

    # every stored pixel is the docs photo's own, at the recorded place: nothing from ../shared, no other image
    for patch, source in zip(check.patches, check.info["sources"]):
        photo = cv2.cvtColor(cv2.imread(str(ROOT / source["file"])), cv2.COLOR_BGR2RGB)
        x0, y0, x1, y1 = source["patch"]
        assert np.array_equal(patch, photo[y0:y1, x0:x1]), source["file"]
        assert "public domain" in source["licence"]
    # and the generator reads those two files of docs/ and nothing else
    gen = _generator()
    assert tuple(f"docs/{name}" for name, _ in gen.SOURCES) == PORTRAITS and gen.DOCS == ROOT / "docs"
    import ast

    tree = ast.parse((ROOT / "scripts" / "make_check_set.py").read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.FunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    strings = [n.value.lower() for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
               and id(n) not in docstrings]
    assert not [t for t in strings if any(w in t for w in ("shared", "300w", "mtfl", "helen", "lfpw", "afw", "ibug"))]
    reads = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "imread"]
    assert [ast.unparse(n.args[0]) for n in reads] == ["str(path)"]  # path = DOCS / file, file from SOURCES


def test_the_generator_rebuilds_the_bundled_file():
    """Seeded, through the bundled detector and the runtime's crop rule: the same recipes and patches again."""
    arrays, info = _generator().build()
    with np.load(CHECK_SET_PATH) as z:
        assert sorted(z.files) == sorted(arrays)
        assert json.loads(str(z["info"]))["seed"] == info["seed"]
        for k in arrays:
            if k == "region":  # the detector's boxes may differ in the last digits between YuNet's two backends
                np.testing.assert_allclose(z[k], arrays[k], atol=0.05)
            elif k != "info":
                np.testing.assert_array_equal(z[k], arrays[k], err_msg=k)


def test_crops_at_any_input_size_are_the_runtimes_crops():
    from pipnet_edge.runtime.preprocess import crop_regions

    check = load_check_set()
    small, large = check.crops(112), check.crops(256)
    assert small.shape == (len(check), 112, 112, 3) and large.shape == (len(check), 256, 256, 3)
    assert small.dtype == large.dtype == np.uint8
    assert len({c.tobytes() for c in small}) == len(check)  # every recipe gives another crop
    # a recipe without blur or lighting is exactly the runtime's crop of its region
    plain = np.flatnonzero((check.blur == 0) & (check.gamma == 1) & (check.gain == 1).all(1) & (check.shade == 0).all(1))
    assert len(plain) >= 4  # at least the detector's own crop of each face
    for k in plain[:3]:
        img = check.patches[check.source[k]]
        img = np.ascontiguousarray(img[:, ::-1]) if check.flip[k] else img
        assert np.array_equal(large[k], crop_regions(img, check.region[k][None], 256)[0][0])
    # the same face at both sizes: the small crop is the large one, resampled (not another region)
    import cv2

    for k in (0, len(check) - 1):
        resampled = cv2.resize(large[k], (112, 112), interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(resampled - small[k]).mean() < 6


def test_a_modified_bundled_file_is_refused(tmp_path, monkeypatch):
    import pipnet_edge.calibration.check_set as cs
    from pipnet_edge.errors import DataError

    bad = tmp_path / "check_set.npz"
    data = bytearray(CHECK_SET_PATH.read_bytes())
    data[-100] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(cs, "CHECK_SET_PATH", bad)
    with pytest.raises(DataError, match="pinned SHA-256"):
        cs.load_check_set()


# ---------------------------------------------------------------------------- export without labels
@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("torch")
    from tiny import tiny_model

    return tiny_model()


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    from pipnet_edge.export import export

    out = tmp_path_factory.mktemp("check")
    records = export(tiny, ["onnx", "openvino-fp16"], out, name="t", json_path=out / "export.json")
    return out, records


def test_export_without_data_checks_every_artifact_against_the_float_model(exported):
    from pipnet_edge.export import records_markdown

    out, records = exported
    onnx, fp16 = records
    for r in records:
        s = r.summary
        assert s["check"] == "no labels: the bundled check set" and s["reference"] == "float model"
        assert s["faces"] == len(load_check_set()) and s["input_size"] == 64 and s["labels"] is False
        for key in ("displacement_mean_px", "displacement_max_px", "nme_vs_reference", "nme_vs_reference_max",
                    "argmax_agreement"):
            assert np.isfinite(s[key]), key
    assert onnx.summary["displacement_max_px"] < 1e-3 and onnx.summary["nme_vs_reference"] < 1e-3
    assert onnx.summary["argmax_agreement"] == 1.0 and onnx.summary["within_tolerance"]
    assert 0 < fp16.summary["displacement_mean_px"] < 0.5  # float16 weights move points a little; the check sees it
    # the JSON record carries the same figures
    doc = json.loads((out / "export.json").read_text())
    assert [d["summary"] for d in doc["records"]] == [json.loads(json.dumps(r.summary)) for r in records]
    # the report a person reads says which data and which reference
    report = (out / "reports" / "t_onnx.md").read_text()
    assert "the bundled check set (docs/grace_hopper.jpg, docs/astronaut.png" in report and "No labels" in report
    assert "px of the 64-px input" in report
    # the printed table
    table = records_markdown(records)
    assert "| displacement mean px | displacement max px | argmax agreement % | NME vs float % |" in table
    assert "displacement in pixels of the 64-px model input" in table
    row = next(line for line in table.splitlines() if line.startswith("| onnx |"))
    assert "| 0.000 | 0.00 | 100.0 | 0.000 |" in row


def test_the_cli_prints_the_check_without_data(tiny, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from pipnet_edge.export import main
    from pipnet_edge.models.checkpoint import save_model

    weights = save_model(tiny, tmp_path / "tiny.safetensors")
    assert main(["--weights", str(weights), "--target", "onnx", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "Accuracy check against the float model: 96 crops of the bundled check set" in printed
    assert "| onnx | tiny_onnx.onnx |" in printed and "NME vs float %" in printed
    assert main(["--weights", str(weights), "--target", "onnx", "--out", str(tmp_path / "none"), "--data", "none"]) == 0
    assert "NME vs float" not in capsys.readouterr().out and not (tmp_path / "none" / "reports").exists()


class _Shifted:
    """A predictor whose points are ``px`` pixels (of its input) to the right of its inner predictor's."""

    def __init__(self, inner, px: float) -> None:
        self.inner, self.px = inner, px
        self.spec, self.name = inner.spec, f"{inner.name} shifted {px} px"

    def predict_crops(self, crops, **kw):
        out = self.inner.predict_crops(crops, **kw)
        points = out.points.copy()
        points[..., 0] += self.px / self.spec.input_size
        return dataclasses.replace(out, points=points)


def test_a_displaced_artifact_is_caught(tiny, tmp_path, monkeypatch, caplog):
    """Against a reference shifted by 2 px the float ONNX file is 2 px off at every point: flagged, warned, marked."""
    pytest.importorskip("onnxruntime")
    from pipnet_edge.evaluation import predictors
    from pipnet_edge.export import export, records_markdown

    torch_predictor = predictors.torch_predictor
    monkeypatch.setattr(predictors, "torch_predictor", lambda *a, **k: _Shifted(torch_predictor(*a, **k), 2.0))
    caplog.set_level(logging.WARNING, logger="pipnet_edge")
    (rec,) = export(tiny, "onnx", tmp_path, name="t")
    s = rec.summary
    assert s["displacement_mean_px"] == pytest.approx(2.0, abs=1e-3) and s["displacement_max_px"] == pytest.approx(2.0, abs=1e-3)
    assert s["nme_vs_reference"] > s["tolerance_nme_vs_reference"] and not s["within_tolerance"]
    assert any("onnx" in m and "from the float model's points" in m for m in caplog.messages), caplog.messages
    assert "CHECK" in next(line for line in records_markdown([rec]).splitlines() if line.startswith("| onnx |"))


def test_a_qat_only_export_is_checked_against_the_qat_model(exported, tiny, tmp_path):
    """INT8 targets from a QAT model alone: the reference is that QAT model (fake-quantized, torch); the table says so.
    (The tiny float model stands in for the QAT model here: the same predictor path, without the cost of preparing
    one.)"""
    from pipnet_edge.export import _check_set_summary, records_markdown

    _, records = exported
    (rec,) = _check_set_summary([dataclasses.replace(records[0], summary=None)], None, tiny, tmp_path)
    assert rec.summary["reference"] == "QAT model (fake-quantized, torch)"
    assert rec.summary["displacement_max_px"] < 1e-3
    table = records_markdown([rec])
    assert table.startswith("Accuracy check against the QAT model (fake-quantized, torch): 96 crops")
    assert "| NME vs QAT % |" in table
    assert "vs QAT model (fake-quantized, torch)" in (tmp_path / "reports" / "t_onnx.md").read_text()

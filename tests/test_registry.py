"""The model registry: cards, the one resolver of names, deprecated names, and the README table made from the cards.

The cards' 300W figures are measured again here on the bundled INT8 files (skipped without the 300W test faces):
a card that no longer describes its file fails.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from pipnet_edge.assets import ASSETS_DIR, BUNDLED_MODELS, bundled_model_path
from pipnet_edge.assets.registry import (CARDS, ROLES, get_card, model_names, render_models_table, resolve_model)
from pipnet_edge.errors import ModelLoadError

torch_free = pytest.mark.torch_free

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PIPNET_EDGE_SHARED", ROOT.parent / "shared"))


@torch_free
def test_names_say_what_the_file_is():
    assert model_names() == ["default", "default-int8", "default-fp16", "default-qat",
                             "lite", "lite-int8", "lite-fp16", "lite-qat"]
    for name in model_names():
        path = resolve_model(name).path
        role = resolve_model(name).role
        assert path.name == get_card(name.split("-")[0]).files[role]
        assert {"int8": ".tflite", "fp16": ".safetensors", "qat": ".safetensors"}[role] == path.suffix
    assert resolve_model("lite").path == resolve_model("lite-int8").path
    assert "_fp16." in resolve_model("default-fp16").path.name and "_qat." in resolve_model("default-qat").path.name


@torch_free
def test_the_old_float_names_resolve_with_a_warning():
    with pytest.warns(FutureWarning, match="'default-float' is deprecated.*'default-fp16'"):
        assert resolve_model("default-float").path == resolve_model("default-fp16").path
    with pytest.warns(FutureWarning, match="BUNDLED is deprecated"):
        from pipnet_edge.assets import BUNDLED  # noqa: F401
    assert BUNDLED_MODELS["lite-float"] == BUNDLED_MODELS["lite-fp16"]


@torch_free
def test_one_resolver_for_runtime_evaluation_and_export():
    """The runtime refuses torch weights by name with the name to use; unknown names and missing files are
    ModelLoadError naming the choices."""
    with pytest.raises(ModelLoadError, match="use 'lite' or 'lite-int8'"):
        resolve_model("lite-qat", roles=("int8",))
    with pytest.raises(ModelLoadError, match="bundled models: default, default-int8"):
        resolve_model("medium")
    with pytest.raises(ModelLoadError, match="unknown bundled model 'medium'; bundled: default, lite"):
        get_card("medium")
    with pytest.raises(ModelLoadError, match="unknown bundled model"):
        bundled_model_path("medium")
    assert resolve_model(None).card is CARDS["default"] and resolve_model(None).role == "int8"
    assert resolve_model(str(bundled_model_path("lite"))).card is None  # a path is a path


@torch_free
def test_card_files_are_the_manifest_and_specs_agree():
    """Every card file is listed in SHA256SUMS, and the card's input size / stride / num_nb are the INT8 file's own."""
    from pipnet_edge.runtime.artifact import read_artifact_info

    for card in CARDS.values():
        assert set(card.files) == set(ROLES)
        for role in card.files:
            assert len(card.sha256(role)) == 64
        spec = read_artifact_info(card.path("int8")).spec
        assert (spec.input_size, spec.net_stride, spec.num_nb) == (card.input_size, card.stride, card.num_nb)
        assert card.recipe and (ROOT / card.recipe).is_file()
        doc, _, anchor = card.card.partition("#")
        assert (ROOT / doc).is_file() and anchor
        for fig in card.figures:
            assert fig.command.startswith("python -m ") and fig.data


@torch_free
def test_a_corrupted_card_file_is_refused(tmp_path, monkeypatch):
    import pipnet_edge.assets as assets
    from pipnet_edge.assets import registry

    bad = tmp_path / CARDS["lite"].files["int8"]
    data = bytearray((ASSETS_DIR / CARDS["lite"].files["int8"]).read_bytes())
    data[len(data) // 2] ^= 1
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(registry, "ASSETS_DIR", tmp_path)
    monkeypatch.setattr(assets, "ASSETS_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match="corrupted"):
        resolve_model("lite")


@torch_free
def test_the_readme_table_is_rendered_from_the_cards():
    readme = (ROOT / "README.md").read_text()
    assert render_models_table() in readme, "README's model table differs from render_models_table(); paste it again"


@pytest.mark.skipif(not (SHARED / "data/300w/test").is_dir(), reason="300W test faces not in ../shared (set PIPNET_EDGE_SHARED)")
@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_nme_is_measured_again(name):
    """The card's INT8 NME on the 554 test faces, as its command measures it, to the printed precision."""
    from pipnet_edge.data.annotations import load_faces
    from pipnet_edge.evaluation import open_predictor, predict_faces
    from pipnet_edge.metrics import summarize

    card = CARDS[name]
    predictor = open_predictor(name)
    preds = predict_faces(predictor, load_faces(SHARED / "data/300w/test"))
    nme = summarize(preds.points, preds.truth, predictor.spec.scheme).nme
    assert abs(nme - card.figure("NME % INT8").value) < 0.0015, f"{name}: measured {nme:.4f} %, card says {card.figure('NME % INT8').value}"
